#include "balance/peak_ewma.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <numbers>
#include <queue>
#include <vector>

namespace ballast::balance {
namespace {

constexpr uint64_t kMillisecondNs = 1'000'000;
constexpr uint64_t kSecondNs = 1'000'000'000;
constexpr double kTauNs = static_cast<double>(PeakEwma::kDecayNs);

// Relative tolerance for estimates computed by the same formulas in another order.
void expect_close(double actual, double expected) {
  EXPECT_NEAR(actual, expected, expected * 1e-12);
}

// One attempt on `server`, started and ended at `now_ns`.
void answer(PeakEwma& policy, ServerIndex server, uint64_t latency_ns, uint64_t now_ns,
            bool success = true) {
  policy.on_attempt_start(server);
  policy.on_attempt_end(server, {success, latency_ns, now_ns});
}

// Requests arrive every `interval_ns`; each takes its server's current latency and succeeds or
// fails as the server currently does. Attempts end, in time order, before any later pick.
class Simulation {
 public:
  Simulation(PeakEwma& policy, uint64_t latency_ns, uint64_t interval_ns)
      : policy_(policy),
        latency_ns_(policy.size(), latency_ns),
        failing_(policy.size(), false),
        interval_ns_(interval_ns) {}

  void set_latency(ServerIndex server, uint64_t latency_ns) { latency_ns_[server] = latency_ns; }
  void set_failing(ServerIndex server, bool failing) { failing_[server] = failing; }
  uint64_t now_ns() const { return now_ns_; }

  // Sends `requests` requests; returns how many each server got.
  std::vector<uint64_t> run(int requests) {
    std::vector<uint64_t> counts(policy_.size(), 0);
    for (int i = 0; i < requests; ++i) {
      now_ns_ += interval_ns_;
      end_attempts_until(now_ns_);
      PickContext ctx;
      ctx.now_ns = now_ns_;
      const ServerIndex server = policy_.pick(ctx);
      EXPECT_LT(server, policy_.size());
      if (server >= policy_.size()) {
        break;
      }
      policy_.on_attempt_start(server);
      in_flight_.push(
          {now_ns_ + latency_ns_[server], server, latency_ns_[server], !failing_[server]});
      ++counts[server];
    }
    return counts;
  }

 private:
  struct Attempt {
    uint64_t end_ns;
    ServerIndex server;
    uint64_t latency_ns;
    bool success;
    bool operator>(const Attempt& other) const { return end_ns > other.end_ns; }
  };

  void end_attempts_until(uint64_t now_ns) {
    while (!in_flight_.empty() && in_flight_.top().end_ns <= now_ns) {
      const Attempt attempt = in_flight_.top();
      in_flight_.pop();
      policy_.on_attempt_end(attempt.server, {attempt.success, attempt.latency_ns, attempt.end_ns});
    }
  }

