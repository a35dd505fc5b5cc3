#pragma once
// A TLS listener's handshake counters, for /metrics and /status.
//
// Owned by the listener's ServerContext and carried to the next generation's while the
// listener keeps its name, so counters run across reloads. Threading: every worker adds with
// relaxed atomics, once per handshake (not per request); the admin thread reads.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace ballast::tls {

// Why a handshake failed, as the metrics label it.
enum class HandshakeError : uint8_t {
  timeout,             // not done within tls.handshake_timeout
  closed,              // the client closed or reset the connection mid-handshake
  protocol_version,    // no TLS version both sides accept (an SSLv3/TLS 1.0 client)
  no_shared_cipher,    // no cipher, group or signature algorithm in common
  client_certificate,  // the client's certificate was missing, unverifiable or refused
  not_tls,             // bytes that are not a TLS record (plain HTTP to an HTTPS port)
  other,
  count,
};

std::string_view handshake_error_name(HandshakeError error) noexcept;

struct TlsStats {
  std::atomic<uint64_t> full_handshakes{0};
  std::atomic<uint64_t> resumed_handshakes{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(HandshakeError::count)> errors{};

  void count_error(HandshakeError error) noexcept {
    errors[static_cast<size_t>(error)].fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace ballast::tls
