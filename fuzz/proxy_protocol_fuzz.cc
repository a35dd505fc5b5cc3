// libFuzzer target: the PROXY protocol header a client (or whatever stands in front of ballast)
// sends first (edge/proxy_protocol.h). Contract checked: no crash, no read out of bounds (ASan);
// a header found is within the bytes given, and every shorter prefix of it is `incomplete` (so a
// header trickled a byte at a time reads the same); the addresses found, written again in either
// version, read back the same.

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "edge/proxy_protocol.h"

namespace {

using ballast::edge::ProxyHeader;
using ballast::edge::ProxyHeaderStatus;

bool same(const ballast::core::SocketAddress& a, const ballast::core::SocketAddress& b) {
  return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

// An IPv4 address in IPv6 clothing, which the writer sends as IPv4.
bool v4_mapped(const ballast::core::SocketAddress& address) {
  return address.storage.ss_family == AF_INET6 &&
         IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6&>(address.storage).sin6_addr);
}

void check_round_trip(const ProxyHeader& header, ballast::edge::ProxyVersion version) {
  uint8_t out[ballast::edge::kProxyHeaderWriteBytes];
  const size_t written =
      ballast::edge::write_proxy_header(version, *header.source, *header.destination, out);
  const ProxyHeader again = ballast::edge::parse_proxy_header({out, written});
  if (again.status != ProxyHeaderStatus::done || again.length != written) {
    std::abort();
  }
  if (!v4_mapped(*header.source) && !v4_mapped(*header.destination) &&
      (!again.source || !same(*again.source, *header.source) ||
       !same(*again.destination, *header.destination))) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ProxyHeader header = ballast::edge::parse_proxy_header({data, size});
  if (header.status != ProxyHeaderStatus::done) {
    return 0;
  }
  if (header.length == 0 || header.length > size ||
      header.source.has_value() != header.destination.has_value()) {
    std::abort();
  }
  for (size_t prefix = 0; prefix < header.length; prefix += 1 + prefix / 8) {
    if (ballast::edge::parse_proxy_header({data, prefix}).status != ProxyHeaderStatus::incomplete) {
      std::abort();
    }
  }
  if (header.source) {
    check_round_trip(header, ballast::edge::ProxyVersion::v1);
    check_round_trip(header, ballast::edge::ProxyVersion::v2);
  }
  return 0;
}
