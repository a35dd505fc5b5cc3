#include "upstream/generation.h"

#include <stdexcept>

namespace ballast::upstream {
namespace {

const ClusterState* previous_cluster(const Generation* previous, const std::string& name) {
  if (previous == nullptr) {
    return nullptr;
  }
  const size_t index = previous->cluster_index(name);
  return index == previous->clusters.size() ? nullptr : &previous->clusters[index];
}

// The previous generation's state of the server at this host:port, or null.
const ServerState* predecessor(const ClusterState* previous, const config::ServerConfig& server) {
  if (previous != nullptr) {
    for (const std::shared_ptr<ServerState>& state : previous->servers) {
      if (state->name == server.name()) {
        return state.get();
      }
    }
  }
  return nullptr;
}

// The previous state itself, when nothing it was built from has changed.
std::shared_ptr<ServerState> carried_over(const ClusterState* previous,
                                          const config::ClusterConfig& cluster,
                                          const config::ServerConfig& server) {
  if (previous == nullptr || !(previous->config->health_check == cluster.health_check) ||
      !(previous->config->circuit_breaker == cluster.circuit_breaker)) {
    return nullptr;
  }
  for (const std::shared_ptr<ServerState>& state : previous->servers) {
    if (state->config == server) {
      return state;
    }
  }
  return nullptr;
}

std::shared_ptr<ClusterHealth> carried_over(const ClusterState* previous,
                                            const config::ClusterConfig& cluster) {
  if (previous == nullptr || !(previous->config->outlier_detection == cluster.outlier_detection) ||
      !(previous->config->circuit_breaker == cluster.circuit_breaker) ||
      previous->config->servers.size() != cluster.servers.size()) {
    return nullptr;
  }
  for (size_t i = 0; i < cluster.servers.size(); ++i) {
    if (previous->config->servers[i].name() != cluster.servers[i].name()) {
      return nullptr;
    }
  }
  return previous->health;
}

}  // namespace

AdminWrite set_admin_state(const Generation& generation, const std::string& cluster,
                           const std::string& server, AdminState state) noexcept {
  const size_t index = generation.cluster_index(cluster);
  if (index == generation.clusters.size()) {
    return AdminWrite::no_cluster;
  }
  const ClusterState& found = generation.clusters[index];
  for (const std::shared_ptr<ServerState>& candidate : found.servers) {
    if (candidate->name == server) {
      candidate->admin.store(state, std::memory_order_relaxed);
      found.health->changed();  // its release publishes the store to workers that acquire it
      return AdminWrite::done;
    }
  }
  return AdminWrite::no_server;
}

std::vector<balance::ServerSpec> server_specs(const ClusterState& cluster) {
  std::vector<balance::ServerSpec> specs;
  specs.reserve(cluster.servers.size());
  for (const std::shared_ptr<ServerState>& server : cluster.servers) {
    specs.push_back({server->name, server->config.weight, server->config.backup});
  }
  return specs;
}

size_t Generation::cluster_index(const std::string& name) const noexcept {
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (clusters[i].config->name == name) {
      return i;
    }
  }
  return clusters.size();
}

std::shared_ptr<const Generation> build_generation(std::shared_ptr<const config::Config> config,
                                                   const Generation* previous, uint32_t workers) {
  auto generation = std::make_shared<Generation>();
  generation->config = config;
  generation->number = previous == nullptr ? 1 : previous->number + 1;
  for (const config::ClusterConfig& cluster : config->clusters) {
    const ClusterState* before = previous_cluster(previous, cluster.name);
    ClusterState state{&cluster, {}, carried_over(before, cluster), nullptr, nullptr, nullptr};
    if (state.health == nullptr) {
      state.health = std::make_shared<ClusterHealth>(cluster);
    }
    state.stats = before != nullptr && before->stats->workers() == workers
                      ? before->stats
                      : std::make_shared<observe::ClusterStats>(workers);
    for (const config::ServerConfig& server : cluster.servers) {
      std::shared_ptr<ServerState> kept = carried_over(before, cluster, server);
      if (kept == nullptr) {
        try {
          kept = std::make_shared<ServerState>(server, core::resolve(server.host, server.port),
                                               cluster, workers, predecessor(before, server));
        } catch (const std::exception& error) {
          throw std::runtime_error("cluster " + cluster.name + ", server " + server.name() + ": " +
                                   error.what());
        }
      }
      state.servers.push_back(std::move(kept));
    }
    state.hash_tables = balance::build_hash_tables(cluster.algorithm, server_specs(state));
    if (cluster.upstream_tls.enabled) {
      state.upstream_tls = tls::ClientContext::build(
          cluster.upstream_tls, before != nullptr ? before->upstream_tls.get() : nullptr);
    }
    generation->clusters.push_back(std::move(state));
  }
  generation->listener_tls = build_listener_tls(*config, previous);
  return generation;
}

std::vector<std::shared_ptr<const tls::ServerContext>> build_listener_tls(
    const config::Config& config, const Generation* previous) {
  std::vector<std::shared_ptr<const tls::ServerContext>> contexts;
  for (const config::ListenerConfig& listener : config.listeners) {
    if (!listener.tls.enabled) {
      contexts.push_back(nullptr);
      continue;
    }
    const tls::ServerContext* before = nullptr;
    if (previous != nullptr) {
      for (const auto& context : previous->listener_tls) {
        if (context != nullptr && context->listener_name() == listener.name) {
          before = context.get();
        }
      }
    }
    contexts.push_back(tls::ServerContext::build(listener, before));
  }
  return contexts;
}

}  // namespace ballast::upstream
