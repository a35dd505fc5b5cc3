#include "health/outlier_detector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <iterator>
#include <optional>
#include <thread>
#include <vector>

#include "core/random.h"

namespace ballast::health {
namespace {

constexpr uint64_t kMsNs = 1'000'000;
constexpr uint64_t kSecondNs = 1'000 * kMsNs;

config::OutlierDetectionConfig detection_config(uint32_t consecutive_failures,
                                                uint32_t max_ejection_percent = 100) {
  config::OutlierDetectionConfig config;
  config.enabled = true;
  config.consecutive_failures = consecutive_failures;
  config.base_ejection_time_ms = 30'000;
  config.max_ejection_time_ms = 300'000;
  config.max_ejection_percent = max_ejection_percent;
  return config;
}

// Records `count` failures of `result` on `server` at now_ns; returns the last transition.
std::optional<OutlierTransition> fail(OutlierDetector& detector, uint32_t server, int count,
                                      uint64_t now_ns,
                                      TrafficResult result = TrafficResult::connect_failure) {
  std::optional<OutlierTransition> last;
  for (int i = 0; i < count; ++i) {
    last = detector.record(server, result, now_ns);
  }
  return last;
}

void expect_ejected(const std::optional<OutlierTransition>& transition, uint32_t server,
                    uint32_t multiplier, uint64_t ejection_ms) {
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->event, OutlierEvent::ejected);
  EXPECT_EQ(transition->server, server);
  EXPECT_EQ(transition->multiplier, multiplier);
  EXPECT_EQ(transition->ejection_ms, ejection_ms);
}

TEST(OutlierDetector, EjectsAtTheThresholdForTheBaseTime) {
  OutlierDetector detector(detection_config(3), 4);
  EXPECT_FALSE(fail(detector, 1, 2, 0));
  EXPECT_FALSE(detector.is_ejected(1, 0));
  const std::optional<OutlierTransition> ejection =
      detector.record(1, TrafficResult::timeout, kSecondNs);
  expect_ejected(ejection, 1, 1, 30'000);
  EXPECT_EQ(ejection->failure, TrafficResult::timeout);
  EXPECT_TRUE(detector.is_ejected(1, kSecondNs));
  EXPECT_TRUE(detector.is_ejected(1, 31 * kSecondNs - 1));
  EXPECT_FALSE(detector.is_ejected(1, 31 * kSecondNs));
  EXPECT_FALSE(detector.is_ejected(0, kSecondNs));
  EXPECT_EQ(detector.ejected_count(kSecondNs), 1u);
}

TEST(OutlierDetector, ConnectFailuresResetsAndTimeoutsAllCount) {
  OutlierDetector detector(detection_config(3), 1);
  EXPECT_FALSE(detector.record(0, TrafficResult::connect_failure, 0));
  EXPECT_FALSE(detector.record(0, TrafficResult::reset, 0));
  expect_ejected(detector.record(0, TrafficResult::timeout, 0), 0, 1, 30'000);
}

TEST(OutlierDetector, ServerErrorsCountOnlyWithOn5xx) {
  OutlierDetector without(detection_config(2), 1);
  EXPECT_FALSE(fail(without, 0, 10, 0, TrafficResult::server_error));
  EXPECT_FALSE(without.is_ejected(0, 0));
  // Without on_5xx a 5xx is an answer: it ends a run of connect failures.
  EXPECT_FALSE(without.record(0, TrafficResult::connect_failure, 0));
  EXPECT_FALSE(without.record(0, TrafficResult::server_error, 0));
  EXPECT_FALSE(without.record(0, TrafficResult::connect_failure, 0));
  EXPECT_FALSE(without.is_ejected(0, 0));

  config::OutlierDetectionConfig config = detection_config(2);
  config.on_5xx = true;
  OutlierDetector with(config, 1);
  EXPECT_FALSE(with.record(0, TrafficResult::server_error, 0));
  expect_ejected(with.record(0, TrafficResult::server_error, 0), 0, 1, 30'000);
}

TEST(OutlierDetector, SuccessRestartsTheRun) {
  OutlierDetector detector(detection_config(3), 1);
  for (int round = 0; round < 10; ++round) {
    EXPECT_FALSE(fail(detector, 0, 2, 0));
    EXPECT_FALSE(detector.record(0, TrafficResult::success, 0));
  }
  EXPECT_FALSE(detector.is_ejected(0, 0));
  expect_ejected(fail(detector, 0, 3, 0), 0, 1, 30'000);
}

// Ejected again as soon as it returns: 30 s, 60 s, 90 s… up to max_ejection_time.
TEST(OutlierDetector, BackoffGrowsByTheBaseTimeUpToTheCap) {
  config::OutlierDetectionConfig config = detection_config(1);
  config.max_ejection_time_ms = 100'000;  // not a multiple of the base: the cap cuts 120 s
  OutlierDetector detector(config, 1);
  uint64_t now_ns = 0;
  const uint64_t expected_ms[] = {30'000, 60'000, 90'000, 100'000, 100'000, 100'000};
  for (uint32_t i = 0; i < std::size(expected_ms); ++i) {
    const std::optional<OutlierTransition> ejection = fail(detector, 0, 1, now_ns);
    expect_ejected(ejection, 0, std::min<uint32_t>(i + 1, 4), expected_ms[i]);
    EXPECT_TRUE(detector.is_ejected(0, now_ns + expected_ms[i] * kMsNs - 1));
    now_ns += expected_ms[i] * kMsNs;
    EXPECT_FALSE(detector.is_ejected(0, now_ns));
  }
}

TEST(OutlierDetector, MultiplierDecaysOneStepPerBaseTimeBackInService) {
  OutlierDetector detector(detection_config(1), 1);
  uint64_t now_ns = 0;
  for (uint32_t multiplier = 1; multiplier <= 3; ++multiplier) {
    expect_ejected(fail(detector, 0, 1, now_ns), 0, multiplier, multiplier * 30'000);
    now_ns += multiplier * 30 * kSecondNs;
  }
  // Back for two base times (and a bit): 3 decays to 1, so this is the 2nd step of the backoff.
  now_ns += 61 * kSecondNs;
  expect_ejected(fail(detector, 0, 1, now_ns), 0, 2, 60'000);
  // Back long enough to forget it all.
  now_ns += 60 * kSecondNs + 10 * 30 * kSecondNs;
  expect_ejected(fail(detector, 0, 1, now_ns), 0, 1, 30'000);
}

// Envoy's rule, checked after counting the candidate: 1 of 3 is 33% > 10%.
TEST(OutlierDetector, ThreeServersAtTenPercentEjectNone) {
  OutlierDetector detector(detection_config(2, 10), 3);
  EXPECT_EQ(detector.max_ejected(), 0u);
  for (uint32_t server = 0; server < 3; ++server) {
    const std::optional<OutlierTransition> refused = fail(detector, server, 2, 0);
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->event, OutlierEvent::ejection_refused);
    EXPECT_FALSE(detector.is_ejected(server, 0));
  }
  // The run restarts after a refusal: the next try is a full run later.
  EXPECT_FALSE(fail(detector, 0, 1, 0));
  EXPECT_TRUE(fail(detector, 0, 1, 0));
  EXPECT_EQ(detector.ejected_count(0), 0u);
}

TEST(OutlierDetector, TenServersAtTenPercentEjectOneAtATime) {
  OutlierDetector detector(detection_config(2, 10), 10);
  EXPECT_EQ(detector.max_ejected(), 1u);
  expect_ejected(fail(detector, 3, 2, 0), 3, 1, 30'000);
  const std::optional<OutlierTransition> refused = fail(detector, 7, 2, kSecondNs);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->event, OutlierEvent::ejection_refused);
  EXPECT_EQ(detector.ejected_count(kSecondNs), 1u);
  // Server 3's time passes; its place is free for server 7 without any sweep.
  expect_ejected(fail(detector, 7, 2, 30 * kSecondNs), 7, 1, 30'000);
  EXPECT_FALSE(detector.is_ejected(3, 30 * kSecondNs));
  EXPECT_EQ(detector.ejected_count(30 * kSecondNs), 1u);
}

TEST(OutlierDetector, TwentyServersAtTenPercentEjectTwo) {
  OutlierDetector detector(detection_config(1, 10), 20);
  EXPECT_EQ(detector.max_ejected(), 2u);
  for (uint32_t server = 0; server < 20; ++server) {
    fail(detector, server, 1, 0);
  }
  EXPECT_EQ(detector.ejected_count(0), 2u);
}

TEST(OutlierDetector, ZeroPercentNeverEjectsAndAHundredCanEjectAll) {
  OutlierDetector none(detection_config(1, 0), 5);
  OutlierDetector all(detection_config(1, 100), 5);
  for (uint32_t server = 0; server < 5; ++server) {
    fail(none, server, 1, 0);
    fail(all, server, 1, 0);
  }
  EXPECT_EQ(none.ejected_count(0), 0u);
  EXPECT_EQ(all.ejected_count(0), 5u);
}

TEST(OutlierDetector, HealthCheckReturnsTheServerEarlyAndFreesItsPlace) {
  OutlierDetector detector(detection_config(1, 10), 10);
  EXPECT_FALSE(detector.return_server(2, 0));  // not ejected: nothing to report
  expect_ejected(fail(detector, 2, 1, 0), 2, 1, 30'000);
  EXPECT_EQ(fail(detector, 5, 1, kSecondNs)->event, OutlierEvent::ejection_refused);

  const std::optional<OutlierTransition> returned = detector.return_server(2, 5 * kSecondNs);
  ASSERT_TRUE(returned.has_value());
  EXPECT_EQ(returned->event, OutlierEvent::returned_by_check);
  EXPECT_EQ(returned->server, 2u);
  EXPECT_FALSE(detector.is_ejected(2, 5 * kSecondNs));
  EXPECT_FALSE(detector.return_server(2, 5 * kSecondNs));  // reported once
  EXPECT_TRUE(detector.collect_returns(100 * kSecondNs).empty());

  expect_ejected(fail(detector, 5, 1, 6 * kSecondNs), 5, 1, 30'000);
  // Server 5 now holds the one place.
  EXPECT_EQ(fail(detector, 2, 1, 7 * kSecondNs)->event, OutlierEvent::ejection_refused);
}

TEST(OutlierDetector, EarlyReturnStartsTheDecayAtTheReturn) {
  OutlierDetector detector(detection_config(1), 1);
  expect_ejected(fail(detector, 0, 1, 0), 0, 1, 30'000);
  ASSERT_TRUE(detector.return_server(0, kSecondNs));
  expect_ejected(fail(detector, 0, 1, 2 * kSecondNs), 0, 2, 60'000);
}

TEST(OutlierDetector, CollectReturnsReportsEachExpiryOnce) {
  OutlierDetector detector(detection_config(1), 3);
  fail(detector, 0, 1, 0);
  fail(detector, 2, 1, 10 * kSecondNs);
  EXPECT_TRUE(detector.collect_returns(29 * kSecondNs).empty());
  std::vector<OutlierTransition> returns = detector.collect_returns(35 * kSecondNs);
  ASSERT_EQ(returns.size(), 1u);
  EXPECT_EQ(returns[0].server, 0u);
  EXPECT_EQ(returns[0].event, OutlierEvent::expired);
  EXPECT_TRUE(detector.collect_returns(36 * kSecondNs).empty());
  returns = detector.collect_returns(40 * kSecondNs);
  ASSERT_EQ(returns.size(), 1u);
  EXPECT_EQ(returns[0].server, 2u);
  // The decay counts from the end of the ejection (30 s), not from when it was collected.
  expect_ejected(fail(detector, 0, 1, 60 * kSecondNs), 0, 1, 30'000);
}

TEST(OutlierDetector, FailuresOfAttemptsOnAnEjectedServerDoNotCount) {
  OutlierDetector detector(detection_config(3), 1);
  expect_ejected(fail(detector, 0, 3, 0), 0, 1, 30'000);
  EXPECT_FALSE(fail(detector, 0, 10, kSecondNs));  // attempts begun before the ejection
  EXPECT_FALSE(fail(detector, 0, 2, 30 * kSecondNs));
  EXPECT_FALSE(detector.is_ejected(0, 30 * kSecondNs));
  expect_ejected(fail(detector, 0, 1, 30 * kSecondNs), 0, 2, 60'000);
}

TEST(OutlierDetector, ZeroSettingsActAsOne) {
  config::OutlierDetectionConfig config = detection_config(0);
  config.base_ejection_time_ms = 0;
  config.max_ejection_time_ms = 0;
  OutlierDetector detector(config, 1);
  expect_ejected(detector.record(0, TrafficResult::reset, 0), 0, 1, 0);  // 1 ns, under 1 ms
  EXPECT_TRUE(detector.is_ejected(0, 0));
  EXPECT_FALSE(detector.is_ejected(0, 1));
}

TEST(OutlierDetector, Names) {
  EXPECT_EQ(to_string(TrafficResult::server_error), "server_error");
  EXPECT_EQ(to_string(TrafficResult::connect_failure), "connect_failure");
  EXPECT_EQ(to_string(OutlierEvent::ejection_refused),
            "ejection refused: max_ejection_percent reached");
}

// Four workers hammer a 20-server cluster at 10% (two places) with failures, successes and early
// returns. The clock is shared and frozen within each phase (a worker loop's cached clock); the
// phases advance it past some ejections' ends. The count is taken between phases, when the
// workers wait: a scan during one could count a server that has just returned and then the one
// that took its place.
TEST(OutlierDetector, ConcurrentWorkersNeverExceedTheLimit) {
  constexpr uint32_t kServers = 20;
  constexpr int kWorkers = 4;
  constexpr int kPhases = 1'000;
  constexpr int kRecordsPerPhase = 500;
  config::OutlierDetectionConfig config = detection_config(2, 10);
  config.base_ejection_time_ms = 3;
  config.max_ejection_time_ms = 20;
  OutlierDetector detector(config, kServers);
  ASSERT_EQ(detector.max_ejected(), 2u);

  std::atomic<uint64_t> now_ns{0};
  std::atomic<uint64_t> ejections{0};
  std::barrier phase_end(kWorkers + 1);
  auto worker = [&](int id) {
    core::Random random(static_cast<uint64_t>(id) + 1);
    for (int phase = 0; phase < kPhases; ++phase) {
      const uint64_t now = now_ns.load();
      for (int i = 0; i < kRecordsPerPhase; ++i) {
        const uint32_t server = static_cast<uint32_t>(random.below(kServers));
        // Servers 0-9 fail nearly always, 10-19 mostly succeed.
        const bool failed = random.below(100) < (server < 10 ? 95 : 20);
        const std::optional<OutlierTransition> transition =
            detector.record(server, failed ? TrafficResult::reset : TrafficResult::success, now);
        if (transition && transition->event == OutlierEvent::ejected) {
          ejections.fetch_add(1);
        }
        if (random.below(64) == 0) {
          detector.return_server(server, now);
        }
      }
      phase_end.arrive_and_wait();  // the main thread counts and moves the clock
      phase_end.arrive_and_wait();
    }
  };
  std::vector<std::thread> threads;
  for (int id = 0; id < kWorkers; ++id) {
    threads.emplace_back(worker, id);
  }
  uint32_t most_ejected = 0;
  for (int phase = 0; phase < kPhases; ++phase) {
    phase_end.arrive_and_wait();
    const uint32_t ejected = detector.ejected_count(now_ns.load());
    EXPECT_LE(ejected, 2u) << "phase " << phase;
    most_ejected = std::max(most_ejected, ejected);
    detector.collect_returns(now_ns.load());
    now_ns.fetch_add(kMsNs);
    phase_end.arrive_and_wait();
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(most_ejected, 2u);  // the limit was reached, so the check above meant something
  EXPECT_GT(ejections.load(), 500u);
}

}  // namespace
}  // namespace ballast::health
