#pragma once
// etcd discovery: a cluster's servers are the records under its `discovery.etcd_prefix`, one
// key per server, each value a JSON record (server_record.h). A record that does not parse is
// left out and logged; the others serve. The list goes to ServerSets after the first read and
// after each change the watch brings (prefix_mirror.h keeps the copy, and keeps it through
// outages).
//
// Threading: as PrefixMirror.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"
#include "discovery/prefix_mirror.h"
#include "discovery/server_sets.h"
#include "discovery/source_status.h"

namespace ballast::discovery {

// The etcd members of `etcd` as the client takes them.
std::vector<EtcdEndpoint> etcd_endpoints(const config::EtcdConfig& etcd);

class EtcdDiscovery {
 public:
  EtcdDiscovery(const config::EtcdConfig& etcd, const std::string& cluster,
                const std::string& prefix, ServerSets& sets);

  // Its list is no longer built for the cluster (the next source makes its own).
  ~EtcdDiscovery();
  EtcdDiscovery(const EtcdDiscovery&) = delete;
  EtcdDiscovery& operator=(const EtcdDiscovery&) = delete;

  // As PrefixMirror::start.
  bool start() { return mirror_.start(); }
  SourceReport report() const { return status_.read(); }

 private:
  struct Record {
    std::string value;
    std::optional<config::ServerConfig> server;  // null: the value does not parse
  };
  void take(const PrefixMirror::Keys& keys, const std::vector<std::string>* changed);
  Record parse(const std::string& key, const std::string& value);
  std::vector<config::ServerConfig> servers();  // on the thread that applies them

  const std::string cluster_;
  ServerSets& sets_;
  SourceStatus status_;
  std::mutex records_mutex_;               // the mirror's thread writes, the applier reads
  std::map<std::string, Record> records_;  // by key, as last parsed
  PrefixMirror mirror_;                    // last: its thread uses the members above
};

}  // namespace ballast::discovery
