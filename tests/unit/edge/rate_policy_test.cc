// The rate limits of one configuration (edge/rate_policy.h): each listener's and route's limit
// compiled and indexed, the table they count in, and what carries over a reload. Built from
// configurations the loader reads; Redis is left off, as a RateSync would connect.

#include "edge/rate_policy.h"

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "core/hash.h"

namespace ballast::edge {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;
constexpr uint64_t kNow = 5 * kSecond;
constexpr uint32_t kWorkers = 4;

// Listener web (its own limit, then routes api and app, api limited) and listener admin (its
// one route limited); `web_limit` and `api_limit` are flow maps, `top` top-level keys.
std::string two_listeners(const std::string& web_limit, const std::string& api_limit,
                          const std::string& top = "") {
  return "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:8080\n"
         "    rate_limit: " +
         web_limit +
         "\n"
         "    routes:\n"
         "      - {path_prefix: /api/, name: api, cluster: app, rate_limit: " +
         api_limit +
         "}\n"
         "      - {cluster: app}\n"
         "  - name: admin\n"
         "    listen: 127.0.0.1:8081\n"
         "    routes:\n"
         "      - {cluster: app, rate_limit: {requests: 1}}\n"
         "clusters:\n"
         "  app: {servers: [{host: 10.0.0.7, port: 80}]}\n" +
         top;
}

config::Config load(const std::string& yaml) {
  return config::parse_config(yaml, "c.yaml");
}

config::Config load_default() {
  return load(two_listeners("{requests: 100}", "{requests: 10, key: 'header:X-Api-Key'}",
                            "rate_limits: {table_slots: 4096}\n"));
}

TEST(RatePolicy, IndexesEachListenersAndRoutesLimit) {
  const config::Config config = load_default();
  const RatePolicy policy(config, nullptr, kWorkers, kNow);
  ASSERT_EQ(policy.limits().size(), 3u);
  EXPECT_FALSE(policy.empty());

  const CompiledLimit* web = policy.listener_limit(0);
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->config, &config.listeners[0].rate_limit);
  EXPECT_EQ(web->listener, "web");
  EXPECT_EQ(web->route, "*");
  EXPECT_EQ(web->limit, make_rate_limit(100, kSecond, 100));
  EXPECT_EQ(web->seed, core::hash64("web"));

  const CompiledLimit* api = policy.route_limit(0, 0);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->config, &config.listeners[0].routes[0].rate_limit);
  EXPECT_EQ(api->listener, "web");
  EXPECT_EQ(api->route, "api");
  EXPECT_EQ(api->limit, make_rate_limit(10, kSecond, 10));
  EXPECT_EQ(api->seed, core::hash64("web/api"));
  EXPECT_EQ(policy.route_limit(0, 1), nullptr);

  EXPECT_EQ(policy.listener_limit(1), nullptr);
  const CompiledLimit* admin = policy.route_limit(1, 0);
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->listener, "admin");
  EXPECT_EQ(admin->route, "app");
}

TEST(RatePolicy, EachLimitHasCountersWithAShardPerWorker) {
  const config::Config config = load_default();
  const RatePolicy policy(config, nullptr, kWorkers, kNow);
  for (const CompiledLimit& limit : policy.limits()) {
    ASSERT_NE(limit.counters, nullptr);
    EXPECT_EQ(limit.counters->shards(), kWorkers);
    EXPECT_EQ(limit.global_index, UINT32_MAX);
  }
  LimitCounters& counters = *policy.listener_limit(0)->counters;
  counters.refused(0);
  counters.refused(3);
  counters.refused(3);
  EXPECT_EQ(counters.total_refused(), 3u);
  EXPECT_EQ(policy.route_limit(0, 0)->counters->total_refused(), 0u);
}

TEST(RatePolicy, TheTableHasTheConfiguredSlots) {
  const config::Config config = load_default();
  const RatePolicy policy(config, nullptr, kWorkers, kNow);
  EXPECT_EQ(policy.table().slots(), 4096u);
}

TEST(RatePolicy, WithoutLimitsNothingIsCompiled) {
  const config::Config config = load(
      "listeners:\n"
      "  - name: web\n"
      "    listen: 127.0.0.1:8080\n"
      "    routes: [{cluster: app}]\n"
      "clusters:\n"
      "  app: {servers: [{host: 10.0.0.7, port: 80}]}\n");
  const RatePolicy policy(config, nullptr, kWorkers, kNow);
  EXPECT_TRUE(policy.empty());
  EXPECT_TRUE(policy.global_limits().empty());
  EXPECT_EQ(policy.listener_limit(0), nullptr);
  EXPECT_EQ(policy.route_limit(0, 0), nullptr);
  EXPECT_EQ(policy.sync(), nullptr);
}

// Global limits in the configuration's order: a listener's own, then its routes', listener by
// listener. Redis is switched off after loading (the loader requires it for global limits).
TEST(RatePolicy, GlobalLimitsAreInConfigurationOrderAndNeedRedisToSync) {
  config::Config config =
      load(two_listeners("{requests: 100, global: true}", "{requests: 10, global: true}",
                         "rate_limits: {redis: {address: 127.0.0.1:6379}}\n"));
  config.listeners[1].routes[0].rate_limit.global = true;
  config.rate_limits.redis.enabled = false;
  const RatePolicy policy(config, nullptr, kWorkers, kNow);
  ASSERT_EQ(policy.global_limits().size(), 3u);
  EXPECT_EQ(policy.global_limits()[0], policy.listener_limit(0));
  EXPECT_EQ(policy.global_limits()[1], policy.route_limit(0, 0));
  EXPECT_EQ(policy.global_limits()[2], policy.route_limit(1, 0));
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(policy.global_limits()[i]->global_index, i);
  }
  EXPECT_EQ(policy.sync(), nullptr);
}

