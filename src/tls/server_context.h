#pragma once
// A TLS listener's server side: the OpenSSL contexts its certificates are served from, the
// choice among them by SNI, ALPN, resumption, and its handshake counters.
//
// Certificates: each {cert, key} pair is loaded once; pairs valid for the same set of names
// share one context, so an ECDSA and an RSA certificate for the same names are both offered and
// OpenSSL serves the one the client's signature algorithms allow. The first pair's context is
// the default (no SNI, or a name no certificate has). A name listed by two contexts goes to the
// earlier one; an exact name beats a wildcard ("*.example.com", one label).
//
// Settings every context shares (config::TlsListenerConfig): TLS 1.2 and 1.3 unless narrowed;
// config::kDefaultTlsCiphers and OpenSSL's TLS 1.3 suites unless given; groups X25519, P-256,
// P-384; no renegotiation, no compression, no 0-RTT; the server's cipher order; ALPN from the
// listener's list in its order (a client offering none of them gets no ALPN, not an error);
// tickets sealed by the listener's TicketKeyRing, and a server-side session cache.
//
// Lifetime and threading: built on the control side with each generation (start-up, reload,
// --check), then immutable and shared by every worker's connections; an SSL made from it keeps
// its context alive. The contexts' callbacks run on the workers: SNI and ALPN read only this
// object; tickets go through the ring (ticket_keys.h). The ring and the stats are carried to
// the next generation's context of the same listener, so a reload neither breaks resumption nor
// resets counters.

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "tls/certificate.h"
#include "tls/openssl_error.h"
#include "tls/ticket_keys.h"
#include "tls/tls_stats.h"

namespace ballast::tls {

class ServerContext {
 public:
  // Throws config::ConfigError naming a bad file or setting. `previous`: the same listener's
  // context in the running generation, or null.
  static std::shared_ptr<const ServerContext> build(const config::ListenerConfig& listener,
                                                    const ServerContext* previous);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A server-side SSL for a new connection, in accept state, on the default context; null when
  // OpenSSL cannot make one (memory).
  SSL* new_connection() const noexcept;

  const std::string& listener_name() const noexcept { return listener_name_; }
  const config::TlsListenerConfig& config() const noexcept { return config_; }
  const std::vector<Certificate>& certificates() const noexcept { return certificates_; }
  TlsStats& stats() const noexcept { return *stats_; }
  uint64_t handshake_timeout_ms() const noexcept { return config_.handshake_timeout_ms; }

  // The index of the context serving `name` (lowercase), 0 (the default) when none names it.
  size_t context_for(const std::string& name) const;

 private:
  explicit ServerContext(const config::ListenerConfig& listener);
  void add_context(const std::vector<const Certificate*>& pairs);
  void configure(SSL_CTX* context);
  void configure_client_verification(SSL_CTX* context);

  static int on_server_name(SSL* ssl, int* alert, void* arg);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_length,
                     const unsigned char* in, unsigned int in_length, void* arg);

  std::string listener_name_;
  config::TlsListenerConfig config_;
  std::vector<Certificate> certificates_;            // as configured
  std::vector<SslCtxPtr> contexts_;                  // [0] is the default
  std::unordered_map<std::string, size_t> by_name_;  // exact and "*.rest" names -> context
  std::vector<unsigned char> alpn_wire_;             // length-prefixed, our preference order
  std::shared_ptr<TicketKeyRing> ticket_keys_;       // null when tickets are off
  std::shared_ptr<TlsStats> stats_;
};

// The ticket key ring of the context `ssl` was made from (for the ticket callback).
TicketKeyRing* ticket_keys_of(SSL* ssl) noexcept;

}  // namespace ballast::tls
