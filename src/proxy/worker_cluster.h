#pragma once
// What one worker keeps for one cluster of one generation: its balancer, its connection pools
// (one per server), its retry budget, and its view of which servers may take traffic.
//
// Owned by the worker's WorkerGeneration and, through a shared_ptr, by every exchange routed to
// it, so that one replaced by a discovery change (its servers changed: Worker::take_servers)
// lives on until the exchanges on it end. Used only on that worker's thread, so nothing here
// is atomic or locked. What all workers share about the cluster (servers' in-flight counts,
// health, breakers; ejections; cluster limits) lives in upstream::ServerState and
// upstream::ClusterHealth.
//
// Eligibility (upstream/eligibility.h states the rules). Rather than test them per pick, the
// balancer keeps each server's eligibility, and refresh() recomputes it (O(servers)) only when
// the cluster's shared version moved (a verdict, an ejection, a breaker transition anywhere) or a
// time-bound state (an ejection, an open breaker) has expired. A pick costs one atomic load for
// that check. A change made by one worker reaches the others at their next pick; until then,
// what can race (a breaker just opened, a server just full) is checked per candidate when the
// attempt is admitted.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "balance/balancer.h"
#include "core/event_loop.h"
#include "core/random.h"
#include "health/failure_predictor.h"
#include "upstream/connection_pool.h"
#include "upstream/eligibility.h"
#include "upstream/generation.h"
#include "upstream/http2_pool.h"

namespace ballast::proxy {

// Envoy's retry budget: retries in flight stay within a share of the requests in flight (with
// a floor), so a failing fleet does not get a retry storm on top of its load.
struct RetryBudget {
  uint32_t active_requests = 0;
  uint32_t active_retries = 0;

  bool allows_retry(const config::RetryConfig& retry) const noexcept {
    const uint64_t share = uint64_t{active_requests} * retry.budget_percent / 100;
    return active_retries < std::max<uint64_t>(share, retry.budget_min_concurrent);
  }
};

// How an attempt on a server ended, as its health, breaker and balancer count it.
enum class AttemptEnd : uint8_t {
  success,
  connect_failure,
  reset,         // closed or reset before a complete response, or a malformed one
  timeout,       // no response (or no more of it) in time
  server_error,  // a 5xx response
  cancelled,     // ended on our side (the client left): says nothing about the server
};

// One attempt in progress, and what it holds until finish_attempt().
struct Attempt {
  balance::ServerIndex server = balance::kNoServer;
  health::Permit permit;  // from the server's breaker, if it has one; used by the verdict
  uint64_t started_ns = 0;
  uint64_t latency_ns = 0;  // to the verdict
  AttemptEnd verdict = AttemptEnd::success;
  bool pending = false;  // holds one of the cluster's max_pending_requests while connecting
  bool judged = false;   // the verdict has been counted (see WorkerCluster::judge_attempt)
};

class WorkerCluster {
 public:
  // `worker`: this worker's index, which shard of the counters it writes. `reporter`: this
  // worker logs the cluster's region and panic changes and ejection returns.
  // `state` shares the ownership of the generation it belongs to.
  WorkerCluster(core::EventLoop& loop, std::shared_ptr<const upstream::ClusterState> state,
                uint32_t worker, uint64_t seed, bool reporter);
  ~WorkerCluster();
  WorkerCluster(const WorkerCluster&) = delete;
  WorkerCluster& operator=(const WorkerCluster&) = delete;

  // A discovery change replaced this cluster (the same cluster, other servers) by `successor`,
  // on the worker's thread. The servers both have keep their connection pools, idle connections
  // and all, and their failure models (predictive breakers); the successor's balancer counts the
  // attempts still in flight here (least connections stays true), and those attempts, when they
  // end, end there (finish_attempt) and give their connections back to the pools both share.
  // Both count in one retry budget.
  void hand_over_to(WorkerCluster& successor);

  const upstream::ClusterState& state() const noexcept { return *state_; }
  const config::ClusterConfig& config() const noexcept { return *state_->config; }
  upstream::ClusterHealth& health() const noexcept { return *state_->health; }
  upstream::ServerState& server(balance::ServerIndex index) noexcept {
    return *state_->servers[index];
  }
  balance::Balancer& balancer() noexcept { return balancer_; }
  upstream::ConnectionPool& pool(balance::ServerIndex index) noexcept { return *pools_[index]; }
  // A server's multiplexed connections (`protocol: h2` or `h2c` only).
  upstream::Http2Pool& http2_pool(balance::ServerIndex index) noexcept {
    return *http2_pools_[index];
  }
  RetryBudget& retry_budget() noexcept { return *retry_budget_; }
  // This worker's shards of the server's and the cluster's counters.
  observe::ServerShard& stats(balance::ServerIndex index) noexcept {
    return state_->servers[index]->stats->shard(worker_);
  }
  observe::ClusterShard& cluster_stats() noexcept { return state_->stats->shard(worker_); }

