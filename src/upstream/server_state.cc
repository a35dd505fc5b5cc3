#include "upstream/server_state.h"

#include <cstdio>

#include "core/hash.h"

namespace ballast::upstream {
namespace {

std::string affinity_id_of(const std::string& cluster, const std::string& server) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(core::hash64(cluster + "\n" + server)));
  return hex;
}

}  // namespace

ServerState::ServerState(config::ServerConfig config, core::SocketAddress address,
                         const config::ClusterConfig& cluster, uint32_t workers,
                         const ServerState* predecessor)
    : config(std::move(config)),
      address(address),
      name(this->config.name()),
      affinity_id(affinity_id_of(cluster.name, name)),
      shared_active_attempts(predecessor != nullptr ? predecessor->shared_active_attempts
                                                    : std::make_shared<std::atomic<uint32_t>>(0)) {
  if (predecessor != nullptr) {
    admin.store(predecessor->admin.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  stats = predecessor != nullptr && predecessor->stats->workers() == workers
              ? predecessor->stats
              : std::make_shared<observe::ServerStats>(workers);
  if (cluster.circuit_breaker.enabled) {
    breaker = std::make_unique<health::CircuitBreaker>(cluster.circuit_breaker);
  }
  if (cluster.health_check.enabled) {
    // The predecessor's tracker belongs to its checking worker; its published verdict is what
    // another thread may read. A server that was not passing starts unknown: one check decides.
    if (predecessor != nullptr && predecessor->checks) {
      const bool passing = predecessor->passes_checks.load(std::memory_order_relaxed);
      checks.emplace(cluster.health_check,
                     passing ? health::HealthState::healthy : health::HealthState::unknown);
    } else {
      checks.emplace(cluster.health_check);
    }
    passes_checks.store(checks->eligible(), std::memory_order_relaxed);
  }
}

}  // namespace ballast::upstream
