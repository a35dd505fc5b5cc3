#include "edge/rate_policy.h"

#include <algorithm>

#include "core/hash.h"

namespace ballast::edge {

uint64_t LimitCounters::total_refused() const noexcept {
  uint64_t total = 0;
  for (const Shard& shard : shards_) {
    total += shard.refused.load(std::memory_order_relaxed);
  }
  return total;
}

std::string_view key_kind_name(config::RateKeyKind kind) noexcept {
  switch (kind) {
    case config::RateKeyKind::client_ip:
      return "client_ip";
    case config::RateKeyKind::header:
      return "header";
    case config::RateKeyKind::cookie:
      return "cookie";
    case config::RateKeyKind::route:
      return "route";
  }
  return "client_ip";
}

namespace {

size_t count_limits(const config::Config& config) {
  size_t count = 0;
  for (const config::ListenerConfig& listener : config.listeners) {
    count += listener.rate_limit.enabled ? 1 : 0;
    for (const config::RouteConfig& route : listener.routes) {
      count += route.rate_limit.enabled ? 1 : 0;
    }
  }
  return count;
}

bool same_limits(const std::vector<GlobalLimit>& a, const std::vector<GlobalLimit>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const GlobalLimit& x, const GlobalLimit& y) {
                      return x.name == y.name && x.limit == y.limit && x.period_ns == y.period_ns;
                    });
}

}  // namespace

RatePolicy::RatePolicy(const config::Config& config, const RatePolicy* previous, uint32_t workers,
                       uint64_t now_ns) {
  limits_.reserve(count_limits(config));
  by_listener_.resize(config.listeners.size());
  for (size_t l = 0; l < config.listeners.size(); ++l) {
    const config::ListenerConfig& listener = config.listeners[l];
    ListenerLimits& limits = by_listener_[l];
    if (listener.rate_limit.enabled) {
      add(listener.rate_limit, listener.name, "*", previous, workers);
      limits.own = &limits_.back();
    }
    limits.routes.resize(listener.routes.size());
    for (size_t r = 0; r < listener.routes.size(); ++r) {
      const config::RouteConfig& route = listener.routes[r];
      if (route.rate_limit.enabled) {
        add(route.rate_limit, listener.name, route.name, previous, workers);
        limits.routes[r] = &limits_.back();
      }
    }
  }
  if (limits_.empty()) {
    return;  // no table: nothing is counted
  }
  const size_t slots = config.rate_limits.table_slots;
  if (previous != nullptr && previous->table_ != nullptr &&
      previous->table_->slots() == RateTable::slots_for(slots)) {
    table_ = previous->table_;
  } else {
    table_ = std::make_shared<RateTable>(slots, now_ns);
  }
  redis_ = config.rate_limits.redis;
  if (redis_.enabled && !global_.empty()) {
    start_sync(previous);
  }
}

std::vector<GlobalLimit> RatePolicy::describe_global_limits() const {
  std::vector<GlobalLimit> described;
  for (const CompiledLimit* limit : global_) {
    described.push_back({limit->config->name, limit->limit, limit->config->period_ms * 1'000'000});
  }
  return described;
}

// The previous exchange goes on if nothing it was made from changed: its connection and the
// counts it follows in the current windows are kept.
void RatePolicy::start_sync(const RatePolicy* previous) {
  global_described_ = describe_global_limits();
  if (previous != nullptr && previous->sync_ != nullptr && previous->table_ == table_ &&
      previous->redis_ == redis_ && same_limits(previous->global_described_, global_described_)) {
    sync_ = previous->sync_;
    return;
  }
  sync_ = std::make_shared<RateSync>(redis_, *table_, global_described_);
  sync_->start();
}

void RatePolicy::add(const config::RateLimitConfig& config, std::string listener, std::string route,
                     const RatePolicy* previous, uint32_t workers) {
  CompiledLimit& limit = limits_.emplace_back();
  limit.config = &config;
  limit.limit = make_rate_limit(config.requests, config.period_ms * 1'000'000, config.burst);
  limit.seed = core::hash64(config.name);
  limit.listener = std::move(listener);
  limit.route = std::move(route);
  if (config.global) {
    limit.global_index = static_cast<uint32_t>(global_.size());
    global_.push_back(&limit);
  }
  if (previous != nullptr) {
    for (const CompiledLimit& before : previous->limits_) {
      if (before.config->name == config.name && before.config->key == config.key &&
          before.counters->shards() == workers) {
        limit.counters = before.counters;
      }
    }
  }
  if (limit.counters == nullptr) {
    limit.counters = std::make_shared<LimitCounters>(workers);
  }
}

}  // namespace ballast::edge
