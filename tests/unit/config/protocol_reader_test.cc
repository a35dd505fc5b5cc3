// A cluster's protocol, http2 and grpc keys (docs/config.md "HTTP/2 to servers").

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_error_of.h"

namespace ballast::config {
namespace {

using test_support::error_of;

std::string cluster_with(const std::string& keys) {
  return "load_balancer:\n"
         "  listen: 127.0.0.1:8080\n"
         "  h2c: true\n"
         "  servers: [{host: 10.0.0.7, port: 50051}]\n" +
         keys;
}

TEST(ProtocolReader, DefaultsToHttp1AndUnavailableAsTheOneGrpcFailure) {
  const ClusterConfig cluster = parse_config(cluster_with(""), "c.yaml").clusters.front();
  EXPECT_EQ(cluster.protocol, UpstreamProtocol::http1);
  EXPECT_EQ(cluster.http2.max_concurrent_streams, 100u);
  for (uint32_t code = 0; code <= 16; ++code) {
    EXPECT_EQ(cluster.grpc.is_failure(code), code == 14) << code;
  }
  EXPECT_FALSE(cluster.upstream_tls.offer_h2);
}

TEST(ProtocolReader, ReadsH2cWithItsStreamCapAndFailureCodesByNameOrNumber) {
  const ClusterConfig cluster =
      parse_config(cluster_with("  protocol: h2c\n"
                                "  http2: {max_concurrent_streams: 8}\n"
                                "  grpc: {failure_codes: [unavailable, INTERNAL, 4]}\n"),
                   "c.yaml")
          .clusters.front();
  EXPECT_EQ(cluster.protocol, UpstreamProtocol::h2c);
  EXPECT_EQ(cluster.http2.max_concurrent_streams, 8u);
  EXPECT_TRUE(cluster.grpc.is_failure(14));
  EXPECT_TRUE(cluster.grpc.is_failure(13));
  EXPECT_TRUE(cluster.grpc.is_failure(4));
  EXPECT_FALSE(cluster.grpc.is_failure(5));
  EXPECT_FALSE(cluster.grpc.is_failure(0));
}

TEST(ProtocolReader, AnEmptyFailureListCountsNoGrpcStatusAsAFailure) {
  const ClusterConfig cluster =
      parse_config(cluster_with("  protocol: h2c\n  grpc: {failure_codes: []}\n"), "c.yaml")
          .clusters.front();
  EXPECT_FALSE(cluster.grpc.is_failure(14));
}

TEST(ProtocolReader, H2OffersAlpnH2OverUpstreamTls) {
  const ClusterConfig cluster =
      parse_config(cluster_with("  protocol: h2\n  upstream_tls: {}\n"), "c.yaml").clusters.front();
  EXPECT_EQ(cluster.protocol, UpstreamProtocol::h2);
  EXPECT_TRUE(cluster.upstream_tls.offer_h2);
}

TEST(ProtocolReader, RefusesWhatCannotWork) {
  EXPECT_EQ(error_of(cluster_with("  protocol: h2\n")),
            "c.yaml:5:13: load_balancer.protocol: h2 is HTTP/2 over TLS: add an upstream_tls "
            "block, or use h2c for cleartext");
  EXPECT_EQ(error_of(cluster_with("  protocol: h2c\n  upstream_tls: {}\n")),
            "c.yaml:5:13: load_balancer.protocol: h2c is HTTP/2 in clear: use h2 with "
            "upstream_tls");
  EXPECT_EQ(error_of(cluster_with("  protocol: http2\n")),
            "c.yaml:5:13: load_balancer.protocol: expected one of http1, h2, h2c; got \"http2\"");
  EXPECT_EQ(error_of(cluster_with("  protocol: h2c\n  http2: {max_concurrent_streams: 0}\n")),
            "c.yaml:6:35: load_balancer.http2.max_concurrent_streams: must be between 1 and "
            "1000, got 0");
  EXPECT_EQ(error_of(cluster_with("  protocol: h2c\n  grpc: {failure_codes: [17]}\n")),
            "c.yaml:6:26: load_balancer.grpc.failure_codes[0]: must be between 0 and 16, got 17");
}

TEST(ProtocolReader, ReadsTheProxyProtocolBothWays) {
  const Config config = parse_config(
      "load_balancer:\n"
      "  listen: 127.0.0.1:8080\n"
      "  proxy_protocol: {trusted: [127.0.0.1, 10.0.0.0/8]}\n"
      "  send_proxy_protocol: v2\n"
      "  servers: [{host: 10.0.0.7, port: 80}]\n",
      "c.yaml");
  const ProxyProtocolListenerConfig& taken = config.listeners.front().proxy_protocol;
  EXPECT_TRUE(taken.trusts(core::resolve("10.1.2.3", 1)));
  EXPECT_TRUE(taken.trusts(core::resolve("127.0.0.1", 1)));
  EXPECT_FALSE(taken.trusts(core::resolve("127.0.0.2", 1)));
  EXPECT_EQ(config.clusters.front().send_proxy_protocol, ProxyProtocolVersion::v2);
  EXPECT_FALSE(parse_config(cluster_with(""), "c.yaml")
                   .listeners.front()
                   .proxy_protocol.trusts(core::resolve("127.0.0.1", 1)));
}

TEST(ProtocolReader, RefusesAProxyProtocolThatCannotWork) {
  EXPECT_EQ(error_of(cluster_with("  proxy_protocol: {}\n")),
            "c.yaml:5:3: load_balancer.proxy_protocol.trusted: missing; the addresses of the "
            "proxies in front that send the header (127.0.0.1, 10.0.0.0/8)");
  EXPECT_EQ(error_of(cluster_with("  proxy_protocol: {trusted: []}\n")),
            "c.yaml:5:29: load_balancer.proxy_protocol.trusted: list at least one address or "
            "range");
  EXPECT_EQ(error_of(cluster_with("  send_proxy_protocol: v3\n")),
            "c.yaml:5:24: load_balancer.send_proxy_protocol: expected one of v1, v2; got \"v3\"");
  EXPECT_EQ(error_of(cluster_with("  protocol: h2c\n  send_proxy_protocol: v1\n")),
            "c.yaml:6:24: load_balancer.send_proxy_protocol: a PROXY protocol header speaks for "
            "one client's connection, and HTTP/2 carries many: use it with protocol: http1");
}

}  // namespace
}  // namespace ballast::config
