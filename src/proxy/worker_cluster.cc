#include "proxy/worker_cluster.h"

#include <algorithm>
#include <unordered_map>

#include "core/clock.h"
#include "health/health_tracker.h"
#include "proxy/health_events.h"
#include "upstream/eligibility.h"

namespace ballast::proxy {
namespace {

// Hash policies send a key to its server; skipping a ramping server would move keys about, so
// slow start leaves them alone (as Envoy applies it to round robin and least request only).
bool may_skip_for_slow_start(const config::ClusterConfig& cluster) {
  const balance::Algorithm algorithm = cluster.algorithm;
  return cluster.health_check.enabled && cluster.health_check.slow_start_ms != 0 &&
         algorithm != balance::Algorithm::ip_hash &&
         algorithm != balance::Algorithm::consistent_hash &&
         algorithm != balance::Algorithm::maglev;
}

health::TrafficResult traffic_result(AttemptEnd end) noexcept {
  switch (end) {
    case AttemptEnd::connect_failure:
      return health::TrafficResult::connect_failure;
    case AttemptEnd::reset:
      return health::TrafficResult::reset;
    case AttemptEnd::timeout:
      return health::TrafficResult::timeout;
    case AttemptEnd::server_error:
      return health::TrafficResult::server_error;
    default:
      return health::TrafficResult::success;
  }
}

// The counter of a failed attempt, by kind (server_stats.h).
observe::FailureKind failure_kind(AttemptEnd end) noexcept {
  switch (end) {
    case AttemptEnd::connect_failure:
      return observe::FailureKind::connect_failure;
    case AttemptEnd::timeout:
      return observe::FailureKind::timeout;
    case AttemptEnd::server_error:
      return observe::FailureKind::server_error;
    default:
      return observe::FailureKind::reset;
  }
}

bool is_failure(AttemptEnd end) noexcept {
  return end != AttemptEnd::success && end != AttemptEnd::cancelled;
}

}  // namespace

WorkerCluster::WorkerCluster(core::EventLoop& loop,
                             std::shared_ptr<const upstream::ClusterState> shared_state,
                             uint32_t worker, uint64_t seed, bool reporter)
    : state_(std::move(shared_state)),
      balancer_(state_->config->algorithm, upstream::server_specs(*state_), seed,
                state_->hash_tables.get()),
      random_(seed ^ 0x5157'a2f1'0c3e'9d47ULL),
      worker_(worker),
      reporter_(reporter),
      slow_start_(may_skip_for_slow_start(*state_->config)),
      region_ranks_(upstream::region_ranks(*state_)) {
  const upstream::ClusterState& state = *state_;
  const config::ClusterConfig& cluster = *state.config;
  for (size_t i = 0; i < state.servers.size(); ++i) {
    pools_.push_back(std::make_shared<upstream::ConnectionPool>(loop, cluster.pool.idle_per_server,
                                                                cluster.pool.idle_timeout_ms));
    if (cluster.protocol != config::UpstreamProtocol::http1) {
      http2::ClientLimits limits;
      limits.max_streams = cluster.http2.max_concurrent_streams;
      http2_pools_.push_back(std::make_shared<upstream::Http2Pool>(
          loop, *pools_.back(), limits, cluster.pool.idle_timeout_ms, cluster.timeouts.connect_ms,
          cluster_stats()));
    }
    affinity_index_.emplace_back(state.servers[i]->affinity_id,
                                 static_cast<balance::ServerIndex>(i));
    affinity_cookies_.push_back(cluster.session_affinity.cookie_name + "=" +
                                state.servers[i]->affinity_id + "; Path=/; HttpOnly");
  }
  std::sort(affinity_index_.begin(), affinity_index_.end());
  active_.assign(state.servers.size(), 0);
  lineage_ = std::make_shared<Lineage>(Lineage{this});

  if (cluster.circuit_breaker.enabled &&
      cluster.circuit_breaker.mode == config::BreakerMode::predictive) {
    predictors_.reserve(state.servers.size());
    for (size_t i = 0; i < state.servers.size(); ++i) {
      predictors_.emplace_back(cluster.circuit_breaker);
    }
  }
}

WorkerCluster::~WorkerCluster() {
  if (lineage_->current == this) {
    lineage_->current = nullptr;
  }
}

void WorkerCluster::hand_over_to(WorkerCluster& successor) {
  successor.retry_budget_ = retry_budget_;
  successor.index_by_state_.reserve(successor.state_->servers.size());
  for (size_t i = 0; i < successor.state_->servers.size(); ++i) {
    successor.index_by_state_.emplace(successor.state_->servers[i].get(),
                                      static_cast<balance::ServerIndex>(i));
  }
  for (size_t i = 0; i < state_->servers.size(); ++i) {
    const auto found = successor.index_by_state_.find(state_->servers[i].get());
    if (found == successor.index_by_state_.end()) {
      continue;
    }
    const balance::ServerIndex to = found->second;
    successor.pools_[to] = pools_[i];
    if (!http2_pools_.empty()) {
      successor.http2_pools_[to] = http2_pools_[i];
    }
    if (!predictors_.empty() && !successor.predictors_.empty()) {
      successor.predictors_[to] = predictors_[i];
    }
    for (uint32_t attempt = 0; attempt < active_[i]; ++attempt) {
      successor.balancer_.on_attempt_start(to);
    }
    successor.active_[to] += active_[i];
  }
  successor.lineage_ = lineage_;
  lineage_->current = &successor;
}

balance::ServerIndex WorkerCluster::server_by_affinity_id(std::string_view id) const noexcept {
  const auto found =
      std::lower_bound(affinity_index_.begin(), affinity_index_.end(), id,
                       [](const auto& entry, std::string_view key) { return entry.first < key; });
  return found != affinity_index_.end() && found->first == id ? found->second : balance::kNoServer;
}

balance::ServerIndex WorkerCluster::start_attempt(balance::PickContext& ctx,
                                                  balance::ServerIndex preferred,
                                                  Attempt& attempt) noexcept {
  refresh(ctx.now_ns);
  if (preferred != balance::kNoServer && balancer_.is_eligible(preferred) &&
      !ctx.excluded.contains(preferred)) {
    if (admit(preferred, ctx.now_ns, attempt)) {
      return preferred;
    }
    ctx.excluded.add(preferred);
  }
  // A ramping server passed over stays the fallback: slow start lowers its share, it never
  // turns a request away.
  balance::ServerIndex passed_over = balance::kNoServer;
  for (uint32_t tries = 0; tries <= balance::ExcludedServers::kCapacity; ++tries) {
    const balance::ServerIndex chosen = balancer_.pick(ctx);
    if (chosen == balance::kNoServer) {
      break;
    }
    if (!passes_slow_start(chosen, ctx.now_ns)) {
      passed_over = passed_over == balance::kNoServer ? chosen : passed_over;
    } else if (admit(chosen, ctx.now_ns, attempt)) {
      return chosen;
    }
    ctx.excluded.add(chosen);
  }
  if (passed_over != balance::kNoServer && admit(passed_over, ctx.now_ns, attempt)) {
    return passed_over;
  }
  return balance::kNoServer;
}

bool WorkerCluster::admit(balance::ServerIndex index, uint64_t now_ns, Attempt& attempt) noexcept {
  upstream::ServerState& target = server(index);
  if (!target.try_acquire_slot()) {
    return false;
  }
  attempt.permit = {};
  if (target.breaker != nullptr) {
    attempt.permit = target.breaker->try_acquire(now_ns);
    if (attempt.permit.transition.happened()) {
      breaker_changed(index, attempt.permit.transition);
    }
    if (!attempt.permit.allowed) {
      target.release_slot();
      return false;
    }
  }
  attempt.server = index;
  attempt.started_ns = now_ns;
  attempt.latency_ns = 0;
  attempt.pending = false;
  attempt.judged = false;
  balancer_.on_attempt_start(index);
  ++active_[index];
  return true;
}

bool WorkerCluster::passes_slow_start(balance::ServerIndex index, uint64_t now_ns) noexcept {
  if (!slow_start_) {
    return true;
  }
  const uint64_t since = server(index).ramp_started_ns.load(std::memory_order_relaxed);
  const uint64_t ramp_ns = config().health_check.slow_start_ms * core::kNsPerMs;
  if (since == 0 || now_ns >= since + ramp_ns) {
    return true;
  }
  const double elapsed = now_ns > since ? static_cast<double>(now_ns - since) : 0.0;
  const double factor =
      std::max(health::HealthTracker::kSlowStartFloor, elapsed / static_cast<double>(ramp_ns));
  return random_.unit() < factor;
}

void WorkerCluster::judge_attempt(Attempt& attempt, AttemptEnd verdict, uint64_t now_ns) noexcept {
  if (attempt.server == balance::kNoServer || attempt.judged) {
    return;
  }
  attempt.judged = true;
  attempt.verdict = verdict;
  attempt.latency_ns = now_ns > attempt.started_ns ? now_ns - attempt.started_ns : 0;
  count_for_breaker(attempt.server, verdict, attempt.latency_ns, attempt.permit, now_ns);
  attempt.permit = {};
  if (verdict != AttemptEnd::cancelled) {
    count_for_outliers(attempt.server, verdict, now_ns);
  }
  if (is_failure(verdict)) {
    stats(attempt.server).failures[static_cast<size_t>(failure_kind(verdict))].add();
  }
}

void WorkerCluster::finish_attempt(Attempt& attempt, AttemptEnd end, uint64_t now_ns) noexcept {
  const balance::ServerIndex index = attempt.server;
  if (index == balance::kNoServer) {
    return;
  }
  if (!attempt.judged) {
    judge_attempt(attempt, end, now_ns);
  } else if (is_failure(end)) {  // after the verdict: a reset or a stall mid-response
    count_for_outliers(index, end, now_ns);
    stats(index).failures[static_cast<size_t>(failure_kind(end))].add();
  }
  const bool failed = is_failure(attempt.verdict) || is_failure(end);
  end_in_balancer(index, {!failed, attempt.latency_ns, now_ns});
  server(index).release_slot();
  if (attempt.pending) {
    health().limits->pending.remove();
  }
  attempt = {};
}

// The attempt ends in the balancer that counts it: this one's, or, once a discovery change
// replaced this cluster, the one in service now, if it still has the server.
void WorkerCluster::end_in_balancer(balance::ServerIndex index,
                                    const balance::AttemptOutcome& outcome) noexcept {
  WorkerCluster* counter = lineage_->current;
  if (counter != this) {
    if (counter == nullptr) {
      return;
    }
    const auto found = counter->index_by_state_.find(state_->servers[index].get());
    if (found == counter->index_by_state_.end()) {
      return;  // the server left: nothing counts it any more
    }
    index = found->second;
  }
  counter->balancer_.on_attempt_end(index, outcome);
  --counter->active_[index];
}

void WorkerCluster::count_for_breaker(balance::ServerIndex index, AttemptEnd end,
                                      uint64_t latency_ns, const health::Permit& permit,
                                      uint64_t now_ns) noexcept {
  upstream::ServerState& target = server(index);
  if (target.breaker == nullptr) {
    return;
  }
  if (end == AttemptEnd::cancelled) {
    target.breaker->release(permit);
    return;
  }
  const bool failed = is_failure(end);
  const health::Transition change = target.breaker->record(permit, !failed, latency_ns, now_ns);
  if (change.happened()) {
    breaker_changed(index, change);
  }
  if (predictors_.empty()) {
    return;
  }
  health::FailurePredictor& predictor = predictors_[index];
  predictor.record(failed, latency_ns, target.active_attempts.load(std::memory_order_relaxed),
                   permit.generation, now_ns);
  if (predictor.predicts_failure()) {
    const health::Transition tripped =
        target.breaker->trip(now_ns, health::TransitionReason::predicted_failure);
    if (tripped.happened()) {
      breaker_changed(index, tripped);
    }
  }
}

void WorkerCluster::count_for_outliers(balance::ServerIndex index, AttemptEnd end,
                                       uint64_t now_ns) noexcept {
  health::OutlierDetector* outliers = health().outliers.get();
  if (outliers == nullptr) {
    return;
  }
  if (const auto event = outliers->record(index, traffic_result(end), now_ns)) {
    log_outlier_event(config().name, server(index).name, *event);
    if (event->event == health::OutlierEvent::ejected) {
      stats(index).ejections.add();
      health().changed();
    }
  }
}

// A transition this worker's call made: logged, counted, and published to every worker (an
// open breaker leaves the balancers at their next pick).
void WorkerCluster::breaker_changed(balance::ServerIndex index,
                                    const health::Transition& change) noexcept {
  log_breaker_change(config().name, server(index).name, change);
  if (change.to == health::BreakerState::open) {
    stats(index).breaker_openings.add();
  }
  health().changed();
}

void WorkerCluster::refresh(uint64_t now_ns) noexcept {
  const uint64_t version = health().version.load(std::memory_order_acquire);
  if (version != seen_version_ || now_ns >= next_refresh_ns_) {
    seen_version_ = version;
    recompute(now_ns);
  }
}

void WorkerCluster::recompute(uint64_t now_ns) noexcept {
  upstream::assess_eligibility(*state_, region_ranks_, now_ns, eligibility_);
  next_refresh_ns_ = eligibility_.next_change_ns;
  eligible_ = 0;
  for (size_t i = 0; i < state_->servers.size(); ++i) {
    balancer_.set_eligible(static_cast<balance::ServerIndex>(i), eligibility_.eligible(i));
    eligible_ += eligibility_.eligible(i) ? 1 : 0;
  }
  // A new generation's first look states what already holds; only later switches are news.
  const bool report = reporter_ && recomputed_;
  recomputed_ = true;
  if (report && eligibility_.active_region != active_region_) {
    log_region_change(config().name, upstream::region_name(config(), active_region_),
                      upstream::region_name(config(), eligibility_.active_region));
  }
  if (report && eligibility_.panic != panic_) {
    log_panic_mode(config().name, eligibility_.panic, eligibility_.serving_percent);
  }
  active_region_ = eligibility_.active_region;
  panic_ = eligibility_.panic;
}

void WorkerCluster::report(uint64_t now_ns) {
  refresh(now_ns);
  if (health::OutlierDetector* outliers = health().outliers.get()) {
    for (const health::OutlierTransition& event : outliers->collect_returns(now_ns)) {
      log_outlier_event(config().name, state_->servers[event.server]->name, event);
    }
  }
}

}  // namespace ballast::proxy
