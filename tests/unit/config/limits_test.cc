// The limits on counts that size memory or a loop (config.h, docs/config.md "Limits"): each one
// loads at its bound and is refused, located, one past it — so that nothing passing --check can
// make a reload ask for memory it cannot have (`pool.idle_per_server: 4000000000` once did).

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_error_of.h"

namespace ballast::config {
namespace {

using test_support::error_of;

// `count` distinct servers as a flow list, on `indent` spaces.
std::string servers(size_t count, size_t first = 0) {
  std::string list = "[";
  for (size_t i = first; i < first + count; ++i) {
    list += (i == first ? "" : ",") + std::string("{host: h") + std::to_string(i / 60'000) +
            ", port: " + std::to_string(i % 60'000 + 1) + "}";
  }
  return list + "]";
}

std::string short_shape(const std::string& cluster_keys) {
  return "load_balancer:\n  servers: [{host: a, port: 80}]\n" + cluster_keys;
}

TEST(Limits, IdleConnectionsPerServer) {
  EXPECT_EQ(error_of(short_shape("  pool: {idle_per_server: 1024}\n")), "(loaded)");
  EXPECT_EQ(error_of(short_shape("  pool: {idle_per_server: 4000000000}\n")),
            "c.yaml:3:27: load_balancer.pool.idle_per_server: must be between 0 and 1024, got "
            "4000000000");
}

TEST(Limits, Workers) {
  EXPECT_EQ(error_of(short_shape("workers: 1024\n")), "(loaded)");
  EXPECT_EQ(error_of(short_shape("workers: 1025\n")),
            "c.yaml:3:10: workers: must be between 0 and 1024, got 1025");
}

TEST(Limits, ServersPerCluster) {
  EXPECT_EQ(error_of("load_balancer:\n  servers: " + servers(10'000) + "\n"), "(loaded)");
  EXPECT_EQ(error_of("load_balancer:\n  servers: " + servers(10'001) + "\n"),
            "c.yaml:2:12: load_balancer.servers: at most 10000 servers in a cluster (a limit, "
            "see Limits in docs/config.md), got 10001");
}

TEST(Limits, ServersInAllClusters) {
  // Eleven clusters of 9,100 servers each: every cluster within its limit, 100,100 in all.
  std::string yaml =
      "listeners:\n  - {name: l, listen: \":80\", routes: [{cluster: c0}]}\n"
      "clusters:\n";
  for (size_t i = 0; i < 11; ++i) {
    yaml += "  c" + std::to_string(i) + ": {servers: " + servers(9'100, i * 9'100) + "}\n";
  }
  EXPECT_NE(error_of(yaml).find(": clusters.c10: at most 100000 servers in all clusters "
                                "together (a limit, see Limits in docs/config.md), got 100100"),
            std::string::npos)
      << error_of(yaml);
}

TEST(Limits, Clusters) {
  std::string yaml =
      "listeners:\n  - {name: l, listen: \":80\", routes: [{cluster: c0}]}\n"
      "clusters:\n";
  for (size_t i = 0; i < 1'001; ++i) {
    yaml += "  c" + std::to_string(i) + ": {servers: [{host: a, port: 80}]}\n";
  }
  EXPECT_EQ(error_of(yaml),
            "c.yaml:4:3: clusters: at most 1000 clusters (a limit, see Limits in "
            "docs/config.md), got 1001");
}

TEST(Limits, ListenersAndRoutes) {
  std::string listeners = "listeners:\n";
  for (size_t i = 0; i < 257; ++i) {
    listeners += "  - {name: l" + std::to_string(i) + ", listen: \":" + std::to_string(1'000 + i) +
                 "\", routes: [{cluster: c}]}\n";
  }
  const std::string clusters = "clusters:\n  c: {servers: [{host: a, port: 80}]}\n";
  EXPECT_EQ(error_of(listeners + clusters),
            "c.yaml:2:3: listeners: at most 256 listeners (a limit, see Limits in "
            "docs/config.md), got 257");

  std::string routes = "[";
  for (size_t i = 0; i < 1'001; ++i) {
    routes +=
        (i == 0 ? "" : ",") + std::string("{path_prefix: /p") + std::to_string(i) + ", cluster: c}";
  }
  const std::string one_listener = "listeners:\n  - name: l\n    listen: \":80\"\n    routes: ";
  EXPECT_EQ(error_of(one_listener + routes + "]\n" + clusters),
            "c.yaml:4:13: listeners[0].routes: at most 1000 routes in a listener (a limit, see "
            "Limits in docs/config.md), got 1001");
}

TEST(Limits, FailoverRegions) {
  std::string failover = "[";
  for (size_t i = 0; i < 64; ++i) {
    failover += (i == 0 ? "" : ",") + std::string("r") + std::to_string(i);
  }
  EXPECT_EQ(error_of(short_shape("  regions: {primary: p, failover: " + failover + "]}\n")),
            "c.yaml:3:35: load_balancer.regions.failover: at most 63 failover regions (a limit, "
            "see Limits in docs/config.md), got 64");
}

TEST(Limits, HealthCheckPath) {
  const std::string fits(1'023, 'a');
  EXPECT_EQ(error_of(short_shape("  health_check: {path: /" + fits + "}\n")), "(loaded)");
  EXPECT_EQ(error_of(short_shape("  health_check: {path: /" + fits + "a}\n")),
            "c.yaml:3:24: load_balancer.health_check.path: at most 1024 bytes (the probe's "
            "request buffer), got 1025");
}

TEST(Limits, BreakerCounts) {
  EXPECT_EQ(error_of(short_shape("  circuit_breaker: {half_open_requests: 1048576}\n")),
            "c.yaml:3:41: load_balancer.circuit_breaker.half_open_requests: must be between 1 "
            "and 1048575, got 1048576");
  EXPECT_EQ(error_of(short_shape("  circuit_breaker: {success_threshold: 1048576}\n")),
            "c.yaml:3:40: load_balancer.circuit_breaker.success_threshold: must be between 1 and "
            "1048575, got 1048576");
  EXPECT_EQ(error_of(short_shape("  circuit_breaker: {window_type: count, window_size: 100000}\n")),
            "(loaded)");
  EXPECT_EQ(
      error_of(short_shape("  circuit_breaker: {window_type: count, window_size: 100001}\n")),
      "c.yaml:3:54: load_balancer.circuit_breaker.window_size: must be between 1 and 100000, got "
      "100001");
}

TEST(Limits, RetryAttemptsAndWeight) {
  EXPECT_EQ(error_of(short_shape("  retry: {attempts: 9}\n")),
            "c.yaml:3:21: load_balancer.retry.attempts: must be between 1 and 8, got 9");
  EXPECT_EQ(error_of("load_balancer:\n  servers: [{host: a, port: 80, weight: 1000001}]\n"),
            "c.yaml:2:41: load_balancer.servers[0].weight: must be between 1 and 1000000, got "
            "1000001");
}

TEST(Limits, Services) {
  std::string services = "circuit_breaker:\n  services:\n";
  for (size_t i = 0; i < 1'001; ++i) {
    services += "    s" + std::to_string(i) + ": {}\n";
  }
  EXPECT_EQ(error_of(short_shape(services)),
            "c.yaml:5:5: circuit_breaker.services: at most 1000 services (a limit, see Limits in "
            "docs/config.md), got 1001");
}

}  // namespace
}  // namespace ballast::config
