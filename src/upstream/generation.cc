#include "upstream/generation.h"

#include <stdexcept>

namespace ballast::upstream {
namespace {

std::shared_ptr<ServerState> carried_over(const Generation* previous, const std::string& cluster,
                                          const config::ServerConfig& server) {
  if (previous == nullptr) {
    return nullptr;
  }
  const size_t index = previous->cluster_index(cluster);
  if (index == previous->clusters.size()) {
    return nullptr;
  }
  for (const std::shared_ptr<ServerState>& state : previous->clusters[index].servers) {
    if (state->name == server.name() && state->config.weight == server.weight &&
        state->config.max_connections == server.max_connections &&
        state->config.backup == server.backup && state->config.region == server.region) {
      return state;
    }
  }
  return nullptr;
}

}  // namespace

size_t Generation::cluster_index(const std::string& name) const noexcept {
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (clusters[i].config->name == name) {
      return i;
    }
  }
  return clusters.size();
}

std::shared_ptr<const Generation> build_generation(std::shared_ptr<const config::Config> config,
                                                   const Generation* previous) {
  auto generation = std::make_shared<Generation>();
  generation->config = config;
  generation->number = previous == nullptr ? 1 : previous->number + 1;
  for (const config::ClusterConfig& cluster : config->clusters) {
    ClusterState state{&cluster, {}};
    for (const config::ServerConfig& server : cluster.servers) {
      std::shared_ptr<ServerState> kept = carried_over(previous, cluster.name, server);
      if (kept == nullptr) {
        try {
          kept = std::make_shared<ServerState>(server, core::resolve(server.host, server.port));
        } catch (const std::exception& error) {
          throw std::runtime_error("cluster " + cluster.name + ", server " + server.name() + ": " +
                                   error.what());
        }
      }
      state.servers.push_back(std::move(kept));
    }
    generation->clusters.push_back(std::move(state));
  }
  return generation;
}

}  // namespace ballast::upstream
