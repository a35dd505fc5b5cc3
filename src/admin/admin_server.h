#pragma once
// The admin API, the dashboard and the Prometheus endpoint: a small HTTP/1.1 server on a thread
// and event loop of its own, never a worker's.
//
// Listens on `admin.listen` for the admin routes (docs/admin.md) and, when metrics are enabled,
// on every address of `monitoring.metrics.port`, where it serves `monitoring.metrics.path` and
// nothing else. Clients are untrusted: requests are parsed by the proxy's own parser with small
// limits (kMaxHeadBytes, kMaxHeaders, kMaxBodyBytes), a request must arrive within
// kRequestTimeoutMs and a kept-alive connection is closed after kIdleTimeoutMs, and at most
// kMaxConnections are open at once (one more gets a 503 and is closed).
//
// Owns: the listening sockets, the connections, the RateSampler and its one-second timer, the
// thread. Threading: the constructor, start(), stop() and the destructor belong to one control
// thread; everything else, the hooks included, runs on the admin thread. Hooks are called only
// there, one at a time: `generation` for each request and each sampling round, `metrics` per
// scrape, `reload` per POST /reload.
// Writes (POST) set ServerState::admin, which workers read with relaxed loads, then bump the
// cluster's ClusterHealth version so every worker re-reads its servers before its next pick.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/socket.h"
#include "discovery/source_status.h"
#include "observe/protocol_stats.h"
#include "upstream/generation.h"

namespace ballast::admin {

struct AdminHooks {
  std::function<std::shared_ptr<const upstream::Generation>()> generation;  // the current one
  std::function<std::string(const upstream::Generation&)> metrics;          // Prometheus text
  std::function<void()> reload;                                             // like SIGHUP
  std::function<observe::ProtocolTotals()> protocols;  // requests and HTTP/2 streams, for /status
  std::function<std::vector<discovery::SourceReport>()> discovery;  // for /status
  // Applies an admin state to the current generation's server, serialized with reloads.
  std::function<upstream::AdminWrite(const std::string& cluster, const std::string& server,
                                     upstream::AdminState state)>
      set_admin_state;
};

class AdminServer {
 public:
  static constexpr size_t kMaxConnections = 64;
  static constexpr size_t kMaxHeadBytes = 8 * 1024;
  static constexpr uint32_t kMaxHeaders = 64;
  static constexpr size_t kMaxBodyBytes = 4 * 1024;  // the API takes no body; a small one is read
  static constexpr uint64_t kRequestTimeoutMs = 10'000;  // from a request's first byte to its end
  static constexpr uint64_t kIdleTimeoutMs = 60'000;     // between requests on one connection
  static constexpr uint64_t kWriteTimeoutMs = 10'000;    // for a response to leave

  // Reads admin.listen and monitoring.metrics from `config` (they are not reloaded: a change
  // needs a restart); admin.token and admin.allowed_hosts are read from the current generation
  // at each request, so a reload applies them. `workers`: the process's worker count, for /status.
  // The metrics listener binds `metrics_host` ("0.0.0.0": every IPv4 address, as docs/config.md
  // says; tests pass 127.0.0.1).
  AdminServer(const config::Config& config, uint32_t workers, AdminHooks hooks,
              std::string metrics_host = "0.0.0.0");
  ~AdminServer();  // stop()
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Listening sockets taken over from the process a binary upgrade replaces; invalid ones are
  // bound here.
  struct Inherited {
    core::FileDescriptor admin;
    core::FileDescriptor metrics;
  };
  // Binds both listeners (or takes `inherited`'s) and starts the thread. Throws
  // std::runtime_error naming the address that could not be bound. Call once.
  void start(Inherited inherited = {});
  // Throws std::runtime_error when `next` would leave this API, listening beyond loopback,
  // without a token (the address is not reloaded, so the new file's admin.listen is no guide).
  void check_reload(const config::Config& next) const;
  // Ends the thread and closes every socket; waits for it. Idempotent.
  void stop() noexcept;

  // The listening sockets (after start(); -1 for metrics when off), for a binary upgrade to hand
  // over: they stay this server's, open until stop().
  int admin_socket() const noexcept;
  int metrics_socket() const noexcept;
  // The keys a binary upgrade hands them over by: the addresses as configured.
  std::string admin_listen() const;
  std::string metrics_listen() const;

  // The addresses bound (after start()), with the port chosen when the config said 0.
  core::SocketAddress admin_address() const;
  std::optional<core::SocketAddress> metrics_address() const;  // none when metrics are off

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::admin
