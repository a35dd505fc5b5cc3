#pragma once
// What the configuration says about one upstream server. Plain data, built at start-up or
// reload and never changed afterwards; runtime state (health, load) lives elsewhere.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ballast::upstream {

struct ServerSpec {
  std::string name;  // stable identity: hash policies place the server by it ("host:port")
  uint32_t weight = 1;
  bool backup = false;  // chosen only when no primary server is eligible
};

inline std::vector<uint32_t> weights_of(std::span<const ServerSpec> servers) {
  std::vector<uint32_t> weights;
  weights.reserve(servers.size());
  for (const ServerSpec& server : servers) {
    weights.push_back(server.weight);
  }
  return weights;
}

}  // namespace ballast::upstream
