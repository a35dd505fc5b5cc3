#include "core/address_range.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

namespace ballast::core {
namespace {

bool prefix_matches(const uint8_t* a, const uint8_t* b, uint8_t bits) noexcept {
  const size_t whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) {
    return false;
  }
  const uint8_t rest = bits % 8;
  if (rest == 0) {
    return true;
  }
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<AddressRange> parse_address_range(std::string_view text) noexcept {
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  AddressRange range;
  range.ipv6 = address.find(':') != std::string::npos;
  if (inet_pton(range.ipv6 ? AF_INET6 : AF_INET, address.c_str(), range.bytes.data()) != 1) {
    return std::nullopt;
  }
  const unsigned max_bits = range.ipv6 ? 128 : 32;
  unsigned bits = max_bits;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() ||
        bits > max_bits) {
      return std::nullopt;
    }
  }
  range.prefix_bits = static_cast<uint8_t>(bits);
  return range;
}

bool contains(const AddressRange& range, const SocketAddress& address) noexcept {
  if (address.storage.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address.storage);
    return !range.ipv6 && prefix_matches(reinterpret_cast<const uint8_t*>(&v4.sin_addr),
                                         range.bytes.data(), range.prefix_bits);
  }
  if (address.storage.ss_family != AF_INET6) {
    return false;
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address.storage);
  const uint8_t* bytes = v6.sin6_addr.s6_addr;
  if (!range.ipv6) {
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    return std::memcmp(bytes, kMappedPrefix, sizeof(kMappedPrefix)) == 0 &&
           prefix_matches(bytes + 12, range.bytes.data(), range.prefix_bits);
  }
  return prefix_matches(bytes, range.bytes.data(), range.prefix_bits);
}

}  // namespace ballast::core
