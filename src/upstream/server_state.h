#pragma once
// The runtime state of one upstream server that all workers share.
//
// Owned by the control side (main thread), which creates one per configured server and keeps it
// across reloads while the server and its cluster's health settings stay the same, so its
// counters, health and breaker carry over. Workers hold it through the generation they serve
// (std::shared_ptr) and touch only the atomics and the breaker below (lock-free). The health
// tracker is the one exception: only the server's health-check owner, one worker chosen by
// the server's name (health_check_owner()), reads or writes it.

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "core/socket.h"
#include "health/circuit_breaker.h"
#include "health/health_tracker.h"
#include "observe/log_throttle.h"
#include "observe/server_stats.h"

namespace ballast::upstream {

// What an operator said about a server through the admin API: `disabled` and `draining` take
// no new requests (requests in flight finish); `draining` says the operator expects it to empty.
enum class AdminState : uint8_t { enabled, disabled, draining };

struct ServerState {
  // `predecessor`: the state of the same host:port in the previous generation, when its
  // settings changed (so it could not be kept): its health verdict carries over.
  ServerState(config::ServerConfig config, core::SocketAddress address,
              const config::ClusterConfig& cluster, uint32_t workers,
              const ServerState* predecessor = nullptr);

  const config::ServerConfig config;
  const core::SocketAddress address;  // resolved once, at load
  const std::string name;             // "host:port", for logs and messages
  // The session-affinity cookie's value for this server: 16 hex digits of a hash of the
  // cluster's and the server's names, stable across restarts and reloads, which does not show
  // the server's address.
  const std::string affinity_id;

  // Attempts in flight to this server, across all workers and generations: a state rebuilt at
  // a reload shares its predecessor's count, so requests still in flight under the old
  // generation count against max_connections under the new one. Written by workers (relaxed: it
  // is a count for a limit, ordering nothing else).
  const std::shared_ptr<std::atomic<uint32_t>> shared_active_attempts;
  std::atomic<uint32_t>& active_attempts = *shared_active_attempts;

  // Active health, published by the health-check owner: false while the server is unknown
  // (before its first check) or unhealthy. Always true without health checks.
  std::atomic<bool> passes_checks{true};
  // When the server last became healthy, for slow start; 0 = not ramping. Written by the
  // health-check owner, read by workers on each pick of this server.
  std::atomic<uint64_t> ramp_started_ns{0};

  // Set by the admin API (any thread), read by workers when they recompute eligibility.
  std::atomic<AdminState> admin{AdminState::enabled};

  // Lines about this server's failed attempts, from any worker: one a second with a count.
  observe::LogThrottle failure_log;

  // Traffic counters, one shard per worker (server_stats.h); shared with the predecessor, so a
  // server whose settings change keeps counting.
  std::shared_ptr<observe::ServerStats> stats;

  // Null when the cluster has no breaker. Shared by all workers (circuit_breaker.h).
  std::unique_ptr<health::CircuitBreaker> breaker;
  // Only with health checks; the health-check owner's alone (see above).
  std::optional<health::HealthTracker> checks;

  // Takes one of the server's max_connections slots; false when it is full.
  bool try_acquire_slot() noexcept {
    const uint32_t limit = config.max_connections;
    uint32_t current = active_attempts.load(std::memory_order_relaxed);
    do {
      if (limit != 0 && current >= limit) {
        return false;
      }
    } while (
        !active_attempts.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return true;
  }
  void release_slot() noexcept { active_attempts.fetch_sub(1, std::memory_order_relaxed); }
};

}  // namespace ballast::upstream
