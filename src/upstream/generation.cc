#include "upstream/generation.h"

#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "config/config_error.h"
#include "core/clock.h"

namespace ballast::upstream {
namespace {

const ClusterState* previous_cluster(const Generation* previous, const std::string& name) {
  if (previous == nullptr) {
    return nullptr;
  }
  const size_t index = previous->cluster_index(name);
  return index == previous->clusters.size() ? nullptr : &previous->clusters[index];
}

// The previous states of a cluster's servers by name ("host:port"): a discovery change to a
// cluster of 10,000 servers looks each one up once.
using StatesByName = std::unordered_map<std::string_view, std::shared_ptr<ServerState>>;

StatesByName states_by_name(const ClusterState* previous) {
  StatesByName states;
  if (previous != nullptr) {
    states.reserve(previous->servers.size());
    for (const std::shared_ptr<ServerState>& state : previous->servers) {
      states.emplace(state->name, state);
    }
  }
  return states;
}

// The previous state of the server at this host:port, or null.
const ServerState* predecessor(const StatesByName& previous, const config::ServerConfig& server) {
  const auto found = previous.find(server.name());
  return found == previous.end() ? nullptr : found->second.get();
}

// The previous state itself, when nothing it was built from has changed.
std::shared_ptr<ServerState> carried_over(const ClusterState* previous, const StatesByName& states,
                                          const config::ClusterConfig& cluster,
                                          const config::ServerConfig& server) {
  if (previous == nullptr || !(previous->config->health_check == cluster.health_check) ||
      !(previous->config->circuit_breaker == cluster.circuit_breaker)) {
    return nullptr;
  }
  const auto found = states.find(server.name());
  return found != states.end() && found->second->config == server ? found->second : nullptr;
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

namespace {

// A new ClusterHealth for a cluster whose servers changed takes over the outlier record of those
// that stay, when detection's settings did not change.
void carry_ejections(const ClusterState* before, const config::ClusterConfig& cluster,
                     ClusterHealth& health) {
  if (before == nullptr || health.outliers == nullptr || before->health->outliers == nullptr ||
      !(before->config->outlier_detection == cluster.outlier_detection)) {
    return;
  }
  std::unordered_map<std::string_view, uint32_t> index_before;
  for (uint32_t i = 0; i < before->servers.size(); ++i) {
    index_before.emplace(before->servers[i]->name, i);
  }
  std::vector<uint32_t> previous_index;
  previous_index.reserve(cluster.servers.size());
  for (const config::ServerConfig& server : cluster.servers) {
    const auto found = index_before.find(server.name());
    previous_index.push_back(found == index_before.end() ? health::OutlierDetector::kNew
                                                         : found->second);
  }
  health.outliers->carry_over(*before->health->outliers, previous_index, core::monotonic_now_ns());
}

// One cluster's shared state, keeping what `before` (the same cluster's previous state, or
// null) has for servers that stay. `servers_only`: only the servers differ from `before` (a
// discovery change), so its TLS context, and the sessions it caches, stay too.
ClusterState build_cluster(std::shared_ptr<const config::ClusterConfig> settings,
                           const ClusterState* before, uint32_t workers, bool servers_only) {
  const config::ClusterConfig& cluster = *settings;
  ClusterState state{settings, {}, carried_over(before, cluster), nullptr, nullptr, nullptr};
  if (state.health == nullptr) {
    const bool same_limits =
        before != nullptr && before->config->circuit_breaker == cluster.circuit_breaker;
    state.health =
        std::make_shared<ClusterHealth>(cluster, same_limits ? before->health->limits : nullptr);
    carry_ejections(before, cluster, *state.health);
  }
  state.stats = before != nullptr && before->stats->workers() == workers
                    ? before->stats
                    : std::make_shared<observe::ClusterStats>(workers);
  const StatesByName states = states_by_name(before);
  for (const config::ServerConfig& server : cluster.servers) {
    std::shared_ptr<ServerState> kept = carried_over(before, states, cluster, server);
    if (kept == nullptr) {
      const std::string& host = server.address.empty() ? server.host : server.address;
      try {
        kept = std::make_shared<ServerState>(server, core::resolve(host, server.port), cluster,
                                             workers, predecessor(states, server));
      } catch (const std::exception& error) {
        throw std::runtime_error("cluster " + cluster.name + ", server " + server.name() + ": " +
                                 error.what());
      }
    }
    state.servers.push_back(std::move(kept));
  }
  state.hash_tables = balance::build_hash_tables(cluster.algorithm, server_specs(state));
  if (cluster.upstream_tls.enabled) {
    state.upstream_tls =
        servers_only
            ? before->upstream_tls
            : tls::ClientContext::build(cluster.upstream_tls,
                                        before != nullptr ? before->upstream_tls.get() : nullptr);
  }
  return state;
}

// Opens the MaxMind database anew at each reload (a file replaced in place is read then), and
// fixes each geo route's order of regions. Throws config::ConfigError for a database that does
// not open.
void build_geo(const config::Config& config, uint32_t workers, Generation& generation) {
  if (!config.geo.enabled) {
    return;
  }
  edge::GeoLocator::Opened opened = edge::GeoLocator::open(config.geo);
  if (opened.locator == nullptr) {
    throw config::ConfigError(opened.error);
  }
  generation.geo = std::move(opened.locator);
  generation.geo_routes = std::make_shared<edge::GeoRoutes>(
      config, *generation.geo, workers, [&generation](const std::string& name) {
        return static_cast<uint32_t>(generation.cluster_index(name));
      });
}

}  // namespace

std::shared_ptr<const Generation> with_servers(const Generation& current, size_t index,
                                               std::vector<config::ServerConfig> servers,
                                               uint32_t workers) {
  auto settings = std::make_shared<config::ClusterConfig>(*current.clusters[index].config);
  settings->servers = std::move(servers);
  auto next = std::make_shared<Generation>(current);
  next->clusters[index] =
      build_cluster(std::move(settings), &current.clusters[index], workers, true);
  return next;
}

std::shared_ptr<const Generation> build_generation(std::shared_ptr<const config::Config> config,
                                                   const Generation* previous, uint32_t workers) {
  auto generation = std::make_shared<Generation>();
  generation->config = config;
  generation->number = previous == nullptr ? 1 : previous->number + 1;
  for (const config::ClusterConfig& cluster : config->clusters) {
    // Shares the configuration's ownership: the cluster's settings live as long as it does.
    std::shared_ptr<const config::ClusterConfig> settings(config, &cluster);
    generation->clusters.push_back(build_cluster(
        std::move(settings), previous_cluster(previous, cluster.name), workers, false));
  }
  generation->listener_tls = build_listener_tls(*config, previous);
  generation->rate_policy = std::make_shared<edge::RatePolicy>(
      *config, previous != nullptr ? previous->rate_policy.get() : nullptr, workers,
      core::monotonic_now_ns());
  build_geo(*config, workers, *generation);
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
