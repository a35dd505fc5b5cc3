#pragma once
// Reads the server name (SNI) from the first bytes a TLS client sends, without terminating TLS:
// what a `mode: tcp` listener routes on (nginx's ssl_preread, HAProxy's req.ssl_sni).
//
// The bytes are untrusted and may stop anywhere: the reader says `incomplete` until the whole
// ClientHello has arrived, and is strict about everything it reads (RFC 8446 §4.1.2, RFC 5246
// §7.4.1.2, RFC 6066 §3): handshake records only, a ClientHello of at most
// kMaxClientHelloBytes (it may span records), every length inside its parent's, no duplicate
// server_name extension, one host_name of 1-255 letters, digits, '-', '_' and '.', with no
// trailing dot. Anything else is `malformed`; a stream that does not start like TLS is `not_tls`.
//
// Threading: a pure function. Cost: one copy of the ClientHello (it may be split across records)
// into a stack buffer, then one pass; no allocation.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ballast::tls {

// nginx's ssl_preread reads within its 16 KiB preread buffer; a ClientHello with post-quantum
// key shares is still under 2 KiB.
inline constexpr size_t kMaxClientHelloBytes = 16 * 1024;
inline constexpr size_t kMaxServerNameBytes = 255;

struct ClientHello {
  enum class Status : uint8_t { incomplete, complete, not_tls, malformed };
  Status status = Status::incomplete;
  std::string_view reason;  // when malformed: a static text for the log

  // complete: the host_name the client asked for, lowercased; empty when it sent none.
  std::string_view server_name() const noexcept { return {name_.data(), name_length_}; }

  std::array<char, kMaxServerNameBytes> name_{};
  size_t name_length_ = 0;
};

// `stream`: the bytes the client has sent so far, from its first.
ClientHello read_client_hello(std::string_view stream) noexcept;

}  // namespace ballast::tls
