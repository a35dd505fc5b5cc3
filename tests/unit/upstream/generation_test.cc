#include "upstream/generation.h"

#include <gtest/gtest.h>

#include "core/clock.h"

namespace ballast::upstream {
namespace {

std::shared_ptr<const config::Config> config_with(std::vector<config::ServerConfig> servers) {
  auto config = std::make_shared<config::Config>();
  config::ClusterConfig cluster;
  cluster.name = "web";
  cluster.servers = std::move(servers);
  config->clusters.push_back(cluster);
  return config;
}

config::ServerConfig server(uint16_t port, uint32_t weight = 1) {
  config::ServerConfig spec;
  spec.host = "127.0.0.1";
  spec.port = port;
  spec.weight = weight;
  return spec;
}

TEST(Generation, ServersThatStayKeepTheirStateAcrossAReload) {
  const auto first = build_generation(config_with({server(9001), server(9002)}), nullptr, 1);
  first->clusters[0].servers[0]->active_attempts = 7;  // state the reload must not lose
  const auto second =
      build_generation(config_with({server(9002), server(9001), server(9003)}), first.get(), 1);
  EXPECT_EQ(second->number, first->number + 1);
  EXPECT_EQ(second->clusters[0].servers[1], first->clusters[0].servers[0]);  // 9001, moved
  EXPECT_EQ(second->clusters[0].servers[0], first->clusters[0].servers[1]);  // 9002
  EXPECT_EQ(second->clusters[0].servers[1]->active_attempts.load(), 7u);
  EXPECT_EQ(second->clusters[0].servers[2]->name, "127.0.0.1:9003");  // new: fresh state
}

TEST(Generation, AServerWhoseSettingsChangedStartsAfresh) {
  const auto first = build_generation(config_with({server(9001, 1)}), nullptr, 1);
  const auto second = build_generation(config_with({server(9001, 5)}), first.get(), 1);
  EXPECT_NE(second->clusters[0].servers[0], first->clusters[0].servers[0]);
  EXPECT_EQ(second->clusters[0].servers[0]->config.weight, 5u);
}

TEST(Generation, ADiscoveryChangeKeepsTheStateOfServersThatStay) {
  const auto first = build_generation(config_with({server(9001), server(9002)}), nullptr, 1);
  ASSERT_EQ(set_admin_state(*first, "web", "127.0.0.1:9001", AdminState::draining),
            AdminWrite::done);
  const auto second = with_servers(*first, 0, {server(9001), server(9003)}, 1);
  EXPECT_EQ(second->number, first->number);  // not a reload
  EXPECT_EQ(second->config, first->config);  // the listeners' configuration is the same object
  EXPECT_EQ(second->clusters[0].servers[0], first->clusters[0].servers[0]);
  EXPECT_EQ(second->clusters[0].servers[0]->admin.load(), AdminState::draining);
  EXPECT_EQ(second->clusters[0].servers[1]->name, "127.0.0.1:9003");
  EXPECT_EQ(second->clusters[0].stats, first->clusters[0].stats);
  // The new list lives in the cluster's own settings; the file's stay as they were.
  EXPECT_EQ(second->clusters[0].config->servers.size(), 2u);
  EXPECT_EQ(second->clusters[0].config->servers[1].port, 9003u);
  EXPECT_EQ(first->config->clusters[0].servers[1].port, 9002u);
}

TEST(Generation, ADiscoveredServerConnectsToTheAddressFound) {
  config::ServerConfig named = server(9001);
  named.host = "api.internal";
  named.address = "127.0.0.2";
  const auto generation = build_generation(config_with({named}), nullptr, 1);
  const ServerState& state = *generation->clusters[0].servers[0];
  EXPECT_EQ(state.name, "api.internal:9001");
  EXPECT_EQ(core::ip_text(state.address).view(), "127.0.0.2");
  EXPECT_EQ(state.config.sni(), "api.internal");
}

TEST(Generation, AClusterMayHaveNoServers) {
  const auto first = build_generation(config_with({server(9001)}), nullptr, 1);
  const auto empty = with_servers(*first, 0, {}, 1);
  EXPECT_TRUE(empty->clusters[0].servers.empty());
  const auto back = with_servers(*empty, 0, {server(9001)}, 1);
  EXPECT_EQ(back->clusters[0].servers.size(), 1u);
}

TEST(Generation, AnEjectionGoesOnThroughADiscoveryChange) {
  auto config = std::make_shared<config::Config>(
      *config_with({server(9001), server(9002), server(9003), server(9004)}));
  config->clusters[0].outlier_detection.enabled = true;
  config->clusters[0].outlier_detection.consecutive_failures = 1;
  config->clusters[0].outlier_detection.max_ejection_percent = 50;
  const auto first = build_generation(config, nullptr, 1);
  health::OutlierDetector& before = *first->clusters[0].health->outliers;
  const uint64_t now = core::monotonic_now_ns();
  ASSERT_TRUE(before.record(1, health::TrafficResult::connect_failure, now));  // 9002 ejected
  ASSERT_TRUE(before.is_ejected(1, now));

  const auto second = with_servers(*first, 0, {server(9002), server(9003), server(9005)}, 1);
  const health::OutlierDetector& after = *second->clusters[0].health->outliers;
  EXPECT_TRUE(after.is_ejected(0, now));  // 9002, now first
  EXPECT_FALSE(after.is_ejected(1, now));
  EXPECT_FALSE(after.is_ejected(2, now));  // new
}

TEST(Generation, ClusterLimitsCountOnThroughADiscoveryChange) {
  auto config = std::make_shared<config::Config>(*config_with({server(9001), server(9002)}));
  config->clusters[0].circuit_breaker.enabled = true;
  config->clusters[0].circuit_breaker.max_requests = 2;
  const auto first = build_generation(config, nullptr, 1);
  ASSERT_TRUE(first->clusters[0].health->limits->requests.try_add());  // in flight on `first`
  ASSERT_TRUE(first->clusters[0].health->limits->requests.try_add());

  const auto second = with_servers(*first, 0, {server(9002), server(9003)}, 1);
  EXPECT_NE(second->clusters[0].health, first->clusters[0].health);  // other servers
  EXPECT_EQ(second->clusters[0].health->limits, first->clusters[0].health->limits);
  EXPECT_FALSE(second->clusters[0].health->limits->requests.try_add());  // still two in flight
  first->clusters[0].health->limits->requests.remove();  // one ends on the cluster it started on
  EXPECT_TRUE(second->clusters[0].health->limits->requests.try_add());

  // Other limits at a reload: counted afresh.
  auto changed = std::make_shared<config::Config>(*config);
  changed->clusters[0].circuit_breaker.max_requests = 3;
  const auto third = build_generation(changed, second.get(), 1);
  EXPECT_NE(third->clusters[0].health->limits, second->clusters[0].health->limits);
}

TEST(Generation, AnUnresolvableServerNamesItself) {
  config::ServerConfig bad = server(9001);
  bad.host = "no-such-host.invalid";
  try {
    build_generation(config_with({bad}), nullptr, 1);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("no-such-host.invalid:9001"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace ballast::upstream
