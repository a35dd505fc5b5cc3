#include "discovery/server_sets.h"

#include <gtest/gtest.h>

namespace ballast::discovery {
namespace {

config::ServerConfig server(uint16_t port) {
  config::ServerConfig spec;
  spec.host = "127.0.0.1";
  spec.port = port;
  return spec;
}

TEST(ServerSets, AChangedClusterIsHandedOverOnceWithItsLatestList) {
  ServerSets sets;
  EXPECT_TRUE(sets.set("web", {server(1)}));
  EXPECT_FALSE(sets.set("web", {server(1)}));  // the same list changes nothing
  EXPECT_TRUE(sets.set("web", {server(1), server(2)}));
  EXPECT_TRUE(sets.set("api", {}));
  EXPECT_EQ(sets.take_changed(0), (std::set<std::string>{"api", "web"}));
  EXPECT_TRUE(sets.take_changed(0).empty());
  EXPECT_EQ(sets.servers_of("web")->size(), 2u);
  EXPECT_FALSE(sets.servers_of("none").has_value());
  EXPECT_EQ(sets.changes(), 3u);
}

TEST(ServerSets, AListChangedByItsSourceIsBuiltWhenRead) {
  ServerSets sets;
  int builds = 0;
  for (int change = 0; change < 100; ++change) {  // a record at a time
    sets.changed("web", [&builds] {
      ++builds;
      return std::vector<config::ServerConfig>{server(1), server(2)};
    });
  }
  EXPECT_EQ(sets.take_changed(0), std::set<std::string>{"web"});
  EXPECT_EQ(builds, 0);
  EXPECT_EQ(sets.servers_of("web")->size(), 2u);
  EXPECT_EQ(sets.servers_of("web")->size(), 2u);
  EXPECT_EQ(builds, 1);  // once for a hundred changes, and not again until the next
}

TEST(ServerSets, ADroppedBuilderIsNeverCalled) {
  ServerSets sets;
  sets.set("web", {server(1)});
  sets.changed("web", []() -> std::vector<config::ServerConfig> {
    ADD_FAILURE() << "the source is gone";
    return {};
  });
  sets.drop_builder("web");
  EXPECT_EQ(sets.servers_of("web")->size(), 1u);
}

TEST(ServerSets, AListOverTheLimitIsCut) {
  ServerSets sets;
  std::vector<config::ServerConfig> many;
  for (size_t i = 0; i < config::kMaxServersPerCluster + 5; ++i) {
    many.push_back(server(static_cast<uint16_t>(1 + i)));
  }
  sets.set("web", many);
  EXPECT_EQ(sets.servers_of("web")->size(), config::kMaxServersPerCluster);
}

TEST(ServerSets, StopEndsAWait) {
  ServerSets sets;
  sets.stop();
  EXPECT_TRUE(sets.stopped());
  EXPECT_TRUE(sets.take_changed(60'000).empty());  // at once, not in a minute
}

}  // namespace
}  // namespace ballast::discovery
