#include "core/address_range.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace ballast::core {
namespace {

SocketAddress v4(const char* text) {
  SocketAddress address;
  auto& in = reinterpret_cast<sockaddr_in&>(address.storage);
  in.sin_family = AF_INET;
  inet_pton(AF_INET, text, &in.sin_addr);
  address.length = sizeof(in);
  return address;
}

SocketAddress v6(const char* text) {
  SocketAddress address;
  auto& in = reinterpret_cast<sockaddr_in6&>(address.storage);
  in.sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &in.sin6_addr);
  address.length = sizeof(in);
  return address;
}

bool in(const char* range, const SocketAddress& address) {
  const std::optional<AddressRange> parsed = parse_address_range(range);
  EXPECT_TRUE(parsed.has_value()) << range;
  return parsed && contains(*parsed, address);
}

TEST(AddressRange, MatchesIpv4Prefixes) {
  EXPECT_TRUE(in("10.0.0.0/8", v4("10.200.3.4")));
  EXPECT_FALSE(in("10.0.0.0/8", v4("11.0.0.1")));
  EXPECT_TRUE(in("192.168.1.128/25", v4("192.168.1.200")));
  EXPECT_FALSE(in("192.168.1.128/25", v4("192.168.1.127")));
  EXPECT_TRUE(in("127.0.0.1", v4("127.0.0.1")));
  EXPECT_FALSE(in("127.0.0.1", v4("127.0.0.2")));
  EXPECT_TRUE(in("0.0.0.0/0", v4("8.8.8.8")));
}

TEST(AddressRange, MatchesIpv6AndMappedIpv4) {
  EXPECT_TRUE(in("2001:db8::/32", v6("2001:db8:1::5")));
  EXPECT_FALSE(in("2001:db8::/32", v6("2001:db9::5")));
  EXPECT_TRUE(in("::1", v6("::1")));
  EXPECT_TRUE(in("10.0.0.0/8", v6("::ffff:10.1.2.3")));
  EXPECT_FALSE(in("10.0.0.0/8", v6("::1")));
  EXPECT_FALSE(in("::/0", v4("10.0.0.1")));  // families do not mix but through the mapping
}

TEST(AddressRange, RefusesWhatIsNotARange) {
  for (const char* bad : {"", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/8x",
                          "example.com", "10.0.0.0/-1"}) {
    EXPECT_FALSE(parse_address_range(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace ballast::core
