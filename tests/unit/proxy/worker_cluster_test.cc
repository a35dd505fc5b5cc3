#include "proxy/worker_cluster.h"

#include <gtest/gtest.h>

#include <map>

#include "core/clock.h"

namespace ballast::proxy {
namespace {

using balance::kNoServer;
using balance::ServerIndex;

constexpr uint64_t kStart = 1'000 * core::kNsPerMs;

config::ServerConfig server(uint16_t port, std::string region = "", bool backup = false) {
  config::ServerConfig spec;
  spec.host = "127.0.0.1";
  spec.port = port;
  spec.region = std::move(region);
  spec.backup = backup;
  return spec;
}

// One cluster of `count` servers (ports 9001…), shaped by `shape`, built into a generation and
// served by one worker's WorkerCluster.
class WorkerClusterTest : public ::testing::Test {
 protected:
  void build(std::vector<config::ServerConfig> servers,
             const std::function<void(config::ClusterConfig&)>& shape = {}) {
    auto config = std::make_shared<config::Config>();
    config::ClusterConfig cluster;
    cluster.name = "web";
    cluster.servers = std::move(servers);
    if (shape) {
      shape(cluster);
    }
    config->clusters.push_back(cluster);
    generation_ = upstream::build_generation(config, nullptr, 1);
    cluster_ = std::make_unique<WorkerCluster>(
        loop_,
        std::shared_ptr<const upstream::ClusterState>(generation_, &generation_->clusters[0]), 0, 7,
        false);
  }

  void build(uint16_t count, const std::function<void(config::ClusterConfig&)>& shape = {}) {
    std::vector<config::ServerConfig> servers;
    for (uint16_t i = 0; i < count; ++i) {
      servers.push_back(server(static_cast<uint16_t>(9001 + i)));
    }
    build(std::move(servers), shape);
  }

  upstream::ServerState& state(ServerIndex index) { return cluster_->server(index); }

  // Starts and ends (as `end`) one attempt at `now`; returns the server chosen.
  ServerIndex request(uint64_t now, AttemptEnd end = AttemptEnd::success,
                      ServerIndex preferred = kNoServer) {
    balance::PickContext ctx;
    ctx.now_ns = now;
    Attempt attempt;
    const ServerIndex chosen = cluster_->start_attempt(ctx, preferred, attempt);
    if (chosen != kNoServer) {
      cluster_->finish_attempt(attempt, end, now);
    }
    return chosen;
  }

  std::map<ServerIndex, int> spread(uint64_t now, int requests) {
    std::map<ServerIndex, int> seen;
    for (int i = 0; i < requests; ++i) {
      ++seen[request(now)];
    }
    return seen;
  }

  void set_health(ServerIndex index, bool passes) {
    state(index).passes_checks = passes;
    cluster_->health().changed();
  }

