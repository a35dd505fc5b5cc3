#pragma once
// The request rate limits of one configuration, ready for the request path: each listener's and
// each route's limit compiled (GCRA spacing, the seed that keeps one limit's keys apart from
// another's), the table every worker counts in, and the counts /metrics reads.
//
// The table outlives a reload when its size is unchanged (keys keep their counts), and so do a
// limit's counters when a limit of the same name and key kind is still configured, and the
// fleet's exchange with Redis (RateSync, started here) when the table, rate_limits.redis and the
// global limits are all unchanged.
//
// Owned by a configuration generation (upstream::Generation), shared by every worker and the
// admin thread. Immutable once built, but for the table's slots and the counters (atomics; each
// worker writes its own shard).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "edge/rate_sync.h"
#include "edge/rate_table.h"

namespace ballast::edge {

// Refusals of one limit: a shard per worker, on cache lines of their own.
class LimitCounters {
 public:
  explicit LimitCounters(uint32_t workers) : shards_(workers) {}
  void refused(uint32_t worker) noexcept {
    shards_[worker].refused.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t total_refused() const noexcept;
  size_t shards() const noexcept { return shards_.size(); }

 private:
  struct alignas(64) Shard {
    std::atomic<uint64_t> refused{0};
  };
  std::vector<Shard> shards_;
};

struct CompiledLimit {
  const config::RateLimitConfig* config = nullptr;  // in the generation's configuration
  RateLimit limit;
  uint64_t seed = 0;                   // the hash of the limit's name: its keys' space
  uint32_t global_index = UINT32_MAX;  // among global_limits(); UINT32_MAX for a local one
  std::string listener, route;         // the metric's labels; route "*" for a listener's own
  std::shared_ptr<LimitCounters> counters;
};

// "client_ip", "header", "cookie", "route": the metric's and the log's spelling.
std::string_view key_kind_name(config::RateKeyKind kind) noexcept;

class RatePolicy {
 public:
  // `previous`: the generation before (null at start-up), whose table and counters carry over.
  RatePolicy(const config::Config& config, const RatePolicy* previous, uint32_t workers,
             uint64_t now_ns);

  // The limit of listener `listener` (its index in the configuration), or of its route
  // `route`; null for none.
  const CompiledLimit* listener_limit(size_t listener) const noexcept {
    return by_listener_[listener].own;
  }
  const CompiledLimit* route_limit(size_t listener, size_t route) const noexcept {
    return by_listener_[listener].routes[route];
  }

  RateTable& table() const noexcept { return *table_; }
  const std::vector<CompiledLimit>& limits() const noexcept { return limits_; }
  // The limits whose counts a fleet shares through Redis, by global_index.
  const std::vector<const CompiledLimit*>& global_limits() const noexcept { return global_; }
  bool empty() const noexcept { return limits_.empty(); }
  // The exchange with the fleet's Redis; null without global limits (or without redis).
  RateSync* sync() const noexcept { return sync_.get(); }
  uint64_t sync_interval_ns() const noexcept { return redis_.sync_interval_ms * 1'000'000; }

 private:
  struct ListenerLimits {
    const CompiledLimit* own = nullptr;
    std::vector<const CompiledLimit*> routes;  // per route; null for none
  };

  void add(const config::RateLimitConfig& config, std::string listener, std::string route,
           const RatePolicy* previous, uint32_t workers);
  void start_sync(const RatePolicy* previous);
  std::vector<GlobalLimit> describe_global_limits() const;

  std::shared_ptr<RateTable> table_;
  std::vector<CompiledLimit> limits_;  // never resized after construction: pointed to
  std::vector<ListenerLimits> by_listener_;
  std::vector<const CompiledLimit*> global_;
  config::RedisConfig redis_;
  std::vector<GlobalLimit> global_described_;  // as the sync was given them
  std::shared_ptr<RateSync> sync_;             // after table_: refers to it
};

}  // namespace ballast::edge
