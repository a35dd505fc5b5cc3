#include "edge/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace ballast::edge {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr size_t kV1MaxBytes = 107;  // the specification's bound, CRLF included
constexpr uint8_t kV2Signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr size_t kV2FixedBytes = 16;
constexpr uint8_t kV2Version = 0x20;
constexpr uint8_t kV2Local = 0x00;
constexpr uint8_t kV2Proxy = 0x01;
constexpr uint8_t kV2Inet = 0x10;
constexpr uint8_t kV2Inet6 = 0x20;
constexpr uint8_t kV2Stream = 0x01;
constexpr size_t kV2Inet4Bytes = 12;
constexpr size_t kV2Inet6Bytes = 36;

ProxyHeader invalid() noexcept {
  return {ProxyHeaderStatus::invalid, 0, 0, std::nullopt, std::nullopt};
}

// Whether `bytes` could still begin `expected` (all of it compared that is there).
bool begins(std::span<const uint8_t> bytes, std::span<const uint8_t> expected) noexcept {
  const size_t n = std::min(bytes.size(), expected.size());
  return std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n),
                    expected.begin());
}

std::span<const uint8_t> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Splits `line` at single spaces; false when it has other than `count` fields or an empty one.
template <size_t N>
bool split_fields(std::string_view line, std::string_view (&fields)[N]) noexcept {
  size_t count = 0;
  while (count < N) {
    const size_t space = line.find(' ');
    fields[count++] = line.substr(0, space);
    if (fields[count - 1].empty()) {
      return false;
    }
    if (space == std::string_view::npos) {
      return count == N;
    }
    line.remove_prefix(space + 1);
  }
  return false;
}

std::optional<uint16_t> parse_port(std::string_view text) noexcept {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  uint32_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  return value <= 65535 ? std::optional<uint16_t>(static_cast<uint16_t>(value)) : std::nullopt;
}

// "TCP4"/"TCP6" address text and port into a SocketAddress.
std::optional<core::SocketAddress> parse_endpoint(bool v6, std::string_view ip,
                                                  std::string_view port_text) noexcept {
  const std::optional<uint16_t> port = parse_port(port_text);
  if (!port || ip.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  char text[INET6_ADDRSTRLEN] = {};
  std::memcpy(text, ip.data(), ip.size());
  core::SocketAddress address;
  if (v6) {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(address.storage);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(*port);
    if (inet_pton(AF_INET6, text, &in6.sin6_addr) != 1) {
      return std::nullopt;
    }
    address.length = sizeof(sockaddr_in6);
  } else {
    auto& in4 = reinterpret_cast<sockaddr_in&>(address.storage);
    in4.sin_family = AF_INET;
    in4.sin_port = htons(*port);
    if (inet_pton(AF_INET, text, &in4.sin_addr) != 1) {
      return std::nullopt;
    }
    address.length = sizeof(sockaddr_in);
  }
  return address;
}

ProxyHeader parse_v1(std::span<const uint8_t> bytes) noexcept {
  const size_t scan = std::min(bytes.size(), kV1MaxBytes);
  const auto newline =
      std::find(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(scan), uint8_t{'\n'});
  if (newline == bytes.begin() + static_cast<std::ptrdiff_t>(scan)) {
    return scan == kV1MaxBytes ? invalid() : ProxyHeader{};
  }
  const size_t length = static_cast<size_t>(newline - bytes.begin()) + 1;
  if (length < kV1Prefix.size() + 2 || bytes[length - 2] != '\r') {
    return invalid();
  }
  const std::string_view line(reinterpret_cast<const char*>(bytes.data()) + kV1Prefix.size(),
                              length - kV1Prefix.size() - 2);
  ProxyHeader header{ProxyHeaderStatus::done, length, 1, std::nullopt, std::nullopt};
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
    return header;  // the receiver uses the connection's own addresses
  }
  std::string_view fields[5];
  if (!split_fields(line, fields) || (fields[0] != "TCP4" && fields[0] != "TCP6")) {
    return invalid();
  }
  const bool v6 = fields[0] == "TCP6";
  header.source = parse_endpoint(v6, fields[1], fields[3]);
  header.destination = parse_endpoint(v6, fields[2], fields[4]);
  return header.source && header.destination ? header : invalid();
}

