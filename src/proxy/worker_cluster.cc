#include "proxy/worker_cluster.h"

namespace ballast::proxy {
namespace {

std::vector<upstream::ServerSpec> specs_of(const upstream::ClusterState& state) {
  std::vector<upstream::ServerSpec> specs;
  for (const auto& server : state.servers) {
    specs.push_back({server->name, server->config.weight, server->config.backup});
  }
  return specs;
}

}  // namespace

WorkerCluster::WorkerCluster(core::EventLoop& loop, const upstream::ClusterState& state,
                             uint64_t seed)
    : state_(&state), balancer_(state.config->algorithm, specs_of(state), seed) {
  for (size_t i = 0; i < state.servers.size(); ++i) {
    pools_.push_back(std::make_unique<upstream::ConnectionPool>(
        loop, state.config->pool.idle_per_server, state.config->pool.idle_timeout_ms));
  }
}

}  // namespace ballast::proxy
