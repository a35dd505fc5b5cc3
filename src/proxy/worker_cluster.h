#pragma once
// What one worker keeps for one cluster of one generation: its balancer, its connection pools
// (one per server), and its retry budget.
//
// Owned by the worker's WorkerGeneration; used only on that worker's thread, so nothing here
// is atomic or locked. Shared server state (in-flight counts against max_connections) lives in
// upstream::ServerState.

#include <cstdint>
#include <memory>
#include <vector>

#include "balance/balancer.h"
#include "core/event_loop.h"
#include "upstream/connection_pool.h"
#include "upstream/generation.h"

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

class WorkerCluster {
 public:
  WorkerCluster(core::EventLoop& loop, const upstream::ClusterState& state, uint64_t seed);

  const upstream::ClusterState& state() const noexcept { return *state_; }
  const config::ClusterConfig& config() const noexcept { return *state_->config; }
  upstream::ServerState& server(balance::ServerIndex index) noexcept {
    return *state_->servers[index];
  }
  balance::Balancer& balancer() noexcept { return balancer_; }
  upstream::ConnectionPool& pool(balance::ServerIndex index) noexcept { return *pools_[index]; }
  RetryBudget& retry_budget() noexcept { return retry_budget_; }

 private:
  const upstream::ClusterState* state_;
  balance::Balancer balancer_;
  std::vector<std::unique_ptr<upstream::ConnectionPool>> pools_;
  RetryBudget retry_budget_;
};

}  // namespace ballast::proxy
