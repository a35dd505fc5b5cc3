#pragma once
// The addresses ballast will listen on, collected while the configuration is read, so that a
// second socket on an address already taken (by a listener, the admin API or the metrics
// endpoint) is refused where it is written rather than failing at bind() after start-up.
//
// Threading: start-up only. Cost: a claim compares with the earlier claims on the same port.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

class AddressBook {
 public:
  // Claims `endpoint` for `owner` (a key path, for the message); fails at `at` when an earlier
  // claim overlaps it (see endpoints_overlap()).
  void claim(const Endpoint& endpoint, const std::string& owner, const Node& at);

 private:
  std::unordered_map<uint16_t, std::vector<std::pair<Endpoint, std::string>>> by_port_;
};

}  // namespace ballast::config
