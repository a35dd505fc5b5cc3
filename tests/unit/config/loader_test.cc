#include "config/loader.h"

#include <gtest/gtest.h>

#include <string>

namespace ballast::config {
namespace {

// The block from the product brief, verbatim except for its backend hosts.
constexpr const char* kShortBlock = R"(load_balancer:
  algorithm: "weighted_least_connections"
  health_check:
    interval: 30s
    timeout: 5s
    healthy_threshold: 2
    unhealthy_threshold: 3
    path: "/health"
  servers:
    - host: "backend1.example.com"
      port: 8080
      weight: 3
      max_connections: 100
    - host: "backend2.example.com"
      port: 8080
      weight: 2
      max_connections: 100
  session_affinity:
    enabled: true
    method: "cookie"
    cookie_name: "session_id"
circuit_breaker:
  failure_threshold: 50  # percentage
  timeout: 60s
  min_requests: 20
  window_size: 10s
  services:
    database:
      timeout: 30s
      failure_threshold: 40
monitoring:
  metrics:
    enabled: true
    port: 9090
    path: "/metrics"
  logging:
    level: "INFO"
    format: "json"
    output: "stdout"
)";

constexpr const char* kMinimal = R"(load_balancer:
  servers:
    - host: 127.0.0.1
      port: 9001
)";

