#pragma once
// An IP address range in CIDR notation ("10.0.0.0/8", "2001:db8::/32", or one address), and
// whether a peer's address falls in it: which clients ballast trusts to tell it about others
// (forwarding.trusted_proxies).
//
// An IPv4 peer reaching an IPv6 socket arrives as ::ffff:a.b.c.d; it is matched as the IPv4
// address it is.
//
// Threading: plain values, parsed at start-up, read by every worker. Cost of contains(): one
// compare of at most 16 bytes.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/socket.h"

namespace ballast::core {

struct AddressRange {
  bool ipv6 = false;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 in the first 4
  uint8_t prefix_bits = 0;

  bool operator==(const AddressRange&) const = default;
};

// Parses "address" or "address/prefix"; nullopt when it is neither (host bits set after the
// prefix are allowed and ignored, as iptables does).
std::optional<AddressRange> parse_address_range(std::string_view text) noexcept;

bool contains(const AddressRange& range, const SocketAddress& address) noexcept;

}  // namespace ballast::core