  // Chooses a server for an attempt and admits it: takes a connection slot on the server and a
  // permit from its breaker, and tells the balancer. `preferred` (an affinity cookie's server,
  // or kNoServer) is taken when it can be. Servers that cannot be admitted are added to
  // ctx.excluded. Returns kNoServer when no server can take the attempt.
  balance::ServerIndex start_attempt(balance::PickContext& ctx, balance::ServerIndex preferred,
                                     Attempt& attempt) noexcept;
  // The server has answered the attempt (HTTP: the final response head; TCP: the connection
  // is established), or failed it: counts that verdict for its breaker, its failure model and
  // its outlier detection, and gives back its breaker permit, so that a long response or a
  // long-lived connection neither holds a half-open probe nor counts as a slow call. Once per
  // attempt; finish_attempt() judges an attempt that ends before its verdict.
  void judge_attempt(Attempt& attempt, AttemptEnd verdict, uint64_t now_ns) noexcept;
  // The attempt has ended: judges it if that is still to do (a failure after the verdict, such
  // as a reset mid-body, counts for outlier detection only), tells the balancer, and gives back
  // what it held; attempt.server is kNoServer after.
  void finish_attempt(Attempt& attempt, AttemptEnd end, uint64_t now_ns) noexcept;

  // The server an affinity cookie value names, or kNoServer.
  balance::ServerIndex server_by_affinity_id(std::string_view id) const noexcept;
  // The Set-Cookie value that sends a client back to `server` (cookie affinity only).
  std::string_view affinity_cookie(balance::ServerIndex server) const noexcept {
    return affinity_cookies_[server];
  }

  // Whether a line about a request this cluster turned away (no server, a limit reached) may be
  // logged now: one per second per worker, so an overload or an outage, when such answers come
  // by the thousand, does not add a write per request.
  bool should_log(uint64_t now_ns) noexcept {
    if (now_ns < next_refusal_log_ns_) {
      return false;
    }
    next_refusal_log_ns_ = now_ns + kRefusalLogIntervalNs;
    return true;
  }

  // Brings the balancer's eligibility up to date (see above); cheap when nothing changed.
  void refresh(uint64_t now_ns) noexcept;
  // Whether the cluster has a server to take a request and is not in panic mode: what
  // geographic routing asks before it sends a region's clients here rather than to the next
  // nearest region (after refresh(), so one worker's verdict is as fresh as a pick's).
  bool can_serve(uint64_t now_ns) noexcept {
    refresh(now_ns);
    return eligible_ != 0 && !panic_;
  }
  // The reporter's periodic look: refresh (which logs region and panic changes) and log the
  // ejections that have ended.
  void report(uint64_t now_ns);

 private:
  bool admit(balance::ServerIndex server, uint64_t now_ns, Attempt& attempt) noexcept;
  void end_in_balancer(balance::ServerIndex server,
                       const balance::AttemptOutcome& outcome) noexcept;
  bool passes_slow_start(balance::ServerIndex server, uint64_t now_ns) noexcept;
  void recompute(uint64_t now_ns) noexcept;
  void count_for_breaker(balance::ServerIndex server, AttemptEnd end, uint64_t latency_ns,
                         const health::Permit& permit, uint64_t now_ns) noexcept;
  void breaker_changed(balance::ServerIndex server, const health::Transition& change) noexcept;
  void count_for_outliers(balance::ServerIndex server, AttemptEnd end, uint64_t now_ns) noexcept;

  const std::shared_ptr<const upstream::ClusterState> state_;
  balance::Balancer balancer_;
  // Per server; shared with the cluster this one replaced, or replaces (hand_over_to).
  std::vector<std::shared_ptr<upstream::ConnectionPool>> pools_;
  std::vector<std::shared_ptr<upstream::Http2Pool>> http2_pools_;  // after pools_: uses them
  // Per server: the attempts the balancer counts as active (started here or handed over, not
  // ended yet).
  std::vector<uint32_t> active_;
  // The clusters that replaced one another (hand_over_to) share one Lineage, which names the one
  // in service: the one whose balancer counts the attempts of all. Null once it is gone (a reload
  // replaced the worker's generation): then nothing is counted any more.
  struct Lineage {
    WorkerCluster* current;
  };
  std::shared_ptr<Lineage> lineage_;
  // Where the servers of the clusters it replaced are in this one (filled by hand_over_to).
  std::unordered_map<const upstream::ServerState*, balance::ServerIndex> index_by_state_;
  // Shared with the cluster this one replaced, or replaces (hand_over_to).
  std::shared_ptr<RetryBudget> retry_budget_ = std::make_shared<RetryBudget>();
  core::Random random_;
  static constexpr uint64_t kRefusalLogIntervalNs = 1'000'000'000;

  const uint32_t worker_;
  const bool reporter_;
  const bool slow_start_;  // health checks with slow_start, and an algorithm that may skip

  // Eligibility bookkeeping (refresh()).
  uint64_t seen_version_ = 0;
  uint64_t next_refresh_ns_ = 0;
  const std::vector<uint32_t> region_ranks_;  // upstream::region_ranks(), computed once
  upstream::ClusterEligibility eligibility_;  // the last verdict; its vector is reused
  uint32_t active_region_ = 0;
  uint32_t eligible_ = 0;  // servers the last verdict found eligible
  bool panic_ = false;
  bool recomputed_ = false;  // a first recompute sets the region and panic state unlogged
  uint64_t next_refusal_log_ns_ = 0;

  // Per server, this worker's model of its failures (predictive breakers only).
  std::vector<health::FailurePredictor> predictors_;
  // (affinity id, server) sorted by id, for cookie lookups without allocation.
  std::vector<std::pair<std::string_view, balance::ServerIndex>> affinity_index_;
  std::vector<std::string> affinity_cookies_;  // per server: "NAME=ID; Path=/; HttpOnly"
};

}  // namespace ballast::proxy
