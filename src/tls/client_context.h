#pragma once
// A cluster's client side of TLS to its servers (`upstream_tls:`): the OpenSSL context its
// connections are made from, what each one sends as SNI and verifies, and the session it
// resumes.
//
// Verification (unless `verify: false`): the server's chain against the cluster's CA file or,
// without one, the system store (Debian's ca-certificates); and the name: `server_name` when
// set, else the server's own host. A name goes out as SNI and must be in the certificate's
// subjectAltName (no partial wildcards); an IP address is not sent as SNI (RFC 6066 forbids
// it) and must be an IP entry of the subjectAltName.
//
// Resumption: each connection pool (one per worker per server) keeps the last session its
// server gave in a SessionSlot; a new connection offers it. The new-session callback fills the
// slot, also for a TLS 1.3 ticket that arrives after the handshake, on whichever read meets it.
//
// Lifetime and threading: built on the control side with each generation (start-up, reload,
// --check), then immutable and shared by every worker; an SSL made from it keeps its context
// alive. The callback runs on the worker that owns the connection and the slot. The handshake
// counters are carried to the next generation's context of the same cluster, so they run
// across reloads; workers add with relaxed atomics, once per new connection.

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "config/config.h"
#include "tls/openssl_error.h"

namespace ballast::tls {

// The session one worker last got from one server. Owned by that worker's pool for the server;
// holds one reference to the session.
class SessionSlot {
 public:
  SessionSlot() = default;
  ~SessionSlot() { SSL_SESSION_free(session_); }
  SessionSlot(const SessionSlot&) = delete;
  SessionSlot& operator=(const SessionSlot&) = delete;

  SSL_SESSION* get() const noexcept { return session_; }
  // Takes the caller's reference, replacing the session held.
  void keep(SSL_SESSION* session) noexcept {
    SSL_SESSION_free(session_);
    session_ = session;
  }
  void clear() noexcept { keep(nullptr); }

 private:
  SSL_SESSION* session_ = nullptr;
};

// The handshakes of a cluster's connections to its servers (health checks not counted).
struct UpstreamTlsStats {
  std::atomic<uint64_t> full_handshakes{0};
  std::atomic<uint64_t> resumed_handshakes{0};
  std::atomic<uint64_t> failed_handshakes{0};  // refused, broken or timed out

  void count_done(bool resumed) noexcept {
    (resumed ? resumed_handshakes : full_handshakes).fetch_add(1, std::memory_order_relaxed);
  }
  void count_failed() noexcept { failed_handshakes.fetch_add(1, std::memory_order_relaxed); }
};

class ClientContext {
 public:
  // Throws config::ConfigError naming a file or setting that does not load. `previous`: the
  // same cluster's context in the running generation, or null.
  static std::shared_ptr<const ClientContext> build(const config::UpstreamTlsConfig& tls,
                                                    const ClientContext* previous);
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // A client-side SSL, in connect state, to a server whose configured host is `server_host`,
  // offering `slot`'s session (when session_reuse is on) and filling it with the next one.
  // Null when OpenSSL cannot make one (memory).
  SSL* new_connection(const std::string& server_host, SessionSlot& slot) const noexcept;

  const config::UpstreamTlsConfig& config() const noexcept { return config_; }
  UpstreamTlsStats& stats() const noexcept { return *stats_; }

 private:
  explicit ClientContext(const config::UpstreamTlsConfig& tls) : config_(tls) {}
  void configure();
  void load_trust();
  void load_certificate();

  static int on_new_session(SSL* ssl, SSL_SESSION* session);

  config::UpstreamTlsConfig config_;
  SslCtxPtr context_;
  std::shared_ptr<UpstreamTlsStats> stats_;
};

}  // namespace ballast::tls
