#pragma once
// Client connection limits shared by every worker: HAProxy's maxconn for the process and per
// listen address, and nginx's limit_conn per client address.
//
// Above a process or listener limit a worker stops accepting on that listener (the kernel's
// backlog holds the rest) and starts again once connections close; a client over its own limit
// is accepted and closed at once. Limits are checked before accept and counted after it, so
// with several workers racing the count may pass a limit by at most one connection per worker.
//
// Owns: the process's count of open client connections, one count per listen address, the
// per-client table (a fixed 64 Ki counters by address hash: clients whose addresses share a
// bucket share its limit, which can refuse early but never lets anyone past it), and the
// counters metrics show.
// Threading: counts are atomics any worker updates with one fetch_add on accept and one
// fetch_sub on close — no lock on the accept path. Listen-address counters are made under a
// mutex when a worker installs a listener (start-up and reload, never per connection) and
// live as long as the gate.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/socket.h"

namespace ballast::proxy {

class ConnectionGate {
 public:
  static constexpr uint32_t kClientBuckets = 1u << 16;
  static constexpr uint32_t kNoBucket = UINT32_MAX;

  // `process_limit`: client connections at once (0 = unlimited); `per_client_limit`: from one
  // client address (0 = unlimited).
  ConnectionGate(uint32_t process_limit, uint32_t per_client_limit);

  // What one accepted connection holds; given back by release().
  struct Ticket {
    std::atomic<uint32_t>* listener = nullptr;
    uint32_t client_bucket = kNoBucket;
  };

  // The open-connection count of a listen address ("host:port"), made on first use.
  std::atomic<uint32_t>& listener_count(const std::string& listen_key);

  // Whether one more connection fits the process's limit and the listener's (`listener_limit`,
  // 0 = none).
  bool has_room(const std::atomic<uint32_t>& listener, uint32_t listener_limit) const noexcept;
  // Counts an accepted connection from `peer`; false when its address is over the per-client
  // limit (nothing is held then: close it). `peer` null: the per-client count waits for
  // admit_client (a proxy in front names the client in its PROXY protocol header).
  bool admit(std::atomic<uint32_t>& listener, const core::SocketAddress* peer,
             Ticket& ticket) noexcept;
  // Counts the connection against `peer`'s per-client limit; false (nothing more held) when it
  // is over. The ticket then still holds the listener's and the process's counts.
  bool admit_client(const core::SocketAddress& peer, Ticket& ticket) noexcept;
  void release(Ticket& ticket) noexcept;

  uint32_t open() const noexcept { return open_.load(std::memory_order_relaxed); }
  uint64_t refused_per_client() const noexcept {
    return refused_per_client_.load(std::memory_order_relaxed);
  }
  // A worker stopped accepting: at a limit, or out of descriptors (EMFILE, ENFILE, ENOBUFS).
  void count_pause(bool descriptors) noexcept {
    (descriptors ? descriptor_pauses_ : limit_pauses_).fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t limit_pauses() const noexcept { return limit_pauses_.load(std::memory_order_relaxed); }
  uint64_t descriptor_pauses() const noexcept {
    return descriptor_pauses_.load(std::memory_order_relaxed);
  }

 private:
  const uint32_t process_limit_;
  const uint32_t per_client_limit_;
  std::atomic<uint32_t> open_{0};
  std::unique_ptr<std::atomic<uint16_t>[]> clients_;  // null without a per-client limit
  std::atomic<uint64_t> refused_per_client_{0};
  std::atomic<uint64_t> limit_pauses_{0};
  std::atomic<uint64_t> descriptor_pauses_{0};
  std::mutex listeners_mutex_;  // guards the map only, not the counts
  std::map<std::string, std::unique_ptr<std::atomic<uint32_t>>> listeners_;
};

// The default process limit: half the descriptors the process may open (each client connection
// may need one to a server), less a reserve for listeners, logs and the admin API; at least 1.
uint32_t default_connection_limit() noexcept;

}  // namespace ballast::proxy
