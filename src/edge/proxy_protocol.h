#pragma once
// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a proxy in
// front of ballast writes before the client's bytes to say whose connection it is, and the one
// ballast writes to a server for the same reason.
//
// Reading is incremental and bounded: a header is at most 107 bytes (v1) or 16 + 65,535 (v2,
// of which ballast keeps only the addresses; TLVs are skipped). Anything that is not a header
// exactly as the specification writes it is `invalid`, and the caller closes the connection:
// a listener that expects the header never guesses (the specification forbids it).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/socket.h"

namespace ballast::edge {

enum class ProxyHeaderStatus : uint8_t {
  incomplete,  // more bytes needed (none of them contradicts a header so far)
  done,
  invalid,
};

struct ProxyHeader {
  ProxyHeaderStatus status = ProxyHeaderStatus::incomplete;
  size_t length = 0;  // bytes of the header (done): the client's own bytes follow
  uint8_t version = 0;
  // The connection's source and destination as the sender saw them. Empty for a v2 LOCAL
  // command (the sender's own health check), "UNKNOWN" (v1), and v2 families other than TCP
  // over IPv4/IPv6: the connection's own addresses stand.
  std::optional<core::SocketAddress> source;
  std::optional<core::SocketAddress> destination;
};

// The most a v2 header may take (16 fixed bytes and a 16-bit length).
inline constexpr size_t kMaxProxyHeaderBytes = 16 + 65'535;

// Reads the header at the start of `bytes`.
ProxyHeader parse_proxy_header(std::span<const uint8_t> bytes) noexcept;

enum class ProxyVersion : uint8_t { v1, v2 };

// The most write_proxy_header writes.
inline constexpr size_t kProxyHeaderWriteBytes = 108;

// Writes the header saying that a connection from `source` to `destination` is proxied: v1
// ("PROXY TCP4 ...\r\n") or v2 (binary, no TLVs). Both addresses of one family (an IPv4 one
// mapped into IPv6 is written as IPv4); "UNKNOWN" (v1) / AF_UNSPEC (v2) when they are not, which
// tells the receiver to keep the connection's own addresses.
// Returns the bytes written to `out`.
size_t write_proxy_header(ProxyVersion version, const core::SocketAddress& source,
                          const core::SocketAddress& destination,
                          std::span<uint8_t, kProxyHeaderWriteBytes> out) noexcept;

// Writes the header that speaks for no client, for a connection of ballast's own (a health
// check): v1 "PROXY UNKNOWN\r\n", v2 LOCAL. Returns the bytes written to `out`.
size_t write_proxy_local_header(ProxyVersion version,
                                std::span<uint8_t, kProxyHeaderWriteBytes> out) noexcept;

}  // namespace ballast::edge
