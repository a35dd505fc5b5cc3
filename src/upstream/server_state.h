#pragma once
// The runtime state of one upstream server that all workers share.
//
// Owned by the control side (main thread), which creates one per configured server and keeps it
// across reloads while the server stays in the configuration, so its counters carry over.
// Workers hold it through the generation they serve (std::shared_ptr), and touch only the
// atomics below. Nothing here is locked.

#include <atomic>
#include <cstdint>
#include <string>

#include "config/config.h"
#include "core/socket.h"

namespace ballast::upstream {

struct ServerState {
  ServerState(config::ServerConfig config, core::SocketAddress address)
      : config(std::move(config)), address(address), name(this->config.name()) {}

  const config::ServerConfig config;
  const core::SocketAddress address;  // resolved once, at load
  const std::string name;             // "host:port", for logs and messages

  // Attempts in flight to this server, across all workers. Written by workers (relaxed: it is
  // a count for a limit, ordering nothing else).
  std::atomic<uint32_t> active_attempts{0};

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
