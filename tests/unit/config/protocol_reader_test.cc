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

}  // namespace
}  // namespace ballast::config
