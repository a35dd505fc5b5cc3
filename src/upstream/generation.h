#pragma once
// One generation of configuration, as the data plane uses it: the validated Config plus the
// shared state of every cluster's servers.
//
// Built by the control side at start-up and at each reload, then immutable (but for the
// servers' atomics) and shared by all workers through std::shared_ptr<const Generation>. A
// connection keeps the generation it was accepted under until it closes, so a reload never
// changes the rules under a request in flight.

#include <memory>
#include <string>
#include <vector>

#include "balance/hash_tables.h"
#include "config/config.h"
#include "edge/geo_locator.h"
#include "edge/geo_routes.h"
#include "edge/rate_policy.h"
#include "observe/server_stats.h"
#include "tls/client_context.h"
#include "tls/server_context.h"
#include "upstream/cluster_health.h"
#include "upstream/server_state.h"

namespace ballast::upstream {

struct ClusterState {
  // The cluster's settings and its current servers: a part of Generation::config (sharing its
  // ownership), or, once discovery has changed the servers, a copy of it with the new list.
  std::shared_ptr<const config::ClusterConfig> config;
  std::vector<std::shared_ptr<ServerState>> servers;  // in configuration order
  std::shared_ptr<ClusterHealth> health;
  std::shared_ptr<observe::ClusterStats> stats;  // kept across reloads while the name stays
  // The hash policies' ring or table, built once here for every worker; null for algorithms
  // that hash nothing.
  std::shared_ptr<const balance::HashTables> hash_tables;
  // TLS to the servers (upstream_tls); null when the cluster speaks to them in clear.
  std::shared_ptr<const tls::ClientContext> upstream_tls;
};

// What the balancing policies are built from: each server's name, weight and tier.
std::vector<balance::ServerSpec> server_specs(const ClusterState& cluster);

struct Generation {
  std::shared_ptr<const config::Config> config;
  std::vector<ClusterState> clusters;  // in configuration order
  // Each listener's TLS contexts, as config->listeners; null for a plaintext listener.
  std::vector<std::shared_ptr<const tls::ServerContext>> listener_tls;
  // The listeners' and routes' rate limits and the table they count in; never null.
  std::shared_ptr<const edge::RatePolicy> rate_policy;
  // Geographic routing (`geo:`): where clients are, and each geo route's plan; null without it.
  std::shared_ptr<const edge::GeoLocator> geo;
  std::shared_ptr<const edge::GeoRoutes> geo_routes;
  uint64_t number = 0;  // 1 at start-up, +1 per successful reload

  // The index of the cluster called `name`; clusters.size() if none.
  size_t cluster_index(const std::string& name) const noexcept;
};

enum class AdminWrite : uint8_t { done, no_cluster, no_server };

// Sets the admin state of `server` in `cluster` and bumps the cluster's version, which publishes
// the store to the workers. The caller serializes it with reloads (ProxyProcess's control mutex).
AdminWrite set_admin_state(const Generation& generation, const std::string& cluster,
                           const std::string& server, AdminState state) noexcept;

// The TLS contexts of config's listeners, loading every certificate (throws
// config::ConfigError naming a bad file). A listener that `previous` has by the same name keeps
// its ticket keys and handshake counters. Also what --check runs.
std::vector<std::shared_ptr<const tls::ServerContext>> build_listener_tls(
    const config::Config& config, const Generation* previous);

// A generation like `current` but with the cluster at `index` serving `servers` (as discovery
// found them): the same configuration and listeners; servers that stay keep their ServerState
// (health, breaker, counters), as at a reload. Throws std::runtime_error as build_generation.
std::shared_ptr<const Generation> with_servers(const Generation& current, size_t index,
                                               std::vector<config::ServerConfig> servers,
                                               uint32_t workers);

// Builds a generation, resolving every server address (throws std::runtime_error naming the
// server when one does not resolve) and loading every TLS file (throws config::ConfigError).
// Servers that `previous` also has (same cluster, same settings, same health-check and breaker
// settings) keep their ServerState, and with it their counters, health and breaker; one whose
// settings changed starts afresh but for its health verdict (healthy stays healthy); a cluster with
// the same servers in the same order and the same outlier detection and limits keeps its
// ClusterHealth. `workers`: how many shards each server's and cluster's counters keep (one per
// worker).
std::shared_ptr<const Generation> build_generation(std::shared_ptr<const config::Config> config,
                                                   const Generation* previous, uint32_t workers);

}  // namespace ballast::upstream