  PeakEwma& policy_;
  std::vector<uint64_t> latency_ns_;
  std::vector<bool> failing_;
  uint64_t interval_ns_;
  uint64_t now_ns_ = 0;
  std::priority_queue<Attempt, std::vector<Attempt>, std::greater<>> in_flight_;
};

double share(const std::vector<uint64_t>& counts, ServerIndex server) {
  uint64_t total = 0;
  for (const uint64_t count : counts) {
    total += count;
  }
  return static_cast<double>(counts[server]) / static_cast<double>(total);
}

TEST(PeakEwma, SlowerAnswerReplacesTheEstimateAndReadsDecayItTowardZero) {
  PeakEwma policy({1, 1}, 1);
  answer(policy, 0, 10 * kMillisecondNs, 0);
  EXPECT_EQ(policy.latency_estimate_ns(0, 0), 10.0 * kMillisecondNs);
  expect_close(policy.latency_estimate_ns(0, PeakEwma::kDecayNs),
               10.0 * kMillisecondNs / std::numbers::e);
  expect_close(policy.latency_estimate_ns(0, 5 * PeakEwma::kDecayNs),
               10.0 * kMillisecondNs * std::exp(-5.0));
  // A slower answer than the decayed estimate takes over at once.
  answer(policy, 0, 4 * kMillisecondNs, PeakEwma::kDecayNs);
  EXPECT_EQ(policy.latency_estimate_ns(0, PeakEwma::kDecayNs), 4.0 * kMillisecondNs);
}

TEST(PeakEwma, ShortDecaysAreAsExactAsLongOnes) {
  // Below τ / 16 the decay is a polynomial, above it exp(): both within 1e-8 of the truth.
  PeakEwma policy({1}, 1);
  answer(policy, 0, 10 * kMillisecondNs, 0);
  for (const uint64_t elapsed_ns : {uint64_t{1}, 1'000 * kMillisecondNs, 624 * kMillisecondNs,
                                    626 * kMillisecondNs, 3 * kSecondNs}) {
    const double expected =
        10.0 * kMillisecondNs * std::exp(-static_cast<double>(elapsed_ns) / kTauNs);
    EXPECT_NEAR(policy.latency_estimate_ns(0, elapsed_ns), expected, expected * 1e-8) << elapsed_ns;
  }
}

TEST(PeakEwma, FasterAnswerPullsTheEstimateByTheTimeSinceThePreviousAnswer) {
  PeakEwma policy({1, 1}, 2);
  answer(policy, 0, 10 * kMillisecondNs, 0);
  // After τ: decayed to 10/e ms, then pulled toward 1 ms with weight 1 - 1/e.
  answer(policy, 0, kMillisecondNs, PeakEwma::kDecayNs);
  const double decayed = 10.0 * kMillisecondNs / std::numbers::e;
  const double pulled = decayed + (1.0 * kMillisecondNs - decayed) * (1 - 1 / std::numbers::e);
  expect_close(policy.latency_estimate_ns(0, PeakEwma::kDecayNs), pulled);
  // No time since the previous answer: a faster answer moves nothing.
  answer(policy, 0, kMillisecondNs / 2, PeakEwma::kDecayNs);
  expect_close(policy.latency_estimate_ns(0, PeakEwma::kDecayNs), pulled);
}

TEST(PeakEwma, UnobservedServerCostsTheFleetAverage) {
  PeakEwma policy({1, 1, 1}, 3);
  EXPECT_EQ(policy.latency_estimate_ns(2, 0), PeakEwma::kInitialLatencyNs);
  answer(policy, 0, 4 * kMillisecondNs, 0);
  EXPECT_EQ(policy.latency_estimate_ns(2, 0), 4.0 * kMillisecondNs);
  answer(policy, 1, 8 * kMillisecondNs, 0);
  EXPECT_EQ(policy.latency_estimate_ns(2, 123 * kSecondNs), 4.25 * kMillisecondNs);  // gain 1/16
}

TEST(PeakEwma, FailureCountsAsTwiceTheSlowerOfServerAndFleetAndDoublesUpToTheCap) {
  PeakEwma policy({1, 1, 1}, 4);
  answer(policy, 0, 4 * kMillisecondNs, 0);  // the fleet average: 4 ms
  answer(policy, 1, kMillisecondNs, 0);      // now 4 + (1 - 4) / 16 = 3.8125 ms
  // A fast failure: 2 × max(server 1 ms, fleet 3.8125 ms).
  answer(policy, 1, kMillisecondNs / 10, 0, false);
  EXPECT_EQ(policy.latency_estimate_ns(1, 0), 7.625 * kMillisecondNs);
  // The next: 2 × max(server 7.625 ms, fleet): failures leave the fleet average alone.
  answer(policy, 1, kMillisecondNs / 10, 0, false);
  EXPECT_EQ(policy.latency_estimate_ns(1, 0), 15.25 * kMillisecondNs);
  EXPECT_EQ(policy.latency_estimate_ns(2, 0), 3.8125 * kMillisecondNs);
  for (int i = 0; i < 100; ++i) {
    answer(policy, 1, 0, 0, false);
  }
  EXPECT_EQ(policy.latency_estimate_ns(1, 0), PeakEwma::kMaxFailurePenaltyNs);
  // A failure slower than the penalty counts as what it took.
  answer(policy, 1, 30 * kSecondNs, 0, false);
  EXPECT_EQ(policy.latency_estimate_ns(1, 0), 30.0 * kSecondNs);
}

TEST(PeakEwma, PickReadsEstimatesAtThePickTime) {
  // Server 0 answered in 10 ms at time 0; server 1 in 1 ms just before each pick. Server 0's
  // estimate falls below 1 ms once τ · ln 10 ≈ 23.03 s have passed.
  const uint64_t before = 22 * kSecondNs;
  const uint64_t after = 24 * kSecondNs;
  for (const uint64_t now_ns : {before, after}) {
    PeakEwma policy({1, 1}, 5);
    answer(policy, 0, 10 * kMillisecondNs, 0);
    answer(policy, 1, kMillisecondNs, now_ns);
    PickContext ctx;
    ctx.now_ns = now_ns;
    EXPECT_EQ(policy.pick(ctx), now_ns == before ? 1u : 0u);
  }
}

TEST(PeakEwma, CostGrowsWithActiveRequests) {
  // Equal estimates; server 0 has two attempts in flight, so it costs three times as much.
  PeakEwma policy({1, 1}, 6);
  answer(policy, 0, kMillisecondNs, 0);
  answer(policy, 1, kMillisecondNs, 0);
  policy.on_attempt_start(0);
  policy.on_attempt_start(0);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(policy.pick({}), 1u);
  }
  // Server 1 at 2.5 ms alone beats 1 ms × 3; at 3.5 ms it does not.
  answer(policy, 1, 2'500'000, 0);
  EXPECT_EQ(policy.pick({}), 1u);
  answer(policy, 1, 3'500'000, 0);
  EXPECT_EQ(policy.pick({}), 0u);
}

TEST(PeakEwma, ServerThatTurnsSlowLosesNearlyAllItsShareAndRegainsItWhenFastAgain) {
  PeakEwma policy({1, 1, 1}, 7);
  Simulation simulation(policy, kMillisecondNs, kMillisecondNs / 2);
  const std::vector<uint64_t> warm = simulation.run(2000);
  EXPECT_GT(share(warm, 2), 0.25);

  simulation.set_latency(2, 10 * kMillisecondNs);
  const std::vector<uint64_t> slow = simulation.run(1000);
  EXPECT_LT(share(slow, 2), 0.05);

  // Fast again. Its estimate, untouched by traffic, decays from 10 ms toward what the others
  // cost; then it is probed, answers fast, and takes its share again. Expected after about
  // τ · ln(10 ms / 2 ms) ≈ 16 s, when it drops below a fast server with one request in flight.
  simulation.set_latency(2, kMillisecondNs);
  const uint64_t recovered_ns = simulation.now_ns();
  std::vector<uint64_t> window = simulation.run(1000);
  EXPECT_LT(share(window, 2), 0.05);  // cautious: not forgiven at once
  while (share(window, 2) < 0.25 && simulation.now_ns() - recovered_ns < 30 * kSecondNs) {
    window = simulation.run(1000);
  }
  EXPECT_GE(share(window, 2), 0.25);
  EXPECT_LT(simulation.now_ns() - recovered_ns, 30 * kSecondNs);
  // Within a few seconds more, its estimate is back to 1 ms and its share to a third.
  simulation.run(10'000);
  EXPECT_NEAR(share(simulation.run(1000), 2), 1 / 3.0, 0.05);
}

TEST(PeakEwma, ServerThatStaysSlowIsOnlyProbed) {
  PeakEwma policy({1, 1, 1}, 8);
  Simulation simulation(policy, kMillisecondNs, kMillisecondNs / 2);
  simulation.run(2000);
  simulation.set_latency(2, 10 * kMillisecondNs);
  simulation.run(1000);
  // 60 s more: the decay brings it back for a probe now and then, and each slow answer sends
  // it away again.
  const std::vector<uint64_t> counts = simulation.run(120'000);
  EXPECT_GT(counts[2], 0u);
  EXPECT_LT(share(counts, 2), 0.01);
}

TEST(PeakEwma, FailingServerLosesItsShare) {
  PeakEwma policy({1, 1, 1}, 9);
  Simulation simulation(policy, kMillisecondNs, kMillisecondNs / 2);
  simulation.run(2000);
  simulation.set_latency(2, kMillisecondNs / 10);  // fails fast, which must not look fast
  simulation.set_failing(2, true);
  EXPECT_LT(share(simulation.run(1000), 2), 0.05);
}

TEST(PeakEwma, NewServerIsTriedAndTakesItsShare) {
  PeakEwma policy({1, 1, 1}, 10);
  policy.set_eligible(2, false);
  Simulation simulation(policy, kMillisecondNs, kMillisecondNs / 2);
  simulation.run(2000);
  policy.set_eligible(2, true);
  EXPECT_GT(share(simulation.run(1000), 2), 0.25);
}

TEST(PeakEwma, IneligibleAndExcludedServersAreNeverChosen) {
  PeakEwma policy({1, 1, 1, 1}, 11);
  answer(policy, 0, kMillisecondNs / 10, 0);  // the cheapest, when it may be chosen
  policy.set_eligible(1, false);
  PickContext ctx;
  ctx.excluded.add(0);
  for (int i = 0; i < 1000; ++i) {
    const ServerIndex server = policy.pick(ctx);
    ASSERT_TRUE(server == 2 || server == 3) << server;
  }
  ctx.excluded.add(2);
  EXPECT_EQ(policy.pick(ctx), 3u);
  ctx.excluded.add(3);
  EXPECT_EQ(policy.pick(ctx), kNoServer);
  policy.set_eligible(1, true);
  EXPECT_EQ(policy.pick(ctx), 1u);
}

TEST(PeakEwma, NoServerWhenNothingIsEligible) {
  PeakEwma policy({1, 1}, 12);
  policy.set_eligible(0, false);
  policy.set_eligible(1, false);
  EXPECT_EQ(policy.pick({}), kNoServer);
  // A weight set while ineligible does not bring a server back.
  policy.set_weight(1, 4);
  EXPECT_EQ(policy.pick({}), kNoServer);
  policy.set_eligible(1, true);
  EXPECT_EQ(policy.pick({}), 1u);
}

TEST(PeakEwma, LargeFleetAvoidsItsSlowServers) {
  // 1,000 servers, every tenth 10× slower. After warming up, the slow tenth gets almost nothing.
  PeakEwma policy(std::vector<uint32_t>(1000, 1), 13);
  Simulation simulation(policy, kMillisecondNs, kMillisecondNs / 100);
  for (ServerIndex server = 0; server < 1000; server += 10) {
    simulation.set_latency(server, 10 * kMillisecondNs);
  }
  for (ServerIndex server = 1; server < 1000; server += 10) {
    policy.set_eligible(server, false);
  }
  simulation.run(20'000);
  const std::vector<uint64_t> counts = simulation.run(20'000);
  uint64_t slow = 0;
  for (ServerIndex server = 0; server < 1000; ++server) {
    if (server % 10 == 1) {
      ASSERT_EQ(counts[server], 0u);
    }
    slow += server % 10 == 0 ? counts[server] : 0;
  }
  EXPECT_LT(static_cast<double>(slow) / 20'000, 0.02);  // a ninth of the eligible fleet
}

}  // namespace
}  // namespace ballast::balance
