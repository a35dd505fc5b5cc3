#include "edge/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

// The examples are proxy-protocol.txt's own (HAProxy's specification, sections 2.1 and 2.2).

namespace ballast::edge {
namespace {

std::span<const uint8_t> bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string text(const std::optional<core::SocketAddress>& address) {
  return address ? address->to_string() : "none";
}

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

TEST(ProxyProtocol, ReadsAVersion1HeaderAndLeavesTheRest) {
  const std::string_view input =
      "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\n";
  const ProxyHeader header = parse_proxy_header(bytes(input));
  ASSERT_EQ(header.status, ProxyHeaderStatus::done);
  EXPECT_EQ(header.version, 1);
  EXPECT_EQ(input.substr(header.length), "GET / HTTP/1.1\r\n");
  EXPECT_EQ(text(header.source), "192.168.0.1:56324");
  EXPECT_EQ(text(header.destination), "192.168.0.11:443");

  const ProxyHeader v6 = parse_proxy_header(bytes("PROXY TCP6 2001:db8::1 ::1 65535 80\r\n"));
  ASSERT_EQ(v6.status, ProxyHeaderStatus::done);
  EXPECT_EQ(text(v6.source), "[2001:db8::1]:65535");
  EXPECT_EQ(text(v6.destination), "[::1]:80");
}

TEST(ProxyProtocol, Version1UnknownKeepsTheConnectionsOwnAddresses) {
  for (const std::string_view input : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ::2 1 2\r\n"}) {
    const ProxyHeader header = parse_proxy_header(bytes(input));
    ASSERT_EQ(header.status, ProxyHeaderStatus::done) << input;
    EXPECT_EQ(header.length, input.size());
    EXPECT_FALSE(header.source.has_value());
  }
}

TEST(ProxyProtocol, EveryPrefixOfAHeaderIsIncomplete) {
  const std::string v2 = kV2Signature + std::string("\x21\x11\x00\x0c", 4) +
                         std::string("\x7f\x00\x00\x01\x7f\x00\x00\x02\x1f\x90\x00\x50", 12);
  for (const std::string& input : {std::string("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), v2}) {
    for (size_t size = 0; size < input.size(); ++size) {
      EXPECT_EQ(parse_proxy_header(bytes(std::string_view(input).substr(0, size))).status,
                ProxyHeaderStatus::incomplete)
          << size;
    }
    EXPECT_EQ(parse_proxy_header(bytes(input)).status, ProxyHeaderStatus::done);
  }
}

TEST(ProxyProtocol, RefusesWhatTheSpecificationDoesNotWrite) {
  for (const std::string_view input : {
           "GET / HTTP/1.1\r\n",                      // no header at all
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",        // LF without CR
           "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",        // a field missing
           "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",    // one too many
           "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",     // two spaces
           "PROXY TCP4 ::1 ::1 1 2\r\n",              // IPv6 said to be TCP4
           "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",      // and the other way
           "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",  // a port too large
           "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",    // a leading zero
           "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",     // a sign
           "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",      // not a protocol of v1
           "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",      // case matters
       }) {
    EXPECT_EQ(parse_proxy_header(bytes(input)).status, ProxyHeaderStatus::invalid) << input;
  }
  // A v1 line has at most 107 bytes: 107 without its LF is no header.
  EXPECT_EQ(parse_proxy_header(bytes("PROXY UNKNOWN " + std::string(93, 'x'))).status,
            ProxyHeaderStatus::invalid);
  EXPECT_EQ(parse_proxy_header(bytes("PROXY UNKNOWN " + std::string(92, 'x'))).status,
            ProxyHeaderStatus::incomplete);
}

TEST(ProxyProtocol, ReadsVersion2SkippingTlvs) {
  const std::string tcp4 = kV2Signature + std::string("\x21\x11\x00\x0f", 4) +
                           std::string("\x7f\x00\x00\x01\x7f\x00\x00\x02\x1f\x90\x00\x50", 12) +
                           std::string("\x04\x00\x00", 3) + "rest";  // a PP2_TYPE_NOOP TLV
  const ProxyHeader header = parse_proxy_header(bytes(tcp4));
  ASSERT_EQ(header.status, ProxyHeaderStatus::done);
  EXPECT_EQ(header.version, 2);
  EXPECT_EQ(header.length, 16u + 15u);
  EXPECT_EQ(text(header.source), "127.0.0.1:8080");
  EXPECT_EQ(text(header.destination), "127.0.0.2:80");

  // LOCAL (the sender's own health check) and UNSPEC: the connection's addresses stand.
  for (const std::string& input : {kV2Signature + std::string("\x20\x00\x00\x00", 4),
                                   kV2Signature + std::string("\x21\x00\x00\x00", 4)}) {
    const ProxyHeader own = parse_proxy_header(bytes(input));
    ASSERT_EQ(own.status, ProxyHeaderStatus::done);
    EXPECT_FALSE(own.source.has_value());
  }
}

TEST(ProxyProtocol, RefusesABrokenVersion2) {
  for (const std::string& input : {
           kV2Signature + std::string("\x11\x11\x00\x0c", 4),           // version 1 in a v2 header
           kV2Signature + std::string("\x22\x11\x00\x0c", 4),           // command 2
           kV2Signature + std::string("\x21\x11\x00\x04", 4) + "abcd",  // too short for IPv4
           kV2Signature + std::string("\x21\x21\x00\x0c", 4) + std::string(12, 'a'),  // IPv6
           std::string("\r\n\r\n\0\r\nQUIX\n", 12),  // not the signature
       }) {
    EXPECT_EQ(parse_proxy_header(bytes(input)).status, ProxyHeaderStatus::invalid);
  }
}

TEST(ProxyProtocol, WritesWhatItReads) {
  const core::SocketAddress client = core::resolve("192.0.2.7", 40000);
  const core::SocketAddress local = core::resolve("127.0.0.1", 8080);
  uint8_t out[kProxyHeaderWriteBytes];
  const size_t v1 = write_proxy_header(ProxyVersion::v1, client, local, out);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out), v1),
            "PROXY TCP4 192.0.2.7 127.0.0.1 40000 8080\r\n");
  for (const ProxyVersion version : {ProxyVersion::v1, ProxyVersion::v2}) {
    const size_t written = write_proxy_header(version, client, local, out);
    const ProxyHeader header = parse_proxy_header({out, written});
    ASSERT_EQ(header.status, ProxyHeaderStatus::done);
    EXPECT_EQ(header.length, written);
    EXPECT_EQ(text(header.source), "192.0.2.7:40000");
    EXPECT_EQ(text(header.destination), "127.0.0.1:8080");
  }
  // Longest v1: two full IPv6 addresses and five-digit ports.
  const core::SocketAddress wide = core::resolve("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
  const size_t longest = write_proxy_header(ProxyVersion::v1, wide, wide, out);
  EXPECT_LE(longest, 107u);
  EXPECT_EQ(parse_proxy_header({out, longest}).status, ProxyHeaderStatus::done);
  // Families that differ (a client on IPv6, the listener on IPv4): UNKNOWN / UNSPEC.
  const core::SocketAddress v6 = core::resolve("2001:db8::1", 1);
  const size_t unknown = write_proxy_header(ProxyVersion::v1, v6, local, out);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out), unknown), "PROXY UNKNOWN\r\n");
  const size_t unspec = write_proxy_header(ProxyVersion::v2, v6, local, out);
  EXPECT_EQ(unspec, 16u);
  // An IPv4 client on a dual-stack socket is written as IPv4.
  const core::SocketAddress mapped = core::resolve("::ffff:192.0.2.7", 40000);
  const size_t plain = write_proxy_header(ProxyVersion::v1, mapped, local, out);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out), plain),
            "PROXY TCP4 192.0.2.7 127.0.0.1 40000 8080\r\n");
}

TEST(ProxyProtocol, AHeaderOfOurOwnNamesNobody) {
  uint8_t out[kProxyHeaderWriteBytes];
  const size_t v1 = write_proxy_local_header(ProxyVersion::v1, out);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out), v1), "PROXY UNKNOWN\r\n");
  const size_t v2 = write_proxy_local_header(ProxyVersion::v2, out);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(out), v2),
            kV2Signature + std::string("\x20\x00\x00\x00", 4));
  const ProxyHeader local = parse_proxy_header({out, v2});
  EXPECT_EQ(local.status, ProxyHeaderStatus::done);
  EXPECT_FALSE(local.source.has_value());
}

}  // namespace
}  // namespace ballast::edge