core::SocketAddress v2_inet4(const uint8_t* address, const uint8_t* port) noexcept {
  core::SocketAddress result;
  auto& in4 = reinterpret_cast<sockaddr_in&>(result.storage);
  in4.sin_family = AF_INET;
  std::memcpy(&in4.sin_addr, address, 4);
  std::memcpy(&in4.sin_port, port, 2);  // both in network order
  result.length = sizeof(sockaddr_in);
  return result;
}

core::SocketAddress v2_inet6(const uint8_t* address, const uint8_t* port) noexcept {
  core::SocketAddress result;
  auto& in6 = reinterpret_cast<sockaddr_in6&>(result.storage);
  in6.sin6_family = AF_INET6;
  std::memcpy(&in6.sin6_addr, address, 16);
  std::memcpy(&in6.sin6_port, port, 2);
  result.length = sizeof(sockaddr_in6);
  return result;
}

ProxyHeader parse_v2(std::span<const uint8_t> bytes) noexcept {
  if (bytes.size() < kV2FixedBytes) {
    return {};
  }
  const uint8_t version_command = bytes[12];
  const uint8_t family = bytes[13];
  const size_t body = (size_t{bytes[14]} << 8) | bytes[15];
  const uint8_t command = version_command & 0x0F;
  if ((version_command & 0xF0) != kV2Version || (command != kV2Local && command != kV2Proxy)) {
    return invalid();
  }
  if (bytes.size() < kV2FixedBytes + body) {
    return {};
  }
  ProxyHeader header{ProxyHeaderStatus::done, kV2FixedBytes + body, 2, std::nullopt, std::nullopt};
  if (command == kV2Local || (family & 0x0F) != kV2Stream) {
    return header;  // a health check of the sender's, or not TCP: the connection's own stand
  }
  const uint8_t* block = bytes.data() + kV2FixedBytes;
  if ((family & 0xF0) == kV2Inet) {
    if (body < kV2Inet4Bytes) {
      return invalid();
    }
    header.source = v2_inet4(block, block + 8);
    header.destination = v2_inet4(block + 4, block + 10);
  } else if ((family & 0xF0) == kV2Inet6) {
    if (body < kV2Inet6Bytes) {
      return invalid();
    }
    header.source = v2_inet6(block, block + 32);
    header.destination = v2_inet6(block + 16, block + 34);
  }
  return header;
}

// The address as IPv4 when it is one, or an IPv4 address mapped into IPv6; else as it is.
core::SocketAddress unmapped(const core::SocketAddress& address) noexcept {
  if (address.storage.ss_family != AF_INET6) {
    return address;
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address.storage);
  if (!IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
    return address;
  }
  core::SocketAddress result;
  auto& in4 = reinterpret_cast<sockaddr_in&>(result.storage);
  in4.sin_family = AF_INET;
  in4.sin_port = in6.sin6_port;
  std::memcpy(&in4.sin_addr, in6.sin6_addr.s6_addr + 12, 4);
  result.length = sizeof(sockaddr_in);
  return result;
}

uint16_t port_of(const core::SocketAddress& address) noexcept {
  return ntohs(address.storage.ss_family == AF_INET
                   ? reinterpret_cast<const sockaddr_in&>(address.storage).sin_port
                   : reinterpret_cast<const sockaddr_in6&>(address.storage).sin6_port);
}

// Appends `text` at `at`; the caller sized `out` for the longest header.
size_t put(std::span<uint8_t> out, size_t at, std::string_view text) noexcept {
  std::memcpy(out.data() + at, text.data(), text.size());
  return at + text.size();
}

size_t put_port(std::span<uint8_t> out, size_t at, uint16_t port) noexcept {
  char digits[5];
  size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + port % 10);
    port = static_cast<uint16_t>(port / 10);
  } while (port != 0);
  while (count > 0) {
    out[at++] = static_cast<uint8_t>(digits[--count]);
  }
  return at;
}