  core::EventLoop loop_;
  std::shared_ptr<const upstream::Generation> generation_;
  std::unique_ptr<WorkerCluster> cluster_;
};

TEST_F(WorkerClusterTest, AServerFailingItsChecksIsLeftOutOnceTheVersionMoves) {
  build(3);
  request(kStart);                 // the worker has read the servers' state
  state(1).passes_checks = false;  // not yet published: the worker has no reason to look
  EXPECT_EQ(spread(kStart, 30).count(1), 1u);
  cluster_->health().changed();
  const auto seen = spread(kStart, 30);
  EXPECT_EQ(seen.count(1), 0u);
  EXPECT_EQ(seen.at(0) + seen.at(2), 30);
  set_health(1, true);
  EXPECT_EQ(spread(kStart, 30).at(1), 10);
}

TEST_F(WorkerClusterTest, EveryServerOutMeansNoServer) {
  build(2);
  set_health(0, false);
  set_health(1, false);
  EXPECT_EQ(request(kStart), kNoServer);
}

TEST_F(WorkerClusterTest, ABackupServesOnlyWhileNoPrimaryCan) {
  build({server(9001), server(9002, "", true)});
  EXPECT_EQ(spread(kStart, 10).at(0), 10);
  set_health(0, false);
  EXPECT_EQ(spread(kStart, 10).at(1), 10);
}

TEST_F(WorkerClusterTest, AnEjectedServerIsLeftOutUntilItsEjectionEnds) {
  build(4, [](config::ClusterConfig& cluster) {
    cluster.outlier_detection.enabled = true;
    cluster.outlier_detection.consecutive_failures = 2;
    cluster.outlier_detection.max_ejection_percent = 50;
    cluster.outlier_detection.base_ejection_time_ms = 1'000;
  });
  balance::PickContext ctx;
  ctx.now_ns = kStart;
  for (int i = 0; i < 2; ++i) {
    Attempt attempt;
    ASSERT_EQ(cluster_->start_attempt(ctx, 2, attempt), 2u);
    cluster_->finish_attempt(attempt, AttemptEnd::timeout, kStart);
  }
  EXPECT_EQ(spread(kStart, 40).count(2), 0u);
  EXPECT_EQ(spread(kStart + 999 * core::kNsPerMs, 40).count(2), 0u);
  EXPECT_EQ(spread(kStart + 1'000 * core::kNsPerMs, 40).at(2), 10);  // no version change needed
}

TEST_F(WorkerClusterTest, AnOpenBreakerTakesNothingUntilItsTimeoutThenProbes) {
  build(3, [](config::ClusterConfig& cluster) {
    cluster.circuit_breaker.enabled = true;
    cluster.circuit_breaker.failure_threshold = 2;
    cluster.circuit_breaker.timeout_ms = 500;
    cluster.circuit_breaker.half_open_requests = 1;
    cluster.circuit_breaker.success_threshold = 1;
  });
  EXPECT_EQ(request(kStart, AttemptEnd::reset, 0), 0u);
  EXPECT_EQ(request(kStart, AttemptEnd::server_error, 0), 0u);
  EXPECT_EQ(state(0).breaker->state(), health::BreakerState::open);
  EXPECT_EQ(spread(kStart, 30).count(0), 0u);
  EXPECT_EQ(request(kStart, AttemptEnd::success, 0), 1u);  // the cookie's server is refused too
  // After the timeout one probe at a time: an admitted attempt holds the only slot.
  const uint64_t later = kStart + 500 * core::kNsPerMs;
  balance::PickContext ctx;
  ctx.now_ns = later;
  Attempt probe;
  ASSERT_EQ(cluster_->start_attempt(ctx, 0, probe), 0u);
  EXPECT_TRUE(probe.permit.probe);
  EXPECT_NE(request(later, AttemptEnd::success, 0), 0u);
  cluster_->finish_attempt(probe, AttemptEnd::success, later);
  EXPECT_EQ(state(0).breaker->state(), health::BreakerState::closed);
  EXPECT_EQ(spread(later, 30).at(0), 10);
}

TEST_F(WorkerClusterTest, ACancelledAttemptSaysNothingAboutTheServer) {
  build(2, [](config::ClusterConfig& cluster) {
    cluster.circuit_breaker.enabled = true;
    cluster.circuit_breaker.failure_threshold = 1;
  });
  for (int i = 0; i < 10; ++i) {
    request(kStart, AttemptEnd::cancelled, 0);
  }
  EXPECT_EQ(state(0).breaker->state(), health::BreakerState::closed);
  EXPECT_EQ(state(0).active_attempts.load(), 0u);
}

TEST_F(WorkerClusterTest, RegionsFailOverInOrderAndFailBack) {
  build({server(9001, "us"), server(9002, "us"), server(9003, "eu"), server(9004, "ap")},
        [](config::ClusterConfig& cluster) {
          cluster.regions = config::RegionsConfig{"us", {"eu", "ap"}, 0.5};
        });
  EXPECT_EQ(spread(kStart, 20), (std::map<ServerIndex, int>{{0, 10}, {1, 10}}));
  set_health(0, false);  // half of us is still the minimum share: us serves
  EXPECT_EQ(spread(kStart, 20), (std::map<ServerIndex, int>{{1, 20}}));
  set_health(1, false);
  EXPECT_EQ(spread(kStart, 20), (std::map<ServerIndex, int>{{2, 20}}));
  set_health(2, false);
  EXPECT_EQ(spread(kStart, 20), (std::map<ServerIndex, int>{{3, 20}}));
  set_health(0, true);  // back to the primary as soon as it meets the share
  EXPECT_EQ(spread(kStart, 20), (std::map<ServerIndex, int>{{0, 20}}));
}

TEST_F(WorkerClusterTest, PanicModeSpreadsOverEveryServerWhoseBreakerIsNotOpen) {
  build(4, [](config::ClusterConfig& cluster) {
    cluster.panic_threshold = 50;
    cluster.circuit_breaker.enabled = true;
    cluster.circuit_breaker.failure_threshold = 1;
  });
  set_health(0, false);
  EXPECT_EQ(spread(kStart, 30).count(0), 0u);  // 75% healthy: no panic
  set_health(1, false);
  EXPECT_EQ(spread(kStart, 30).count(0), 0u);  // 50% is not below 50%
  set_health(2, false);
  EXPECT_EQ(spread(kStart, 40), (std::map<ServerIndex, int>{{0, 10}, {1, 10}, {2, 10}, {3, 10}}));
  request(kStart, AttemptEnd::reset, 1);  // opens server 1's breaker
  EXPECT_EQ(spread(kStart, 30).count(1), 0u);
  set_health(0, true);
  set_health(1, true);
  EXPECT_EQ(spread(kStart, 30).count(2), 0u);  // panic over: health counts again
}

TEST_F(WorkerClusterTest, TheAffinityCookieNamesItsServerAndNoAddress) {
  build(3, [](config::ClusterConfig& cluster) {
    cluster.session_affinity.enabled = true;
    cluster.session_affinity.cookie_name = "sticky";
  });
  for (ServerIndex i = 0; i < 3; ++i) {
    const std::string& id = state(i).affinity_id;
    EXPECT_EQ(id.size(), 16u);
    EXPECT_EQ(id.find("9001"), std::string::npos);
    EXPECT_EQ(cluster_->server_by_affinity_id(id), i);
    EXPECT_EQ(cluster_->affinity_cookie(i), "sticky=" + id + "; Path=/; HttpOnly");
  }
  EXPECT_EQ(cluster_->server_by_affinity_id("0123456789abcdef"), kNoServer);
  EXPECT_EQ(cluster_->server_by_affinity_id(""), kNoServer);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(request(kStart, AttemptEnd::success, 2), 2u);
  }
  set_health(2, false);
  EXPECT_NE(request(kStart, AttemptEnd::success, 2), 2u);
}

TEST_F(WorkerClusterTest, ARampingServerTakesAGrowingShare) {
  build(2, [](config::ClusterConfig& cluster) {
    cluster.algorithm = balance::Algorithm::round_robin;
    cluster.health_check.enabled = true;
    cluster.health_check.start_healthy = true;
    cluster.health_check.slow_start_ms = 10'000;
  });
  state(1).ramp_started_ns = kStart;
  const auto share = [&](uint64_t at) {
    return static_cast<double>(spread(at, 20'000)[1]) / 20'000;
  };
  // Round robin offers it every other pick; it takes factor of those, the other server the
  // rest: a share of f / (1 + f) for factor f.
  EXPECT_NEAR(share(kStart), 0.1 / 1.1, 0.02);
  EXPECT_NEAR(share(kStart + 5'000 * core::kNsPerMs), 0.5 / 1.5, 0.02);
  EXPECT_NEAR(share(kStart + 10'000 * core::kNsPerMs), 0.5, 0.001);
}

TEST_F(WorkerClusterTest, ARampingServerAloneStillServes) {
  build(1, [](config::ClusterConfig& cluster) {
    cluster.health_check.enabled = true;
    cluster.health_check.start_healthy = true;
    cluster.health_check.slow_start_ms = 10'000;
  });
  state(0).ramp_started_ns = kStart;
  EXPECT_EQ(spread(kStart, 100).at(0), 100);
}

TEST_F(WorkerClusterTest, ADiscoveryChangeKeepsThePoolsOfServersThatStayAndTheRetryBudget) {
  build(2);
  const auto next = upstream::with_servers(*generation_, 0, {server(9002), server(9003)}, 1);
  WorkerCluster replacement(
      loop_, std::shared_ptr<const upstream::ClusterState>(next, &next->clusters[0]), 0, 7, false);
  cluster_->hand_over_to(replacement);
  EXPECT_EQ(&replacement.pool(0), &cluster_->pool(1));  // 9002: its idle connections with it
  EXPECT_NE(&replacement.pool(1), &cluster_->pool(0));  // 9003: a pool of its own
  EXPECT_EQ(&replacement.server(0), &cluster_->server(1));
  // The requests in flight on the replaced cluster still count against its retries.
  ++cluster_->retry_budget().active_requests;
  EXPECT_EQ(replacement.retry_budget().active_requests, 1u);
}

TEST_F(WorkerClusterTest, LeastConnectionsCountsTheAttemptsInFlightThroughAChange) {
  build(2, [](config::ClusterConfig& cluster) {
    cluster.algorithm = balance::Algorithm::least_connections;
  });
  balance::PickContext ctx;
  ctx.now_ns = kStart;
  Attempt long_one;  // on 9001 (ties go to the lower index), still running at the change
  ASSERT_EQ(cluster_->start_attempt(ctx, kNoServer, long_one), 0u);

  // 9001 stays, 9002 leaves, 9003 comes.
  const auto next = upstream::with_servers(*generation_, 0, {server(9001), server(9003)}, 1);
  auto first = std::make_unique<WorkerCluster>(
      loop_, std::shared_ptr<const upstream::ClusterState>(next, &next->clusters[0]), 0, 7, false);
  cluster_->hand_over_to(*first);
  Attempt attempt;
  EXPECT_EQ(first->start_attempt(ctx, kNoServer, attempt), 1u);  // 9003: 9001 has one running
  first->finish_attempt(attempt, AttemptEnd::success, kStart);

  // A second change; the first cluster, which nothing pins, goes.
  const auto later = upstream::with_servers(*next, 0, {server(9001), server(9003)}, 1);
  WorkerCluster second(loop_,
                       std::shared_ptr<const upstream::ClusterState>(later, &later->clusters[0]), 0,
                       7, false);
  first->hand_over_to(second);
  first.reset();
  EXPECT_EQ(second.start_attempt(ctx, kNoServer, attempt), 1u);  // 9003 again: 9001 busy
  second.finish_attempt(attempt, AttemptEnd::success, kStart);

  // The long attempt ends on the cluster it started on; in the balancer of the cluster in
  // service, 9001's count goes down.
  cluster_->finish_attempt(long_one, AttemptEnd::success, kStart);
  EXPECT_EQ(second.start_attempt(ctx, kNoServer, attempt), 0u);  // 9001: none running now
  second.finish_attempt(attempt, AttemptEnd::success, kStart);
}

TEST_F(WorkerClusterTest, AClusterWithNoServersPicksNone) {
  build(1);
  const auto empty = upstream::with_servers(*generation_, 0, {}, 1);
  cluster_ = std::make_unique<WorkerCluster>(
      loop_, std::shared_ptr<const upstream::ClusterState>(empty, &empty->clusters[0]), 0, 7,
      false);
  EXPECT_EQ(request(kStart), kNoServer);
}

TEST(BoundedCount, RefusesBeyondItsLimitAndCountsNothingWithout) {
  upstream::BoundedCount limited(2);
  EXPECT_TRUE(limited.try_add());
  EXPECT_TRUE(limited.try_add());
  EXPECT_FALSE(limited.has_room());
  EXPECT_FALSE(limited.try_add());
  EXPECT_EQ(limited.count(), 2u);
  limited.remove();
  EXPECT_TRUE(limited.try_add());
  upstream::BoundedCount unlimited(0);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(unlimited.try_add());
  }
  EXPECT_EQ(unlimited.count(), 0u);
}

}  // namespace
}  // namespace ballast::proxy