TEST(RatePolicy, OnlyGlobalLimitsAreListedAsGlobal) {
  config::Config config = load(two_listeners("{requests: 100}", "{requests: 10, global: true}",
                                             "rate_limits: {redis: {address: 127.0.0.1:6379}}\n"));
  config.rate_limits.redis.enabled = false;
  const RatePolicy policy(config, nullptr, kWorkers, kNow);
  ASSERT_EQ(policy.global_limits().size(), 1u);
  EXPECT_EQ(policy.global_limits()[0], policy.route_limit(0, 0));
  EXPECT_EQ(policy.route_limit(0, 0)->global_index, 0u);
  EXPECT_EQ(policy.listener_limit(0)->global_index, UINT32_MAX);
}

TEST(RatePolicy, AReloadKeepsTheTableAndEachSameNamedLimitsCounters) {
  const config::Config before = load_default();
  const RatePolicy first(before, nullptr, kWorkers, kNow);
  // The rates change; the names, key kinds and the table's size do not.
  const config::Config after =
      load(two_listeners("{requests: 50, burst: 5}", "{requests: 20, key: 'header:X-Api-Key'}",
                         "rate_limits: {table_slots: 4096}\n"));
  const RatePolicy second(after, &first, kWorkers, kNow + kSecond);
  EXPECT_EQ(&second.table(), &first.table());
  EXPECT_EQ(second.listener_limit(0)->counters, first.listener_limit(0)->counters);
  EXPECT_EQ(second.route_limit(0, 0)->counters, first.route_limit(0, 0)->counters);
  EXPECT_EQ(second.route_limit(1, 0)->counters, first.route_limit(1, 0)->counters);
  // The limits themselves are the new configuration's.
  EXPECT_EQ(second.listener_limit(0)->config, &after.listeners[0].rate_limit);
  EXPECT_EQ(second.listener_limit(0)->limit, make_rate_limit(50, kSecond, 5));
}

TEST(RatePolicy, ALimitOfAnotherKeyKindOrWorkerCountStartsNewCounters) {
  const config::Config before = load_default();
  const RatePolicy first(before, nullptr, kWorkers, kNow);
  const config::Config other_key =
      load(two_listeners("{requests: 100}", "{requests: 10, key: 'cookie:session'}",
                         "rate_limits: {table_slots: 4096}\n"));
  const RatePolicy second(other_key, &first, kWorkers, kNow);
  EXPECT_NE(second.route_limit(0, 0)->counters, first.route_limit(0, 0)->counters);
  EXPECT_EQ(second.listener_limit(0)->counters, first.listener_limit(0)->counters);

  const RatePolicy more_workers(before, &first, kWorkers + 1, kNow);
  EXPECT_NE(more_workers.listener_limit(0)->counters, first.listener_limit(0)->counters);
  EXPECT_EQ(more_workers.listener_limit(0)->counters->shards(), kWorkers + 1);
  EXPECT_EQ(&more_workers.table(), &first.table());
}

TEST(RatePolicy, ARenamedRouteStartsNewCounters) {
  const config::Config before = load_default();
  const RatePolicy first(before, nullptr, kWorkers, kNow);
  config::Config renamed = load_default();
  renamed.listeners[0].routes[0].rate_limit.name = "web/v2";  // as `name: v2` would name it
  const RatePolicy second(renamed, &first, kWorkers, kNow);
  EXPECT_NE(second.route_limit(0, 0)->counters, first.route_limit(0, 0)->counters);
  EXPECT_EQ(second.route_limit(0, 0)->counters->total_refused(), 0u);
}

TEST(RatePolicy, AnotherTableSizeMakesANewTable) {
  const config::Config before = load_default();
  const RatePolicy first(before, nullptr, kWorkers, kNow);
  const config::Config bigger =
      load(two_listeners("{requests: 100}", "{requests: 10, key: 'header:X-Api-Key'}",
                         "rate_limits: {table_slots: 8192}\n"));
  const RatePolicy second(bigger, &first, kWorkers, kNow);
  EXPECT_NE(&second.table(), &first.table());
  EXPECT_EQ(second.table().slots(), 8192u);
  // The counters carry over all the same.
  EXPECT_EQ(second.listener_limit(0)->counters, first.listener_limit(0)->counters);
}

TEST(RatePolicy, ATableAppearsWhenLimitsAreAddedOnAReload) {
  const config::Config none = load(
      "listeners:\n"
      "  - name: web\n"
      "    listen: 127.0.0.1:8080\n"
      "    routes: [{cluster: app}]\n"
      "clusters:\n"
      "  app: {servers: [{host: 10.0.0.7, port: 80}]}\n"
      "rate_limits: {table_slots: 4096}\n");
  const RatePolicy first(none, nullptr, kWorkers, kNow);
  const config::Config limited = load_default();
  const RatePolicy second(limited, &first, kWorkers, kNow);
  EXPECT_FALSE(second.empty());
  EXPECT_EQ(second.table().slots(), 4096u);
}

}  // namespace
}  // namespace ballast::edge
