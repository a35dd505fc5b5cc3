#pragma once
// What a balancing policy is built from: one upstream server's name, weight and tier. Plain
// data, built at start-up or reload and never changed afterwards; runtime state (health, load)
// lives in upstream::ServerState. It belongs to balance, which upstream builds on, so that
// dependencies run one way.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ballast::balance {

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

}  // namespace ballast::balance
