// Request rate limits (config/rate_limit_reader.h, docs/config.md "Rate limits"): a listener's
// and a route's `rate_limit:`, and the top-level `rate_limits:`, read through the loader.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config_error_of.h"
#include "listener_yaml.h"

namespace ballast::config {
namespace {

using test_support::error_of;

const std::string kClusters = "clusters:\n  app: {servers: [{host: 10.0.0.7, port: 80}]}\n";

// Listener web with `rate_limit: LIMIT` at line 4 and one route; `top` is added after clusters:.
std::string with_listener_limit(const std::string& limit, const std::string& top = "") {
  return "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:8080\n"
         "    rate_limit: " +
         limit +
         "\n"
         "    routes:\n"
         "      - {cluster: app}\n" +
         kClusters + top;
}

// Listener web with `routes`, one a line from line 5; `top` is added after clusters:.
std::string with_routes(const std::vector<std::string>& routes, const std::string& top = "") {
  return test_support::web_listener(routes) + kClusters + top;
}

RateLimitConfig listener_limit(const std::string& limit) {
  return parse_config(with_listener_limit(limit), "c.yaml").listeners.front().rate_limit;
}

TEST(RateLimitReader, AListenerLimitLoadsWithTheDefaults) {
  const RateLimitConfig limit = listener_limit("{requests: 100}");
  EXPECT_TRUE(limit.enabled);
  EXPECT_EQ(limit.requests, 100u);
  EXPECT_EQ(limit.period_ms, 1'000u);
  EXPECT_EQ(limit.burst, 100u);  // a period's worth
  EXPECT_EQ(limit.key, RateKeyKind::client_ip);
  EXPECT_EQ(limit.key_name, "");
  EXPECT_FALSE(limit.global);
  EXPECT_EQ(limit.name, "web");
}

TEST(RateLimitReader, AListenerWithoutTheBlockHasNoLimit) {
  const Config config = parse_config(with_routes({"{cluster: app}"}), "c.yaml");
  EXPECT_FALSE(config.listeners.front().rate_limit.enabled);
  EXPECT_FALSE(config.listeners.front().routes.front().rate_limit.enabled);
}

TEST(RateLimitReader, PeriodAndBurstAreRead) {
  const RateLimitConfig limit = listener_limit("{requests: 600, period: 1m, burst: 20}");
  EXPECT_EQ(limit.requests, 600u);
  EXPECT_EQ(limit.period_ms, 60'000u);
  EXPECT_EQ(limit.burst, 20u);
}

TEST(RateLimitReader, ARouteLimitIsNamedListenerSlashRoute) {
  const Config config = parse_config(
      with_routes({"{path_prefix: /api/, name: api, cluster: app, rate_limit: {requests: 5}}",
                   "{path_prefix: /static/, cluster: app}",
                   "{cluster: app, rate_limit: {requests: 7, period: 10s}}"}),
      "c.yaml");
  const std::vector<RouteConfig>& routes = config.listeners.front().routes;
  EXPECT_FALSE(config.listeners.front().rate_limit.enabled);
  EXPECT_TRUE(routes[0].rate_limit.enabled);
  EXPECT_EQ(routes[0].rate_limit.name, "web/api");
  EXPECT_EQ(routes[0].rate_limit.requests, 5u);
  EXPECT_EQ(routes[0].rate_limit.burst, 5u);
  EXPECT_FALSE(routes[1].rate_limit.enabled);
  EXPECT_EQ(routes[2].rate_limit.name, "web/app");  // the cluster's name is the route's
  EXPECT_EQ(routes[2].rate_limit.period_ms, 10'000u);
}

TEST(RateLimitReader, EveryKeyKindLoads) {
  EXPECT_EQ(listener_limit("{requests: 1, key: client_ip}").key, RateKeyKind::client_ip);
  EXPECT_EQ(listener_limit("{requests: 1, key: route}").key, RateKeyKind::route);
  const RateLimitConfig header = listener_limit("{requests: 1, key: 'header:X-Api-Key'}");
  EXPECT_EQ(header.key, RateKeyKind::header);
  EXPECT_EQ(header.key_name, "X-Api-Key");
  const RateLimitConfig cookie = listener_limit("{requests: 1, key: 'cookie:session'}");
  EXPECT_EQ(cookie.key, RateKeyKind::cookie);
  EXPECT_EQ(cookie.key_name, "session");
}

TEST(RateLimitReader, WithoutRateLimitsTheTableHasItsDefaultSizeAndNoRedis) {
  const Config config = parse_config(with_listener_limit("{requests: 1}"), "c.yaml");
  EXPECT_EQ(config.rate_limits.table_slots, uint64_t{1} << 21);
  EXPECT_FALSE(config.rate_limits.redis.enabled);
}

TEST(RateLimitReader, TheRateLimitsBlockLoads) {
  const Config config = parse_config(
      with_listener_limit("{requests: 10, global: true}",
                          "rate_limits:\n"
                          "  table_slots: 4096\n"
                          "  redis: {address: 10.0.0.9:6380, sync_interval: 50ms, timeout: 250ms, "
                          "key_prefix: 'fleet:rl:'}\n"),
      "c.yaml");
  EXPECT_TRUE(config.listeners.front().rate_limit.global);
  EXPECT_EQ(config.rate_limits.table_slots, 4096u);
  const RedisConfig& redis = config.rate_limits.redis;
  EXPECT_TRUE(redis.enabled);
  EXPECT_EQ(redis.host, "10.0.0.9");
  EXPECT_EQ(redis.port, 6380);
  EXPECT_EQ(redis.sync_interval_ms, 50u);
  EXPECT_EQ(redis.timeout_ms, 250u);
  EXPECT_EQ(redis.key_prefix, "fleet:rl:");
}

TEST(RateLimitReader, RedisTakesItsDefaultsButTheAddress) {
  const RedisConfig redis =
      parse_config(
          with_listener_limit("{requests: 1}", "rate_limits: {redis: {address: r:6379}}\n"),
          "c.yaml")
          .rate_limits.redis;
  EXPECT_EQ(redis.host, "r");
  EXPECT_EQ(redis.sync_interval_ms, 100u);
  EXPECT_EQ(redis.timeout_ms, 1'000u);
  EXPECT_EQ(redis.key_prefix, "ballast:rl:");
}

struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string message;  // the whole what(), with the source named "c.yaml"
};

class RateLimitReaderErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(RateLimitReaderErrors, SayWhereWhichKeyAndWhat) {
  EXPECT_EQ(error_of(GetParam().yaml), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, RateLimitReaderErrors,
    testing::Values(
        ErrorCase{"NoRequests", with_listener_limit("{requests: 0}"),
                  "c.yaml:4:28: listeners[0].rate_limit.requests: must be between 1 and "
                  "1000000000, got 0"},
        ErrorCase{"PeriodOverADay", with_listener_limit("{requests: 1, period: 25h}"),
                  "c.yaml:4:39: listeners[0].rate_limit.period: at most 24h"},
        ErrorCase{"UnknownKeyKind", with_listener_limit("{requests: 1, key: ip}"),
                  "c.yaml:4:36: listeners[0].rate_limit.key: expected client_ip, route, "
                  "header:NAME or cookie:NAME, got \"ip\""},
        ErrorCase{"HeaderWithoutAName", with_listener_limit("{requests: 1, key: 'header:'}"),
                  "c.yaml:4:36: listeners[0].rate_limit.key: expected a name after header: "
                  "(a header or cookie name, at most 128 characters), got the string \"header:\""},
        ErrorCase{"SyncIntervalOver100ms",
                  with_listener_limit("{requests: 1}",
                                      "rate_limits:\n  redis: {address: r:6379, sync_interval: "
                                      "200ms}\n"),
                  "c.yaml:10:43: rate_limits.redis.sync_interval: at most 100ms: the fleet's "
                  "counts are exchanged at least that often"},
        ErrorCase{"TableBelow1024Slots",
                  with_listener_limit("{requests: 1}", "rate_limits: {table_slots: 1023}\n"),
                  "c.yaml:9:28: rate_limits.table_slots: must be between 1024 and 1073741824, "
                  "got 1023"},
        ErrorCase{"GlobalWithoutRedis", with_listener_limit("{requests: 1, global: true}"),
                  "c.yaml:1:1: rate_limits.redis: rate limit web is global: add "
                  "rate_limits.redis with the fleet's Redis address"},
        ErrorCase{"TwoLimitedRoutesOfOneName",
                  with_routes({"{path_prefix: /a/, cluster: app, rate_limit: {requests: 1}}",
                               "{path_prefix: /b/, cluster: app, rate_limit: {requests: 2}}"}),
                  "c.yaml:6:54: listeners[0].routes[1].rate_limit: another route of this "
                  "listener named app has a rate limit: give the routes their own name:"},
        ErrorCase{"OnATcpListener",
                  "listeners:\n"
                  "  - name: db\n"
                  "    listen: 127.0.0.1:5432\n"
                  "    mode: tcp\n"
                  "    rate_limit: {requests: 1}\n"
                  "    cluster: app\n" +
                      kClusters,
                  "c.yaml:5:17: listeners[0].rate_limit: a tcp listener sees no requests: rate "
                  "limits are for http listeners"}),
    [](const testing::TestParamInfo<ErrorCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ballast::config
