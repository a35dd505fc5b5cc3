#pragma once
// One worker's HTTP/2 connections to one server (a cluster with `protocol: h2` or `h2c`): a
// request takes a stream on the first connection with room, and a new connection opens only
// when every one is full (or going away). Envoy's per-worker HTTP/2 pool, in short.
//
// Owns: the list of its open connections (each frees itself when it closes: http2_connection.h).
// Threading: one worker's; no sharing, so no locks.

#include <cstdint>
#include <string>
#include <vector>

#include "core/event_loop.h"
#include "core/socket.h"
#include "http2/client_connection.h"
#include "observe/server_stats.h"
#include "tls/client_context.h"
#include "upstream/connection_pool.h"

namespace ballast::upstream {

class Http2Connection;

class Http2Pool {
 public:
  // `tls_home`: the server's HTTP/1 pool, whose session slot a TLS connection resumes from.
  // `counts`: this worker's shard of the cluster's counters.
  Http2Pool(core::EventLoop& loop, ConnectionPool& tls_home, const http2::ClientLimits& limits,
            uint64_t idle_timeout_ms, uint64_t connect_timeout_ms, observe::ClusterShard& counts);
  ~Http2Pool();  // closes every connection (none has a request in flight by then)
  Http2Pool(const Http2Pool&) = delete;
  Http2Pool& operator=(const Http2Pool&) = delete;

  // A connection that can take one more request (established or still connecting), or null.
  Http2Connection* with_room() noexcept;
  // Connects anew (TLS with `tls`, naming `server_host`); null with errno set when that fails
  // at once.
  Http2Connection* open(const core::SocketAddress& address, const tls::ClientContext* tls,
                        const std::string& server_host) noexcept;
  // Called by a connection that is closing.
  void forget(Http2Connection& connection) noexcept;

  uint64_t idle_timeout_ms() const noexcept { return idle_timeout_ms_; }
  observe::ClusterShard& counts() noexcept { return counts_; }
  size_t connection_count() const noexcept { return connections_.size(); }

 private:
  core::EventLoop& loop_;
  ConnectionPool& tls_home_;
  http2::ClientLimits limits_;
  uint64_t idle_timeout_ms_;
  uint64_t connect_timeout_ms_;
  observe::ClusterShard& counts_;
  std::vector<Http2Connection*> connections_;
};

}  // namespace ballast::upstream
