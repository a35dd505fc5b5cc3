#pragma once
// Fleet-wide admin actions (docs/fleet.md "Fleet-wide drain"): an operator's drain or disable
// kept in etcd, under `<fleet_prefix>admin/<cluster>/<server>` with the value "drain" or
// "disable", which every instance watching applies to its own copy of the server; deleting the
// key (or `ballast fleet enable`) gives the server back. A value other than those two is
// ignored (and logged), so a typo drains nothing.
//
// Threading: as PrefixMirror; `apply` is called on the mirror's thread with every action now in
// force.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "config/config.h"
#include "discovery/prefix_mirror.h"
#include "discovery/source_status.h"

namespace ballast::discovery {

enum class FleetAction : uint8_t { drain, disable };

// (cluster, server "host:port") -> the action in force.
using FleetActions = std::map<std::pair<std::string, std::string>, FleetAction>;

// The key a fleet action on `server` of `cluster` is kept under.
std::string fleet_action_key(const std::string& fleet_prefix, const std::string& cluster,
                             const std::string& server);

class FleetAdmin {
 public:
  using Apply = std::function<void(const FleetActions&)>;

  FleetAdmin(const config::EtcdConfig& etcd, Apply apply);
  bool start() { return mirror_.start(); }
  SourceReport report() const { return status_.read(); }

 private:
  void take(const PrefixMirror::Keys& keys);  // every key: the actions are few

  const Apply apply_;
  SourceStatus status_;
  PrefixMirror mirror_;  // last: its thread uses the members above
};

}  // namespace ballast::discovery
