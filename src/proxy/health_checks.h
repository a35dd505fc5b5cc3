#pragma once
// The active health checks one worker runs: for each server it owns, a check every interval
// (plus up to `jitter`), whose verdict it publishes to every worker.
//
// Ownership: each server is checked by exactly one worker, chosen by a hash of the cluster's and
// the server's names modulo the worker count (health_check_owner()). The count is fixed for the
// life of the process, so a server keeps its owner across reloads, and its HealthTracker (in
// the shared ServerState) only ever sees one thread. The checks belong to the worker's newest
// generation; a reload replaces them, and the next check of a server that kept its state
// resumes its record where it was. A discovery change to one cluster's servers (take_cluster())
// keeps the checks of the servers that stay, their timers and any probe in flight, so a fleet
// that changes often is still checked on its interval.
//
// Publication: a verdict that changes the server's state sets ServerState::passes_checks (and
// ramp_started_ns for slow start) and bumps the cluster's version, so every worker's next pick
// sees it (worker_cluster.h). A passing check also ends an ejection early.
//
// Threading: the owning worker's loop only. No thread, no blocking call: each check is a
// non-blocking connect and exchange on the loop (health/health_probe.h).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "core/random.h"
#include "core/timer_wheel.h"
#include "health/health_probe.h"
#include "upstream/generation.h"

namespace ballast::proxy {

// The worker (0..worker_count-1) that checks `server` of `cluster`.
uint32_t health_check_owner(std::string_view cluster, std::string_view server,
                            uint32_t worker_count) noexcept;

// The checks of one server.
class ServerHealthCheck final : public core::Timer::Handler, public health::HealthProbe::Handler {
 public:
  ServerHealthCheck(core::EventLoop& loop, const upstream::ClusterState& cluster, uint32_t server,
                    uint32_t worker, core::Random& random);

  const upstream::ServerState& server() const noexcept { return *cluster_->servers[server_]; }
  // The same server, now at `server` in `cluster` (a newer state of the same cluster).
  void move_to(const upstream::ClusterState& cluster, uint32_t server) noexcept {
    cluster_ = &cluster;
    server_ = server;
  }

  void on_timer(core::Timer& timer) noexcept override;
  void on_probe_done(bool passed, std::string_view detail) noexcept override;

 private:
  void schedule(uint64_t delay_ns) noexcept;
  uint64_t next_delay_ns() noexcept;

  core::EventLoop& loop_;
  const upstream::ClusterState* cluster_;  // kept alive by the worker's WorkerCluster
  uint32_t server_;
  const uint32_t worker_;  // whose shard of the server's counters the results go to
  core::Random& random_;
  const std::string host_header_;
  health::HealthProbe probe_;
  core::Timer timer_{*this};
  bool spread_ = false;  // the check after the first has been placed at random in its interval
};

// Every check one worker runs for one generation, by cluster.
class HealthChecks {
 public:
  // `clusters`: each cluster's current state, in the generation's order; each must outlive the
  // checks or be replaced through take_cluster() first.
  HealthChecks(core::EventLoop& loop, const std::vector<const upstream::ClusterState*>& clusters,
               uint32_t worker_index, uint32_t worker_count, uint64_t seed);

  // The cluster at `index` is now `cluster` (its servers changed): checks the servers that
  // stay as before, starts checking new ones, and stops checking those gone.
  void take_cluster(size_t index, const upstream::ClusterState& cluster);

  size_t size() const noexcept;

 private:
  using Checks = std::vector<std::unique_ptr<ServerHealthCheck>>;
  Checks checks_of(const upstream::ClusterState& cluster, Checks kept);

  core::EventLoop& loop_;
  const uint32_t worker_index_;
  const uint32_t worker_count_;
  core::Random random_;
  std::vector<Checks> by_cluster_;
};

}  // namespace ballast::proxy
