#include "upstream/server_handover.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace ballast::upstream {
namespace {

constexpr uint64_t kSecondNs = 1'000'000'000;

std::shared_ptr<const config::Config> checked_cluster(std::vector<uint16_t> ports) {
  auto config = std::make_shared<config::Config>();
  config::ClusterConfig cluster;
  cluster.name = "web";
  cluster.health_check.enabled = true;
  cluster.health_check.slow_start_ms = 30'000;
  cluster.circuit_breaker.enabled = true;
  cluster.circuit_breaker.timeout_ms = 60'000;
  for (const uint16_t port : ports) {
    config::ServerConfig server;
    server.host = "127.0.0.1";
    server.port = port;
    cluster.servers.push_back(server);
  }
  config->clusters.push_back(cluster);
  return config;
}

// The old process: 9001 passing and ramping, its breaker open; 9002 failing its checks, drained.
std::shared_ptr<const Generation> old_process(uint64_t now_ns) {
  auto generation = build_generation(checked_cluster({9001, 9002}), nullptr, 1);
  ServerState& first = *generation->clusters[0].servers[0];
  first.passes_checks = true;
  first.ramp_started_ns = now_ns - 5 * kSecondNs;
  first.breaker->trip(now_ns, health::TransitionReason::consecutive_failures);
  ServerState& second = *generation->clusters[0].servers[1];
  second.passes_checks = false;
  second.admin = AdminState::draining;
  return generation;
}

TEST(ServerHandover, TheNewProcessTakesHealthRampAdminStateAndAnOpenBreaker) {
  const uint64_t now_ns = core::monotonic_now_ns();
  const auto lines = describe_server_states(*old_process(now_ns), now_ns);
  ASSERT_EQ(lines.size(), 2u);

  const auto next = build_generation(checked_cluster({9001, 9002}), nullptr, 1);
  EXPECT_EQ(resume_server_states(*next, lines), 2u);
  const ServerState& first = *next->clusters[0].servers[0];
  EXPECT_TRUE(first.passes_checks.load());
  EXPECT_TRUE(first.checks->eligible());
  EXPECT_EQ(first.ramp_started_ns.load(), now_ns - 5 * kSecondNs);
  const health::BreakerSnapshot breaker = first.breaker->snapshot(now_ns);
  EXPECT_EQ(breaker.state, health::BreakerState::open);
  EXPECT_GE(breaker.half_open_at_ns, now_ns + 59 * kSecondNs);  // the old one's end, not a new one
  EXPECT_LE(breaker.half_open_at_ns, now_ns + 61 * kSecondNs);
  const ServerState& second = *next->clusters[0].servers[1];
  EXPECT_FALSE(second.passes_checks.load());
  EXPECT_EQ(second.checks->state(), health::HealthState::unknown);  // as at a reload: one check
  EXPECT_EQ(second.admin.load(), AdminState::draining);
  EXPECT_EQ(second.breaker->state(), health::BreakerState::closed);
}

TEST(ServerHandover, ServersTheNewConfigurationDoesNotHaveAreSkipped) {
  const uint64_t now_ns = core::monotonic_now_ns();
  const auto lines = describe_server_states(*old_process(now_ns), now_ns);
  const auto next = build_generation(checked_cluster({9002, 9003}), nullptr, 1);
  EXPECT_EQ(resume_server_states(*next, lines), 1u);
  EXPECT_EQ(next->clusters[0].servers[0]->admin.load(), AdminState::draining);  // 9002
  EXPECT_EQ(next->clusters[0].servers[1]->admin.load(), AdminState::enabled);   // 9003: new
  EXPECT_EQ(next->clusters[0].servers[1]->breaker->state(), health::BreakerState::closed);
}

TEST(ServerHandover, LinesThatDoNotParseAreSkipped) {
  const auto next = build_generation(checked_cluster({9001}), nullptr, 1);
  EXPECT_EQ(
      resume_server_states(
          *next, {"", "web", "web\t127.0.0.1:9001\t2\t0\t0\t0", "web\t127.0.0.1:9001\t1\tx\t0\t0",
                  "web\t127.0.0.1:9001\t1\t0\t9\t0", "web\t127.0.0.1:9001\t1\t0\t0\t0\textra",
                  "api\t127.0.0.1:9001\t1\t0\t0\t0"}),
      0u);
  EXPECT_EQ(next->clusters[0].servers[0]->admin.load(), AdminState::enabled);
}

}  // namespace
}  // namespace ballast::upstream
