#pragma once
// Idle keep-alive connections to one server, kept by one worker (nginx's `keepalive`, Envoy's
// per-worker connection pools). Taking the most recently idled one first keeps few warm and
// lets the rest time out.
//
// Owns: the idle connections (at most idle_limit); each one is freed when it closes.
// Threading: one worker's; no sharing, so no locks.

#include <cstdint>
#include <vector>

#include "core/event_loop.h"
#include "tls/client_context.h"

namespace ballast::upstream {

class UpstreamConnection;

class ConnectionPool {
 public:
  ConnectionPool(core::EventLoop& loop, uint32_t idle_limit, uint64_t idle_timeout_ms);
  ~ConnectionPool();  // closes every idle connection
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;
  ConnectionPool(ConnectionPool&&) = delete;

  core::EventLoop& loop() noexcept { return loop_; }

  // An idle connection, now the caller's; nullptr when none is pooled.
  UpstreamConnection* take() noexcept;
  // Keeps a reusable connection for later, or closes it when the pool is full.
  void give_back(UpstreamConnection& connection) noexcept;
  // Called by an idle connection that is closing.
  void forget(UpstreamConnection& connection) noexcept;

  size_t idle_count() const noexcept { return idle_.size(); }
  // The last TLS session the server gave this worker (upstream_tls), to resume.
  tls::SessionSlot& session() noexcept { return session_; }

 private:
  core::EventLoop& loop_;
  uint32_t idle_limit_;
  uint64_t idle_timeout_ms_;
  std::vector<UpstreamConnection*> idle_;  // reserved to idle_limit: no allocation later
  tls::SessionSlot session_;
};

}  // namespace ballast::upstream