TEST(ShortShape, TheBriefsBlockLoadsWithItsValues) {
  const Config config = parse_config(kShortBlock, "lb.yaml");
  EXPECT_EQ(config.source, "lb.yaml");

  ASSERT_EQ(config.listeners.size(), 1u);
  const ListenerConfig& listener = config.listeners[0];
  EXPECT_EQ(listener.name, "default");
  EXPECT_EQ(listener.listen.host, "0.0.0.0");
  EXPECT_EQ(listener.listen.port, 8080);
  EXPECT_EQ(listener.mode, ListenerMode::http);
  ASSERT_EQ(listener.routes.size(), 1u);
  EXPECT_EQ(listener.routes[0].host, "");
  EXPECT_EQ(listener.routes[0].path_prefix, "");
  EXPECT_EQ(listener.routes[0].cluster, "default");

  ASSERT_EQ(config.clusters.size(), 1u);
  const ClusterConfig& cluster = config.clusters[0];
  EXPECT_EQ(cluster.name, "default");
  EXPECT_EQ(cluster.algorithm, balance::Algorithm::weighted_least_connections);
  ASSERT_EQ(cluster.servers.size(), 2u);
  EXPECT_EQ(cluster.servers[0].host, "backend1.example.com");
  EXPECT_EQ(cluster.servers[0].port, 8080);
  EXPECT_EQ(cluster.servers[0].weight, 3u);
  EXPECT_EQ(cluster.servers[0].max_connections, 100u);
  EXPECT_FALSE(cluster.servers[0].backup);
  EXPECT_EQ(cluster.servers[1].name(), "backend2.example.com:8080");
  EXPECT_EQ(cluster.servers[1].weight, 2u);

  const HealthCheckConfig& check = cluster.health_check;
  EXPECT_TRUE(check.enabled);
  EXPECT_EQ(check.type, HealthCheckType::http);
  EXPECT_EQ(check.path, "/health");
  EXPECT_EQ(check.interval_ms, 30'000u);
  EXPECT_EQ(check.timeout_ms, 5'000u);
  EXPECT_EQ(check.healthy_threshold, 2u);
  EXPECT_EQ(check.unhealthy_threshold, 3u);

  EXPECT_TRUE(cluster.session_affinity.enabled);
  EXPECT_EQ(cluster.session_affinity.method, AffinityMethod::cookie);
  EXPECT_EQ(cluster.session_affinity.cookie_name, "session_id");

  // window_size and min_requests make it a failure-rate breaker, so 50 is a percentage.
  const CircuitBreakerConfig& breaker = cluster.circuit_breaker;
  EXPECT_TRUE(breaker.enabled);
  EXPECT_EQ(breaker.mode, BreakerMode::rate);
  EXPECT_EQ(breaker.failure_threshold, 50u);
  EXPECT_EQ(breaker.timeout_ms, 60'000u);
  EXPECT_EQ(breaker.min_requests, 20u);
  EXPECT_EQ(breaker.window_type, WindowType::time);
  EXPECT_EQ(breaker.window_size, 10'000u);

  EXPECT_TRUE(config.monitoring.metrics.enabled);
  EXPECT_EQ(config.monitoring.metrics.port, 9090);
  EXPECT_EQ(config.monitoring.metrics.path, "/metrics");
  EXPECT_EQ(config.monitoring.logging.level, LogLevel::info);
  EXPECT_EQ(config.monitoring.logging.format, LogFormat::json);
  EXPECT_EQ(config.monitoring.logging.output, "stdout");

  // `database` names no cluster of the short shape: checked, then ignored with a warning.
  ASSERT_EQ(config.warnings.size(), 1u);
  EXPECT_EQ(config.warnings[0],
            "lb.yaml:28:5: circuit_breaker.services.database: ignored: with load_balancer: the "
            "only cluster is \"default\"");
}

TEST(ShortShape, WhatIsNotWrittenTakesTheDefaults) {
  const Config config = parse_config(kMinimal, "min.yaml");
  EXPECT_TRUE(config.warnings.empty());
  EXPECT_EQ(config.workers, 0u);
  EXPECT_EQ(config.drain_timeout_ms, 30'000u);
  EXPECT_TRUE(config.io_uring);
  EXPECT_EQ(config.timeouts.client_ms, 60'000u);
  EXPECT_EQ(config.admin.listen.host, "127.0.0.1");
  EXPECT_EQ(config.admin.listen.port, 9091);
  EXPECT_EQ(config.admin.token, "");
  EXPECT_FALSE(config.tracing.enabled);
  EXPECT_EQ(config.tracing.sample_rate, 0.01);
  EXPECT_TRUE(config.monitoring.metrics.enabled);
  EXPECT_EQ(config.monitoring.logging.level, LogLevel::info);
  EXPECT_TRUE(config.monitoring.logging.access_log);
  EXPECT_EQ(config.listeners[0].listen.port, 8080);

  const ClusterConfig& cluster = config.clusters[0];
  EXPECT_EQ(cluster.algorithm, balance::Algorithm::round_robin);
  EXPECT_EQ(cluster.servers[0].weight, 1u);
  EXPECT_EQ(cluster.servers[0].max_connections, 0u);
  EXPECT_FALSE(cluster.health_check.enabled);
  EXPECT_FALSE(cluster.outlier_detection.enabled);
  EXPECT_FALSE(cluster.circuit_breaker.enabled);
  EXPECT_FALSE(cluster.session_affinity.enabled);
  EXPECT_EQ(cluster.hash_key.on, HashOn::client_ip);
  EXPECT_EQ(cluster.retry.attempts, 1u);
  EXPECT_EQ(cluster.retry.on, static_cast<uint8_t>(RetryOn::connect_failure));
  EXPECT_EQ(cluster.timeouts.connect_ms, 5'000u);
  EXPECT_EQ(cluster.timeouts.client_ms, 60'000u);
  EXPECT_EQ(cluster.timeouts.server_ms, 60'000u);
  EXPECT_EQ(cluster.pool.idle_per_server, 32u);
  EXPECT_FALSE(cluster.regions.has_value());
  EXPECT_EQ(cluster.panic_threshold, 0u);
}

TEST(ShortShape, TakesListenModeBackupAndEveryClusterKey) {
  const Config config = parse_config(R"(load_balancer:
  listen: "[::]:8443"
  mode: tcp
  algorithm: maglev
  servers:
    - {host: 10.0.0.1, port: 5432}
    - {host: 10.0.0.2, port: 5432, backup: true}
  retry: {attempts: 2, on: [connect_failure]}
  outlier_detection: {}
  panic_threshold: 30
)",
                                     "tcp.yaml");
  EXPECT_EQ(config.listeners[0].listen.host, "::");
  EXPECT_EQ(config.listeners[0].listen.port, 8443);
  EXPECT_EQ(config.listeners[0].mode, ListenerMode::tcp);
  const ClusterConfig& cluster = config.clusters[0];
  EXPECT_TRUE(cluster.servers[1].backup);
  EXPECT_EQ(cluster.retry.attempts, 2u);
  EXPECT_TRUE(cluster.outlier_detection.enabled);  // an empty block turns it on
  EXPECT_EQ(cluster.panic_threshold, 30u);
}

TEST(ShortShape, LogLevelIgnoresCase) {
  for (const char* level : {"debug", "DEBUG", "Debug"}) {
    const Config config = parse_config(
        std::string(kMinimal) + "monitoring:\n  logging:\n    level: " + level + "\n", "x.yaml");
    EXPECT_EQ(config.monitoring.logging.level, LogLevel::debug) << level;
  }
}

TEST(ShortShape, IoUringMayBeTurnedOff) {
  EXPECT_FALSE(parse_config(std::string(kMinimal) + "io_uring: false\n", "x.yaml").io_uring);
}

TEST(ShortShape, ServiceNamedDefaultOverridesTheDefaultCluster) {
  const Config config = parse_config(std::string(kMinimal) + R"(circuit_breaker:
  failure_threshold: 7
  services:
    default:
      timeout: 5s
)",
                                     "x.yaml");
  const CircuitBreakerConfig& breaker = config.clusters[0].circuit_breaker;
  EXPECT_TRUE(breaker.enabled);
  EXPECT_EQ(breaker.mode, BreakerMode::consecutive);
  EXPECT_EQ(breaker.failure_threshold, 7u);
  EXPECT_EQ(breaker.timeout_ms, 5'000u);
  EXPECT_TRUE(config.warnings.empty());
}

constexpr const char* kFull = R"(timeouts: {connect: 1s, server: 20s}
circuit_breaker:
  failure_threshold: 10
  services:
    api: {mode: rate, window_type: count}
listeners:
  - name: web
    listen: :80
    routes:
      - {host: API.Example.com, path_prefix: /v1/, cluster: api}
      - {cluster: web}
  - name: db
    listen: 127.0.0.1:5432
    mode: tcp
    cluster: db
clusters:
  api:
    servers: [{host: 10.0.0.1, port: 80}]
    timeouts: {server: 5s}
  web:
    servers: [{host: 10.0.0.2, port: 80}]
    circuit_breaker: {enabled: false}
  db:
    servers: [{host: 10.0.0.3, port: 5432}]
  spare:
    servers: [{host: 10.0.0.4, port: 80}]
)";

TEST(FullShape, ListenersRouteToNamedClusters) {
  const Config config = parse_config(kFull, "full.yaml");
  ASSERT_EQ(config.listeners.size(), 2u);
  EXPECT_EQ(config.listeners[0].name, "web");
  EXPECT_EQ(config.listeners[0].listen.host, "0.0.0.0");
  ASSERT_EQ(config.listeners[0].routes.size(), 2u);
  EXPECT_EQ(config.listeners[0].routes[0].host, "api.example.com");  // lowercased
  EXPECT_EQ(config.listeners[0].routes[0].path_prefix, "/v1/");
  EXPECT_EQ(config.listeners[0].routes[0].cluster, "api");
  EXPECT_EQ(config.listeners[1].mode, ListenerMode::tcp);
  ASSERT_EQ(config.listeners[1].routes.size(), 1u);
  EXPECT_EQ(config.listeners[1].routes[0].cluster, "db");

  ASSERT_EQ(config.clusters.size(), 4u);
  EXPECT_EQ(config.timeouts.connect_ms, 1'000u);
  EXPECT_EQ(config.timeouts.client_ms, 60'000u);
  EXPECT_EQ(config.timeouts.server_ms, 20'000u);

  const ClusterConfig& api = config.clusters[0];
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.timeouts.connect_ms, 1'000u);  // top level
  EXPECT_EQ(api.timeouts.client_ms, 60'000u);  // built-in default
  EXPECT_EQ(api.timeouts.server_ms, 5'000u);   // its own
  EXPECT_EQ(config.clusters[2].timeouts.server_ms, 20'000u);

  // services.api layers over the top-level breaker: a count window of the default size.
  EXPECT_TRUE(api.circuit_breaker.enabled);
  EXPECT_EQ(api.circuit_breaker.mode, BreakerMode::rate);
  EXPECT_EQ(api.circuit_breaker.failure_threshold, 10u);
  EXPECT_EQ(api.circuit_breaker.window_type, WindowType::count);
  EXPECT_EQ(api.circuit_breaker.window_size, kDefaultCountWindowCalls);
  EXPECT_FALSE(config.clusters[1].circuit_breaker.enabled);
  EXPECT_TRUE(config.clusters[2].circuit_breaker.enabled);
  EXPECT_EQ(config.clusters[2].circuit_breaker.mode, BreakerMode::consecutive);

  ASSERT_EQ(config.warnings.size(), 1u);
  EXPECT_EQ(config.warnings[0],
            "full.yaml:25:3: clusters.spare: no route sends traffic to this cluster");
}

TEST(FullShape, RateModeWithoutAThresholdDefaultsToFiftyPercent) {
  const Config config =
      parse_config(std::string(kMinimal) + "circuit_breaker: {min_requests: 5}\n", "x.yaml");
  EXPECT_EQ(config.clusters[0].circuit_breaker.mode, BreakerMode::rate);
  EXPECT_EQ(config.clusters[0].circuit_breaker.failure_threshold, kDefaultFailureRatePercent);
}

TEST(FullShape, BreakerBlockOfOnlyServicesEnablesOnlyThose) {
  const Config config = parse_config(R"(circuit_breaker:
  services:
    a: {failure_threshold: 3}
listeners:
  - {name: l, listen: ":80", routes: [{path_prefix: /a, cluster: a}, {cluster: b}]}
clusters:
  a: {servers: [{host: h, port: 1}]}
  b: {servers: [{host: h, port: 1}]}
)",
                                     "x.yaml");
  EXPECT_TRUE(config.clusters[0].circuit_breaker.enabled);
  EXPECT_EQ(config.clusters[0].circuit_breaker.failure_threshold, 3u);
  EXPECT_FALSE(config.clusters[1].circuit_breaker.enabled);
}

TEST(FullShape, AliasesShareBlocks) {
  const Config config = parse_config(R"(listeners:
  - {name: l, listen: ":80", routes: [{path_prefix: /a, cluster: a}, {cluster: b}]}
clusters:
  a:
    servers: [{host: h, port: 1}]
    health_check: &check {path: /ping, interval: 2s, timeout: 1s}
  b:
    servers: [{host: h, port: 2}]
    health_check: *check
)",
                                     "x.yaml");
  EXPECT_EQ(config.clusters[1].health_check.path, "/ping");
  EXPECT_EQ(config.clusters[1].health_check.interval_ms, 2'000u);
}

TEST(AdminConfig, AnAdminApiBeyondLoopbackWithoutATokenIsRefused) {
  try {
    parse_config(std::string(kMinimal) + "admin:\n  listen: 0.0.0.0:9091\n", "x.yaml");
    FAIL() << "an open admin API without a token was accepted";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()),
              "x.yaml:6:11: admin.listen: the admin API would accept changes from anyone who can "
              "reach 0.0.0.0:9091; set admin.token, or listen on 127.0.0.1");
  }
  const Config with_token = parse_config(
      std::string(kMinimal) + "admin:\n  listen: 0.0.0.0:9091\n  token: s3cret\n", "x.yaml");
  EXPECT_TRUE(with_token.warnings.empty());
}

TEST(AdminConfig, AllowedHostsAreRead) {
  const Config config = parse_config(
      std::string(kMinimal) + "admin:\n  allowed_hosts: [ops.internal, \"lb1:9091\"]\n", "x.yaml");
  EXPECT_EQ(config.admin.allowed_hosts, (std::vector<std::string>{"ops.internal", "lb1:9091"}));
}

TEST(Examples, BothExampleFilesLoad) {
  const Config short_config = load_config_file(BALLAST_EXAMPLES_DIR "/short.yaml");
  EXPECT_EQ(short_config.clusters[0].servers[0].host, "127.0.0.1");
  EXPECT_EQ(short_config.source, BALLAST_EXAMPLES_DIR "/short.yaml");

  const Config full = load_config_file(BALLAST_EXAMPLES_DIR "/full.yaml");
  EXPECT_TRUE(full.warnings.empty());
  EXPECT_EQ(full.workers, 4u);
  EXPECT_EQ(full.listeners.size(), 2u);
  EXPECT_EQ(full.listeners[1].listen.host, "::1");
  ASSERT_EQ(full.clusters.size(), 5u);
  EXPECT_EQ(full.clusters[1].servers[2].resolve, ResolveMode::srv);
  EXPECT_EQ(full.clusters[2].discovery.etcd_prefix, "/services/reports/");
  EXPECT_EQ(full.etcd.instance, "lb-1");
  const ClusterConfig& api = full.clusters[0];
  EXPECT_EQ(api.algorithm, balance::Algorithm::p2c);
  EXPECT_EQ(api.health_check.expected_status_min, 200);
  EXPECT_EQ(api.health_check.expected_status_max, 399);
  EXPECT_EQ(api.health_check.jitter_ms, 500u);
  EXPECT_EQ(api.outlier_detection.max_ejection_time_ms, 300'000u);
  EXPECT_EQ(api.retry.on, static_cast<uint8_t>(RetryOn::connect_failure) |
                              static_cast<uint8_t>(RetryOn::timeout) |
                              static_cast<uint8_t>(RetryOn::server_error));
  ASSERT_TRUE(api.regions.has_value());
  EXPECT_EQ(api.regions->failover, std::vector<std::string>{"remote"});
  EXPECT_EQ(api.servers[2].region, "remote");
  EXPECT_EQ(full.clusters[1].hash_key.on, HashOn::header);
  EXPECT_EQ(full.clusters[1].hash_key.name, "X-User-Id");
  EXPECT_EQ(full.clusters[1].circuit_breaker.mode, BreakerMode::consecutive);
  EXPECT_EQ(full.clusters[1].circuit_breaker.failure_threshold, 5u);
  EXPECT_EQ(full.clusters[3].session_affinity.header_name, "X-Session");
  EXPECT_EQ(full.clusters[4].health_check.type, HealthCheckType::tcp);
  EXPECT_FALSE(full.clusters[4].circuit_breaker.enabled);
  EXPECT_TRUE(full.tracing.enabled);
  EXPECT_EQ(full.admin.token, "change-me");
}

TEST(SessionAffinity, IpAndHeaderBalanceByConsistentHashing) {
  const Config header = parse_config(
      "load_balancer:\n  algorithm: least_connections\n  servers: [{host: a, port: 80}]\n"
      "  session_affinity: {method: header, header_name: X-User}\n",
      "c.yaml");
  const ClusterConfig& cluster = header.clusters[0];
  EXPECT_EQ(cluster.algorithm, balance::Algorithm::consistent_hash);
  EXPECT_EQ(cluster.hash_key.on, HashOn::header);
  EXPECT_EQ(cluster.hash_key.name, "X-User");
  ASSERT_EQ(header.warnings.size(), 1u);  // least_connections was asked for
  const Config ip = parse_config(
      "load_balancer:\n  algorithm: maglev\n  servers: [{host: a, port: 80}]\n"
      "  session_affinity: {method: ip}\n",
      "c.yaml");
  EXPECT_EQ(ip.clusters[0].algorithm, balance::Algorithm::maglev);
  EXPECT_EQ(ip.clusters[0].hash_key.on, HashOn::client_ip);
  EXPECT_TRUE(ip.warnings.empty());
}

}  // namespace
}  // namespace ballast::config
