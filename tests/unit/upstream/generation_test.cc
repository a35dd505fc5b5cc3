#include "upstream/generation.h"

#include <gtest/gtest.h>

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