size_t write_v1(const core::SocketAddress& source, const core::SocketAddress& destination,
                bool same_family, std::span<uint8_t> out) noexcept {
  if (!same_family) {
    return put(out, 0, "PROXY UNKNOWN\r\n");
  }
  const bool v6 = source.storage.ss_family == AF_INET6;
  size_t at = put(out, 0, v6 ? "PROXY TCP6 " : "PROXY TCP4 ");
  at = put(out, at, core::ip_text(source).view());
  at = put(out, at, " ");
  at = put(out, at, core::ip_text(destination).view());
  at = put(out, at, " ");
  at = put_port(out, at, port_of(source));
  at = put(out, at, " ");
  at = put_port(out, at, port_of(destination));
  return put(out, at, "\r\n");
}

size_t write_v2(const core::SocketAddress& source, const core::SocketAddress& destination,
                bool same_family, std::span<uint8_t> out) noexcept {
  std::memcpy(out.data(), kV2Signature, sizeof(kV2Signature));
  out[12] = kV2Version | kV2Proxy;
  if (!same_family) {
    out[13] = 0x00;  // AF_UNSPEC: the receiver keeps the connection's own addresses
    out[14] = out[15] = 0;
    return kV2FixedBytes;
  }
  uint8_t* block = out.data() + kV2FixedBytes;
  size_t body = 0;
  if (source.storage.ss_family == AF_INET) {
    const auto& from = reinterpret_cast<const sockaddr_in&>(source.storage);
    const auto& to = reinterpret_cast<const sockaddr_in&>(destination.storage);
    out[13] = kV2Inet | kV2Stream;
    std::memcpy(block, &from.sin_addr, 4);
    std::memcpy(block + 4, &to.sin_addr, 4);
    std::memcpy(block + 8, &from.sin_port, 2);
    std::memcpy(block + 10, &to.sin_port, 2);
    body = kV2Inet4Bytes;
  } else {
    const auto& from = reinterpret_cast<const sockaddr_in6&>(source.storage);
    const auto& to = reinterpret_cast<const sockaddr_in6&>(destination.storage);
    out[13] = kV2Inet6 | kV2Stream;
    std::memcpy(block, &from.sin6_addr, 16);
    std::memcpy(block + 16, &to.sin6_addr, 16);
    std::memcpy(block + 32, &from.sin6_port, 2);
    std::memcpy(block + 34, &to.sin6_port, 2);
    body = kV2Inet6Bytes;
  }
  out[14] = 0;
  out[15] = static_cast<uint8_t>(body);
  return kV2FixedBytes + body;
}

}  // namespace

ProxyHeader parse_proxy_header(std::span<const uint8_t> bytes) noexcept {
  if (bytes.empty()) {
    return {};
  }
  if (bytes[0] == 'P') {
    return begins(bytes, as_bytes(kV1Prefix))
               ? (bytes.size() <= kV1Prefix.size() ? ProxyHeader{} : parse_v1(bytes))
               : invalid();
  }
  if (!begins(bytes, kV2Signature)) {
    return invalid();
  }
  return parse_v2(bytes);
}

size_t write_proxy_header(ProxyVersion version, const core::SocketAddress& source,
                          const core::SocketAddress& destination,
                          std::span<uint8_t, kProxyHeaderWriteBytes> out) noexcept {
  const core::SocketAddress from = unmapped(source);
  const core::SocketAddress to = unmapped(destination);
  const bool same_family =
      from.storage.ss_family == to.storage.ss_family &&
      (from.storage.ss_family == AF_INET || from.storage.ss_family == AF_INET6);
  return version == ProxyVersion::v1 ? write_v1(from, to, same_family, out)
                                     : write_v2(from, to, same_family, out);
}

size_t write_proxy_local_header(ProxyVersion version,
                                std::span<uint8_t, kProxyHeaderWriteBytes> out) noexcept {
  if (version == ProxyVersion::v1) {
    return put(out, 0, "PROXY UNKNOWN\r\n");
  }
  std::memcpy(out.data(), kV2Signature, sizeof(kV2Signature));
  out[12] = kV2Version | kV2Local;
  out[13] = 0x00;
  out[14] = out[15] = 0;
  return kV2FixedBytes;
}

}  // namespace ballast::edge
