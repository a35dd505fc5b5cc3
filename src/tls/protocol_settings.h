#pragma once
// What a listener's and a cluster's TLS contexts set alike: versions, ciphers, key exchange
// groups and the options ballast never leaves on (renegotiation, compression).
//
// Threading: the control side, while a generation's contexts are built.

#include <openssl/ssl.h>

#include <string>

#include "config/config.h"

namespace ballast::tls {

// Key exchange groups, in our order of preference.
inline constexpr const char* kGroups = "X25519:P-256:P-384";

struct ProtocolSettings {
  config::TlsVersion min_version;
  config::TlsVersion max_version;
  const std::string& ciphers;       // empty = config::kDefaultTlsCiphers
  const std::string& ciphersuites;  // empty = OpenSSL's
  const std::string& where;         // "FILE:LINE:COL: key" of the block, for errors
  const char* block;                // "tls" or "upstream_tls", for errors
};

// Applies the settings to `context`, with partial writes and read-ahead (tls_stream.h). Throws
// config::ConfigError when OpenSSL refuses one.
void apply_protocol_settings(SSL_CTX* context, const ProtocolSettings& settings);

// Throws config::ConfigError "<where>: <problem>: <OpenSSL's queued errors>".
[[noreturn]] void fail_with_openssl_errors(const std::string& where, const std::string& problem);

}  // namespace ballast::tls
