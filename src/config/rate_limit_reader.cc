#include "config/rate_limit_reader.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string_view>

#include "config/scalars.h"
#include "http/chars.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 5> kRateLimitKeys = {"requests", "period", "burst", "key",
                                                            "global"};
constexpr std::array<std::string_view, 2> kRateLimitsKeys = {"table_slots", "redis"};
constexpr std::array<std::string_view, 4> kRedisKeys = {"address", "sync_interval", "timeout",
                                                        "key_prefix"};

// More than a million requests a period, or a period over a day, is a typo: the table keeps
// times in microseconds and the counts must fit its 48 bits with room.
constexpr uint64_t kMaxRequests = 1'000'000'000;
constexpr uint64_t kMaxPeriodMs = 86'400'000;
// 2^30 slots is 8 GiB: more is not a rate table but a mistake.
constexpr uint64_t kMinTableSlots = 1'024;
constexpr uint64_t kMaxTableSlots = uint64_t{1} << 30;
constexpr uint64_t kMaxSyncIntervalMs = 100;  // the fleet's counts are at most this stale
constexpr size_t kMaxKeyPrefixBytes = 64;

// `client_ip`, `route`, `header:NAME` or `cookie:NAME`.
void read_key(const Node& node, RateLimitConfig& limit) {
  const std::string text = node.as_string();
  const auto named = [&](std::string_view prefix, RateKeyKind kind) {
    if (text.compare(0, prefix.size(), prefix) != 0) {
      return false;
    }
    limit.key = kind;
    limit.key_name = text.substr(prefix.size());
    if (limit.key_name.empty() || limit.key_name.size() > 128 ||
        !std::all_of(limit.key_name.begin(), limit.key_name.end(),
                     [](char c) { return http::chars::is(c, http::chars::kToken); })) {
      node.fail("expected a name after " + std::string(prefix) +
                " (a header or cookie name, at most 128 characters), got " + node.describe());
    }
    return true;
  };
  if (text == "client_ip") {
    limit.key = RateKeyKind::client_ip;
  } else if (text == "route") {
    limit.key = RateKeyKind::route;
  } else if (!named("header:", RateKeyKind::header) && !named("cookie:", RateKeyKind::cookie)) {
    node.fail("expected client_ip, route, header:NAME or cookie:NAME, got " + node.describe());
  }
}

RedisConfig read_redis(const Node& node) {
  const MapView block = node.as_map(kRedisKeys);
  RedisConfig redis;
  redis.enabled = true;
  const Node address = block.require("address", "the Redis server, host:port (127.0.0.1:6379)");
  const Parsed<Endpoint> endpoint = parse_endpoint(address.as_string());
  if (!endpoint.value) {
    address.fail(endpoint.error);
  }
  redis.host = endpoint.value->host;
  redis.port = endpoint.value->port;
  if (const std::optional<Node> interval = block.find("sync_interval")) {
    redis.sync_interval_ms = interval->as_positive_duration_ms();
    if (redis.sync_interval_ms > kMaxSyncIntervalMs) {
      interval->fail("at most 100ms: the fleet's counts are exchanged at least that often");
    }
  }
  if (const std::optional<Node> timeout = block.find("timeout")) {
    redis.timeout_ms = timeout->as_positive_duration_ms();
  }
  if (const std::optional<Node> prefix = block.find("key_prefix")) {
    redis.key_prefix = prefix->as_string();
    if (redis.key_prefix.size() > kMaxKeyPrefixBytes ||
        !std::all_of(redis.key_prefix.begin(), redis.key_prefix.end(),
                     [](char c) { return c > ' ' && c < 0x7f; })) {
      prefix->fail("expected at most 64 visible ASCII characters, got " + prefix->describe());
    }
  }
  return redis;
}

}  // namespace

RateLimitConfig read_rate_limit(const Node& node, std::string name) {
  const MapView block = node.as_map(kRateLimitKeys);
  RateLimitConfig limit;
  limit.enabled = true;
  limit.name = std::move(name);
  limit.requests = block.require("requests", "how many requests a key may make each period")
                       .as_uint<uint64_t>(1, kMaxRequests);
  if (const std::optional<Node> period = block.find("period")) {
    limit.period_ms = period->as_positive_duration_ms();
    if (limit.period_ms > kMaxPeriodMs) {
      period->fail("at most 24h");
    }
  }
  limit.burst = limit.requests;
  if (const std::optional<Node> burst = block.find("burst")) {
    limit.burst = burst->as_uint<uint64_t>(1, kMaxRequests);
  }
  if (const std::optional<Node> key = block.find("key")) {
    read_key(*key, limit);
  }
  if (const std::optional<Node> global = block.find("global")) {
    limit.global = global->as_bool();
  }
  return limit;
}

RateLimitsConfig read_rate_limits(const Node& node) {
  const MapView block = node.as_map(kRateLimitsKeys);
  RateLimitsConfig limits;
  if (const std::optional<Node> slots = block.find("table_slots")) {
    limits.table_slots = slots->as_uint<uint64_t>(kMinTableSlots, kMaxTableSlots);
  }
  if (const std::optional<Node> redis = block.find("redis")) {
    limits.redis = read_redis(*redis);
  }
  return limits;
}

}  // namespace ballast::config
