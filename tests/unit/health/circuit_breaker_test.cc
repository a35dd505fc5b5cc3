#include "health/circuit_breaker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "core/random.h"

namespace ballast::health {
namespace {

constexpr uint64_t kMsNs = 1'000'000;
constexpr uint64_t kSecondNs = 1'000 * kMsNs;

using config::BreakerMode;
using config::CircuitBreakerConfig;
using config::WindowType;

// The defaults: 5 failures in a row, 30 s open, 3 probes at once, 3 successes to close.
CircuitBreakerConfig consecutive_config() {
  CircuitBreakerConfig config;
  config.enabled = true;
  return config;
}

// 50% of at least 20 calls over a 10 s time window, 30 s open.
CircuitBreakerConfig rate_config() {
  CircuitBreakerConfig config;
  config.enabled = true;
  config.mode = BreakerMode::rate;
  config.failure_threshold = 50;
  return config;
}

// One request, asked for and answered at now_ns.
Transition call(CircuitBreaker& breaker, uint64_t now_ns, bool success, uint64_t latency_ns = 0) {
  const Permit permit = breaker.try_acquire(now_ns);
  EXPECT_TRUE(permit.allowed) << "at " << now_ns << " ns";
  return breaker.record(permit, success, latency_ns, now_ns);
}

void calls(CircuitBreaker& breaker, int count, uint64_t now_ns, bool success,
           uint64_t latency_ns = 0) {
  for (int i = 0; i < count; ++i) {
    EXPECT_FALSE(call(breaker, now_ns, success, latency_ns).happened()) << "call " << i;
  }
}

void expect_transition(const Transition& transition, BreakerState from, BreakerState to,
                       TransitionReason reason) {
  EXPECT_TRUE(transition.happened());
  EXPECT_EQ(transition.from, from);
  EXPECT_EQ(transition.to, to);
  EXPECT_EQ(transition.reason, reason) << reason_text(transition.reason);
}

// Opens a breaker with the default consecutive config at now_ns.
void open_consecutive(CircuitBreaker& breaker, uint64_t now_ns) {
  calls(breaker, 4, now_ns, false);
  expect_transition(call(breaker, now_ns, false), BreakerState::closed, BreakerState::open,
                    TransitionReason::consecutive_failures);
}

// The seed's Layer 5 timeline, second by second.
TEST(CircuitBreaker, FollowsTheSeedsTimeline) {
  CircuitBreaker breaker(consecutive_config());
  for (uint64_t second = 1; second <= 4; ++second) {
    EXPECT_FALSE(call(breaker, second * kSecondNs, false).happened());
    EXPECT_EQ(breaker.state(), BreakerState::closed);
    EXPECT_EQ(breaker.snapshot(second * kSecondNs).consecutive_failures, second);
  }
  // 5 s: the fifth failure trips it; requests go elsewhere.
  expect_transition(call(breaker, 5 * kSecondNs, false), BreakerState::closed, BreakerState::open,
                    TransitionReason::consecutive_failures);
  EXPECT_EQ(breaker.snapshot(6 * kSecondNs).half_open_at_ns, 35 * kSecondNs);
  EXPECT_FALSE(breaker.try_acquire(6 * kSecondNs).allowed);
  EXPECT_FALSE(breaker.try_acquire(35 * kSecondNs - 1).allowed);
  EXPECT_EQ(breaker.state(), BreakerState::open);
  // 35 s: the timeout has passed; the next request is a probe.
  const Permit probe = breaker.try_acquire(35 * kSecondNs);
  EXPECT_TRUE(probe.allowed);
  EXPECT_TRUE(probe.probe);
  expect_transition(probe.transition, BreakerState::open, BreakerState::half_open,
                    TransitionReason::timeout_elapsed);
  // 36 s, 37 s: successes; still half-open.
  EXPECT_FALSE(breaker.record(probe, true, kMsNs, 36 * kSecondNs).happened());
  EXPECT_FALSE(call(breaker, 37 * kSecondNs, true).happened());
  EXPECT_EQ(breaker.state(), BreakerState::half_open);
  EXPECT_EQ(breaker.snapshot(37 * kSecondNs).probe_successes, 2u);
  // 38 s: the third success closes it.
  expect_transition(call(breaker, 38 * kSecondNs, true), BreakerState::half_open,
                    BreakerState::closed, TransitionReason::probes_succeeded);
  EXPECT_FALSE(breaker.try_acquire(38 * kSecondNs).probe);
  EXPECT_EQ(breaker.snapshot(38 * kSecondNs).generation, 3u);
}

TEST(CircuitBreaker, ASuccessResetsTheConsecutiveFailures) {
  CircuitBreaker breaker(consecutive_config());
  calls(breaker, 4, 0, false);
  calls(breaker, 1, 0, true);
  EXPECT_EQ(breaker.snapshot(0).consecutive_failures, 0u);
  calls(breaker, 4, 0, false);
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  EXPECT_TRUE(call(breaker, 0, false).happened());
}

TEST(CircuitBreaker, AnyFailedProbeReopensWithAFreshTimeout) {
  CircuitBreaker breaker(consecutive_config());
  open_consecutive(breaker, 0);
  EXPECT_FALSE(call(breaker, 30 * kSecondNs, true).happened());  // half-open, 1 success
  EXPECT_FALSE(call(breaker, 31 * kSecondNs, true).happened());  // 2 successes
  expect_transition(call(breaker, 32 * kSecondNs, false), BreakerState::half_open,
                    BreakerState::open, TransitionReason::probe_failed);
  // Open again for a full timeout from the failed probe, not from the first opening.
  EXPECT_FALSE(breaker.try_acquire(62 * kSecondNs - 1).allowed);
  const Permit probe = breaker.try_acquire(62 * kSecondNs);
  EXPECT_TRUE(probe.probe);
  // The successes of the earlier half-open period do not carry over.
  EXPECT_EQ(breaker.snapshot(62 * kSecondNs).probe_successes, 0u);
}

TEST(CircuitBreaker, ATimeoutNotOnAMillisecondEndsOnTheNextMillisecond) {
  CircuitBreaker breaker(consecutive_config());
  open_consecutive(breaker, 1'500);  // 1.5 µs: probes from 30.001 s, never before 30 s + 1.5 µs
  EXPECT_FALSE(breaker.try_acquire(30 * kSecondNs + kMsNs - 1).allowed);
  EXPECT_TRUE(breaker.try_acquire(30 * kSecondNs + kMsNs).allowed);
}

TEST(CircuitBreaker, AdmitsAtMostHalfOpenRequestsProbesAtOnce) {
  CircuitBreakerConfig config = consecutive_config();
  config.half_open_requests = 2;
  CircuitBreaker breaker(config);
  open_consecutive(breaker, 0);
  const Permit first = breaker.try_acquire(30 * kSecondNs);
  const Permit second = breaker.try_acquire(30 * kSecondNs);
  EXPECT_TRUE(first.probe);
  EXPECT_TRUE(second.probe);
  EXPECT_FALSE(breaker.try_acquire(30 * kSecondNs).allowed);
  EXPECT_EQ(breaker.snapshot(30 * kSecondNs).probes_in_flight, 2u);
  // A probe that never ran gives its slot back...
  breaker.release(first);
  const Permit third = breaker.try_acquire(30 * kSecondNs);
  EXPECT_TRUE(third.probe);
  EXPECT_FALSE(breaker.try_acquire(30 * kSecondNs).allowed);
  // ...and so does one that ended.
  EXPECT_FALSE(breaker.record(second, true, 0, 30 * kSecondNs).happened());
  EXPECT_TRUE(breaker.try_acquire(30 * kSecondNs).probe);
  EXPECT_EQ(breaker.snapshot(30 * kSecondNs).probes_in_flight, 2u);
}

TEST(CircuitBreaker, IgnoresOutcomesFromAnEarlierPeriod) {
  CircuitBreaker breaker(consecutive_config());
  const Permit closed_era = breaker.try_acquire(0);
  open_consecutive(breaker, 0);
  const Permit old_probe = breaker.try_acquire(30 * kSecondNs);
  EXPECT_TRUE(old_probe.probe);
  expect_transition(call(breaker, 30 * kSecondNs, false), BreakerState::half_open,
                    BreakerState::open, TransitionReason::probe_failed);
  const Permit new_probe = breaker.try_acquire(60 * kSecondNs);
  EXPECT_TRUE(new_probe.probe);
  // A request permitted while closed, and a probe of the previous half-open period, end now:
  // neither counts, and neither frees a slot of this period.
  EXPECT_FALSE(breaker.record(closed_era, false, 0, 60 * kSecondNs).happened());
  EXPECT_FALSE(breaker.record(old_probe, true, 0, 60 * kSecondNs).happened());
  breaker.release(old_probe);
  const BreakerSnapshot snapshot = breaker.snapshot(60 * kSecondNs);
  EXPECT_EQ(snapshot.state, BreakerState::half_open);
  EXPECT_EQ(snapshot.probes_in_flight, 1u);
  EXPECT_EQ(snapshot.probe_successes, 0u);
}

TEST(CircuitBreaker, ADeniedPermitRecordsNothing) {
  CircuitBreaker breaker(consecutive_config());
  open_consecutive(breaker, 0);
  const Permit denied = breaker.try_acquire(kSecondNs);
  EXPECT_FALSE(denied.allowed);
  EXPECT_FALSE(breaker.record(denied, true, 0, kSecondNs).happened());
  breaker.release(denied);
  EXPECT_EQ(breaker.state(), BreakerState::open);
}

TEST(CircuitBreaker, RateModeWaitsForMinRequests) {
  CircuitBreaker breaker(rate_config());
  calls(breaker, 19, kSecondNs, false);  // 100% failed, but only 19 calls
  EXPECT_EQ(breaker.snapshot(kSecondNs).window, (WindowTotals{19, 19, 0}));
  // The 20th call, a success, brings the window to min_requests at 95%.
  const Transition transition = call(breaker, kSecondNs, true);
  expect_transition(transition, BreakerState::closed, BreakerState::open,
                    TransitionReason::failure_rate);
  EXPECT_EQ(transition.window, (WindowTotals{20, 19, 0}));
}

TEST(CircuitBreaker, RateModeOpensExactlyAtTheThreshold) {
  CircuitBreaker breaker(rate_config());
  calls(breaker, 11, kSecondNs, true);
  calls(breaker, 9, kSecondNs, false);  // 9 of 20: 45%
  calls(breaker, 1, kSecondNs, true);   // 9 of 21: 42.9%
  // 10 of 22 = 45.5%, then 11 of 23 = 47.8%, then 12 of 24 = 50%.
  calls(breaker, 2, kSecondNs, false);
  const Transition transition = call(breaker, kSecondNs, false);
  expect_transition(transition, BreakerState::closed, BreakerState::open,
                    TransitionReason::failure_rate);
  EXPECT_EQ(transition.window, (WindowTotals{24, 12, 0}));
}

TEST(CircuitBreaker, SlowCallRateOpensIt) {
  CircuitBreakerConfig config = rate_config();
  config.slow_call_rate_threshold = 50;
  config.slow_call_duration_ms = 100;
  CircuitBreaker breaker(config);
  calls(breaker, 10, kSecondNs, true, 100 * kMsNs);  // exactly the duration: not slow
  calls(breaker, 9, kSecondNs, true, 100 * kMsNs + 1);
  const Transition transition = call(breaker, kSecondNs, true, 100 * kMsNs + 1);
  expect_transition(transition, BreakerState::closed, BreakerState::open,
                    TransitionReason::slow_call_rate);
  EXPECT_EQ(transition.window, (WindowTotals{20, 0, 10}));
}

TEST(CircuitBreaker, ASlowCallRateThresholdOfHundredNeverOpensIt) {
  CircuitBreakerConfig config = rate_config();
  config.slow_call_duration_ms = 100;  // slow_call_rate_threshold stays 100
  CircuitBreaker breaker(config);
  calls(breaker, 100, kSecondNs, true, kSecondNs);
  EXPECT_EQ(breaker.state(), BreakerState::closed);
  EXPECT_EQ(breaker.snapshot(kSecondNs).window.slow_calls, 100u);
}

TEST(CircuitBreaker, ASlowProbeFailsWhileSlowCallsCanOpenIt) {
  CircuitBreakerConfig config = rate_config();
  config.slow_call_rate_threshold = 50;
  config.slow_call_duration_ms = 100;
  CircuitBreaker breaker(config);
  calls(breaker, 19, 0, false);
  EXPECT_TRUE(call(breaker, 0, false).happened());
  expect_transition(call(breaker, 30 * kSecondNs, true, kSecondNs), BreakerState::half_open,
                    BreakerState::open, TransitionReason::probe_failed);
}

TEST(CircuitBreaker, TheTimeWindowForgetsOldFailures) {
  CircuitBreaker breaker(rate_config());
  calls(breaker, 19, 500 * kMsNs, false);
  // 10 s later the second that held them has left the window: one success is all it holds.
  calls(breaker, 1, 10'500 * kMsNs, true);
  EXPECT_EQ(breaker.snapshot(10'500 * kMsNs).window, (WindowTotals{1, 0, 0}));
  EXPECT_EQ(breaker.state(), BreakerState::closed);
}

TEST(CircuitBreaker, ACountWindowJudgesTheLastCalls) {
  CircuitBreakerConfig config = rate_config();
  config.window_type = WindowType::count;
  config.window_size = 10;
  config.min_requests = 20;  // capped at the window's 10 calls
  CircuitBreaker breaker(config);
  calls(breaker, 4, 0, false);
  calls(breaker, 10, 0, true);  // the failures slide out
  EXPECT_EQ(breaker.snapshot(0).window, (WindowTotals{10, 0, 0}));
  calls(breaker, 4, 0, false);  // 4 of the last 10
  const Transition transition = call(breaker, 0, false);
  expect_transition(transition, BreakerState::closed, BreakerState::open,
                    TransitionReason::failure_rate);
  EXPECT_EQ(transition.window, (WindowTotals{10, 5, 0}));
}

TEST(CircuitBreaker, ClosingStartsAnEmptyWindow) {
  CircuitBreaker breaker(rate_config());
  calls(breaker, 19, kSecondNs, false);
  EXPECT_TRUE(call(breaker, kSecondNs, false).happened());
  calls(breaker, 2, 31 * kSecondNs, true);
  expect_transition(call(breaker, 31 * kSecondNs, true), BreakerState::half_open,
                    BreakerState::closed, TransitionReason::probes_succeeded);
  // Same second, same bucket, but a new window: 19 failures are not enough again.
  calls(breaker, 19, 31 * kSecondNs, false);
  EXPECT_EQ(breaker.snapshot(31 * kSecondNs).window, (WindowTotals{19, 19, 0}));
  EXPECT_TRUE(call(breaker, 31 * kSecondNs, false).happened());
}

// Its model trips it from outside (trip()); otherwise a predictive breaker is a rate breaker.
TEST(CircuitBreaker, PredictiveModeOtherwiseActsAsRateMode) {
  CircuitBreakerConfig config = rate_config();
  config.mode = BreakerMode::predictive;
  CircuitBreaker breaker(config);
  calls(breaker, 10, kSecondNs, true);
  calls(breaker, 9, kSecondNs, false);
  expect_transition(call(breaker, kSecondNs, false), BreakerState::closed, BreakerState::open,
                    TransitionReason::failure_rate);
}

TEST(CircuitBreaker, TripOpensAClosedBreakerOnceWithTheUsualTimeout) {
  CircuitBreakerConfig config = rate_config();
  config.mode = BreakerMode::predictive;
  CircuitBreaker breaker(config);
  calls(breaker, 3, kSecondNs, true);
  calls(breaker, 2, kSecondNs, false);
  const Transition transition = breaker.trip(2 * kSecondNs, TransitionReason::predicted_failure);
  expect_transition(transition, BreakerState::closed, BreakerState::open,
                    TransitionReason::predicted_failure);
  EXPECT_EQ(transition.generation, 1u);
  EXPECT_EQ(transition.window, (WindowTotals{5, 2, 0}));
  // A second trip, as another worker's model might make at the same moment, is not reported.
  EXPECT_FALSE(breaker.trip(2 * kSecondNs, TransitionReason::predicted_failure).happened());
  EXPECT_EQ(breaker.snapshot(2 * kSecondNs).generation, 1u);
  // Open for the configured 30 s, then probes as always; a trip while half-open does nothing.
  EXPECT_FALSE(breaker.try_acquire(32 * kSecondNs - 1).allowed);
  const Permit probe = breaker.try_acquire(32 * kSecondNs);
  EXPECT_TRUE(probe.probe);
  EXPECT_FALSE(breaker.trip(32 * kSecondNs, TransitionReason::predicted_failure).happened());
  EXPECT_EQ(breaker.state(), BreakerState::half_open);
  // A request the tripped period permitted no longer counts.
  EXPECT_FALSE(breaker.record(probe, true, 0, 32 * kSecondNs).happened());
  calls(breaker, 1, 32 * kSecondNs, true);
  expect_transition(call(breaker, 32 * kSecondNs, true), BreakerState::half_open,
                    BreakerState::closed, TransitionReason::probes_succeeded);
  EXPECT_EQ(breaker.snapshot(32 * kSecondNs).window, (WindowTotals{}));
}

// In consecutive mode the closed word holds the run of failures: a trip between them still
// takes.
TEST(CircuitBreaker, TripWorksInConsecutiveModeToo) {
  CircuitBreaker breaker(consecutive_config());
  const Permit permit = breaker.try_acquire(0);
  calls(breaker, 3, 0, false);
  expect_transition(breaker.trip(0, TransitionReason::predicted_failure), BreakerState::closed,
                    BreakerState::open, TransitionReason::predicted_failure);
  EXPECT_FALSE(breaker.record(permit, false, 0, 0).happened());
  EXPECT_FALSE(breaker.try_acquire(30 * kSecondNs - 1).allowed);
}

// The short configuration's block (docs/config.md) loads as a rate breaker: 50% of at least
// 20 calls over 10 s, open for 60 s.
TEST(CircuitBreaker, TheShortConfigsBlockIsARateBreaker) {
  const config::Config loaded = config::parse_config(R"(load_balancer:
  servers:
    - host: 127.0.0.1
      port: 8080
circuit_breaker:
  failure_threshold: 50  # percentage
  timeout: 60s
  min_requests: 20
  window_size: 10s
)",
                                                     "short.yaml");
  const CircuitBreakerConfig& config = loaded.clusters.at(0).circuit_breaker;
  ASSERT_TRUE(config.enabled);
  CircuitBreaker breaker(config);
  calls(breaker, 10, kSecondNs, true);
  calls(breaker, 9, kSecondNs, false);
  expect_transition(call(breaker, kSecondNs, false), BreakerState::closed, BreakerState::open,
                    TransitionReason::failure_rate);
  EXPECT_FALSE(breaker.try_acquire(61 * kSecondNs - 1).allowed);
  EXPECT_TRUE(breaker.try_acquire(61 * kSecondNs).probe);
}

TEST(CircuitBreaker, ClampsHalfOpenCountsToWhatTheStateWordHolds) {
  CircuitBreakerConfig config = consecutive_config();
  config.half_open_requests = UINT32_MAX;
  config.success_threshold = UINT32_MAX;
  CircuitBreaker breaker(config);
  open_consecutive(breaker, 0);
  constexpr uint64_t kNow = 30 * kSecondNs;
  std::vector<Permit> probes;
  for (uint32_t i = 0; i < CircuitBreaker::kMaxHalfOpenCount; ++i) {
    probes.push_back(breaker.try_acquire(kNow));
  }
  EXPECT_TRUE(probes.back().probe);
  EXPECT_FALSE(breaker.try_acquire(kNow).allowed);
  for (uint32_t i = 0; i + 1 < CircuitBreaker::kMaxHalfOpenCount; ++i) {
    ASSERT_FALSE(breaker.record(probes[i], true, 0, kNow).happened());
  }
  EXPECT_EQ(breaker.snapshot(kNow).probe_successes, CircuitBreaker::kMaxHalfOpenCount - 1);
  expect_transition(breaker.record(probes.back(), true, 0, kNow), BreakerState::half_open,
                    BreakerState::closed, TransitionReason::probes_succeeded);
}

TEST(CircuitBreaker, NamesItsStatesAndReasons) {
  EXPECT_EQ(state_name(BreakerState::half_open), "half_open");
  EXPECT_EQ(reason_text(TransitionReason::failure_rate), "failure rate reached the threshold");
  EXPECT_EQ(reason_text(TransitionReason::predicted_failure),
            "the failure model predicted failure");
}

// Workers share one breaker: every thread asks, records and sometimes releases, on a shared
// fake clock, while the backend alternates between healthy and failing spells. Checks that no
// half-open period admits more than half_open_requests probes at once, and that the
// transitions reported, ordered by generation, are exactly the breaker's generations: a
// legal chain from CLOSED to the final state, none lost or reported twice.
class BreakerStress {
 public:
  static constexpr int kThreads = 4;
  static constexpr int kRequestsPerThread = 200'000;
  static constexpr uint64_t kTickNs = 2'000;        // the clock's step per request
  static constexpr uint64_t kSpellNs = 20 * kMsNs;  // healthy, then failing, then healthy...

  explicit BreakerStress(const CircuitBreakerConfig& config)
      : config_(config), breaker_(config), probes_at_once_(kGenerations) {}

  void run() {
    std::vector<std::thread> threads;
    std::vector<std::vector<Transition>> seen(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([this, t, &seen] { work(t, seen[t]); });
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
    for (const std::vector<Transition>& some : seen) {
      transitions_.insert(transitions_.end(), some.begin(), some.end());
    }
  }

  void check() const {
    EXPECT_EQ(too_many_probes_.load(), 0);
    const BreakerSnapshot last = breaker_.snapshot(clock_.load());
    ASSERT_LT(transitions_.size(), kGenerations);
    // Many periods, or the test proves nothing.
    EXPECT_GT(transitions_.size(), 30u);
    EXPECT_GT(probes_admitted_.load(), 30);
    std::vector<Transition> ordered = transitions_;
    std::sort(ordered.begin(), ordered.end(),
              [](const Transition& a, const Transition& b) { return a.generation < b.generation; });
    EXPECT_EQ(ordered.size(), last.generation);
    BreakerState state = BreakerState::closed;
    for (size_t i = 0; i < ordered.size(); ++i) {
      const Transition& transition = ordered[i];
      ASSERT_EQ(transition.generation, i + 1);
      ASSERT_EQ(transition.from, state) << "generation " << transition.generation;
      ASSERT_TRUE(legal(transition.from, transition.to));
      state = transition.to;
    }
    EXPECT_EQ(state, last.state);
  }

 private:
  static constexpr size_t kGenerations = 1 << 16;
  static constexpr size_t kInFlight = 3;

  struct InFlight {
    Permit permit;
    uint64_t started_ns = 0;
  };

  static bool legal(BreakerState from, BreakerState to) {
    using enum BreakerState;
    return (from == closed && to == open) || (from == open && to == half_open) ||
           (from == half_open && (to == open || to == closed));
  }

  // Each thread keeps up to kInFlight requests in flight, as a worker does, ending the oldest
  // (recording its outcome, or sometimes releasing it unrun) before asking for more.
  void work(int thread, std::vector<Transition>& seen) {
    core::Random random(static_cast<uint64_t>(thread) + 1);
    std::deque<InFlight> in_flight;
    for (int i = 0; i < kRequestsPerThread; ++i) {
      const uint64_t now_ns = clock_.fetch_add(kTickNs, std::memory_order_relaxed);
      if (in_flight.size() == kInFlight || (!in_flight.empty() && random.below(2) == 0)) {
        finish(in_flight.front(), now_ns, random, seen);
        in_flight.pop_front();
      }
      const Permit permit = breaker_.try_acquire(now_ns);
      if (permit.transition.happened()) {
        seen.push_back(permit.transition);
      }
      if (!permit.allowed) {
        continue;
      }
      if (permit.probe) {
        probes_admitted_.fetch_add(1, std::memory_order_relaxed);
        if (probes_held(permit).fetch_add(1, std::memory_order_relaxed) + 1 >
            config_.half_open_requests) {
          too_many_probes_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      in_flight.push_back({permit, now_ns});
    }
    for (const InFlight& request : in_flight) {
      finish(request, clock_.load(std::memory_order_relaxed), random, seen);
    }
  }

  void finish(const InFlight& request, uint64_t now_ns, core::Random& random,
              std::vector<Transition>& seen) {
    if (request.permit.probe) {
      probes_held(request.permit).fetch_sub(1, std::memory_order_relaxed);
    }
    if (random.below(20) == 0) {
      breaker_.release(request.permit);
      return;
    }
    const bool failing = (now_ns / kSpellNs) % 2 == 1;
    const bool success = random.below(100) >= (failing ? 70u : 5u);
    // One call in ten also waited 2 ms somewhere: slow in the rate test.
    const uint64_t latency_ns =
        now_ns - request.started_ns + (random.below(10) == 0 ? 2 * kMsNs : 0);
    const Transition transition = breaker_.record(request.permit, success, latency_ns, now_ns);
    if (transition.happened()) {
      seen.push_back(transition);
    }
  }

  std::atomic<uint32_t>& probes_held(const Permit& permit) {
    return probes_at_once_[permit.generation % kGenerations];
  }

  const CircuitBreakerConfig config_;
  CircuitBreaker breaker_;
  std::atomic<uint64_t> clock_{0};
  std::vector<std::atomic<uint32_t>> probes_at_once_;  // test-side probes held, by generation
  std::atomic<int> too_many_probes_{0};
  std::atomic<int> probes_admitted_{0};
  std::vector<Transition> transitions_;
};

TEST(CircuitBreakerStress, ConsecutiveModeKeepsItsInvariantsUnderThreads) {
  CircuitBreakerConfig config = consecutive_config();
  config.failure_threshold = 3;
  config.timeout_ms = 1;
  config.half_open_requests = 2;
  config.success_threshold = 4;
  auto stress = std::make_unique<BreakerStress>(config);
  stress->run();
  stress->check();
}

TEST(CircuitBreakerStress, RateModeKeepsItsInvariantsUnderThreads) {
  CircuitBreakerConfig config = rate_config();
  config.window_size = 5;  // ms
  config.min_requests = 10;
  config.timeout_ms = 1;
  config.half_open_requests = 2;
  config.success_threshold = 4;
  config.slow_call_rate_threshold = 60;
  config.slow_call_duration_ms = 1;
  auto stress = std::make_unique<BreakerStress>(config);
  stress->run();
  stress->check();
}

}  // namespace
}  // namespace ballast::health
