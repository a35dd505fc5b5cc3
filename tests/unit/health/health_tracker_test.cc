#include "health/health_tracker.h"

#include <gtest/gtest.h>

#include <optional>

namespace ballast::health {
namespace {

constexpr uint64_t kSecondNs = 1'000'000'000;

config::HealthCheckConfig check_config(uint32_t healthy_threshold, uint32_t unhealthy_threshold,
                                       bool start_healthy = false, uint64_t slow_start_ms = 0) {
  config::HealthCheckConfig config;
  config.healthy_threshold = healthy_threshold;
  config.unhealthy_threshold = unhealthy_threshold;
  config.start_healthy = start_healthy;
  config.slow_start_ms = slow_start_ms;
  return config;
}

void expect_transition(const std::optional<HealthTransition>& transition, HealthState from,
                       HealthState to, uint32_t consecutive_checks) {
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(transition->from, from);
  EXPECT_EQ(transition->to, to);
  EXPECT_EQ(transition->consecutive_checks, consecutive_checks);
}

// The seed's Layer 2: checks every 5 s; three failures in a row take the server out at the
// third, and (healthy_threshold 1) one later success brings it back.
TEST(HealthTracker, SeedTimelineOutAtTheThirdFailureInAtTheNextSuccess) {
  HealthTracker tracker(check_config(1, 3));
  expect_transition(tracker.record(CheckResult::passed, 0), HealthState::unknown,
                    HealthState::healthy, 1);
  EXPECT_FALSE(tracker.record(CheckResult::failed, 5 * kSecondNs));
  EXPECT_TRUE(tracker.eligible());
  EXPECT_FALSE(tracker.record(CheckResult::failed, 10 * kSecondNs));
  EXPECT_TRUE(tracker.eligible());
  EXPECT_EQ(tracker.consecutive_failures(), 2u);
  expect_transition(tracker.record(CheckResult::failed, 15 * kSecondNs), HealthState::healthy,
                    HealthState::unhealthy, 3);
  EXPECT_FALSE(tracker.eligible());
  EXPECT_FALSE(tracker.record(CheckResult::failed, 20 * kSecondNs));  // reported once
  expect_transition(tracker.record(CheckResult::passed, 25 * kSecondNs), HealthState::unhealthy,
                    HealthState::healthy, 1);
  EXPECT_TRUE(tracker.eligible());
}

// The short config's defaults: healthy_threshold 2, unhealthy_threshold 3.
TEST(HealthTracker, DefaultThresholdsTwoPassesInThreeFailuresOut) {
  const config::HealthCheckConfig defaults;
  ASSERT_EQ(defaults.healthy_threshold, 2u);
  ASSERT_EQ(defaults.unhealthy_threshold, 3u);
  HealthTracker tracker(check_config(2, 3, /*start_healthy=*/true));
  EXPECT_FALSE(tracker.record(CheckResult::failed, 1));
  EXPECT_FALSE(tracker.record(CheckResult::failed, 2));
  expect_transition(tracker.record(CheckResult::failed, 3), HealthState::healthy,
                    HealthState::unhealthy, 3);
  EXPECT_FALSE(tracker.record(CheckResult::passed, 4));
  EXPECT_FALSE(tracker.eligible());
  expect_transition(tracker.record(CheckResult::passed, 5), HealthState::unhealthy,
                    HealthState::healthy, 2);
  EXPECT_TRUE(tracker.eligible());
}

TEST(HealthTracker, AlternatingResultsNeverChangeTheState) {
  HealthTracker healthy(check_config(2, 2, /*start_healthy=*/true));
  HealthTracker unhealthy(check_config(2, 2));
  ASSERT_TRUE(unhealthy.record(CheckResult::failed, 0));
  for (uint64_t i = 1; i <= 100; ++i) {
    const CheckResult result = i % 2 == 0 ? CheckResult::passed : CheckResult::failed;
    EXPECT_FALSE(healthy.record(result, i));
    EXPECT_FALSE(unhealthy.record(result, i));
  }
  EXPECT_EQ(healthy.state(), HealthState::healthy);
  EXPECT_EQ(unhealthy.state(), HealthState::unhealthy);
  EXPECT_EQ(healthy.consecutive_passes(), 1u);
  EXPECT_EQ(healthy.consecutive_failures(), 0u);
}

TEST(HealthTracker, NewServerIsUnknownAndIneligibleUntilItsFirstCheck) {
  HealthTracker tracker(check_config(2, 3));
  EXPECT_EQ(tracker.state(), HealthState::unknown);
  EXPECT_FALSE(tracker.eligible());
  // The first pass decides at once, whatever healthy_threshold says.
  expect_transition(tracker.record(CheckResult::passed, 0), HealthState::unknown,
                    HealthState::healthy, 1);
  EXPECT_TRUE(tracker.eligible());
}

TEST(HealthTracker, FirstFailureMakesANewServerUnhealthyAndItNeedsTheFullRunBack) {
  HealthTracker tracker(check_config(2, 3));
  expect_transition(tracker.record(CheckResult::failed, 0), HealthState::unknown,
                    HealthState::unhealthy, 1);
  EXPECT_FALSE(tracker.record(CheckResult::passed, 1));
  EXPECT_FALSE(tracker.eligible());
  expect_transition(tracker.record(CheckResult::passed, 2), HealthState::unhealthy,
                    HealthState::healthy, 2);
}

TEST(HealthTracker, StartHealthyIsEligibleAtFullWeightAtOnce) {
  HealthTracker tracker(check_config(2, 3, /*start_healthy=*/true, /*slow_start_ms=*/10'000));
  EXPECT_EQ(tracker.state(), HealthState::healthy);
  EXPECT_TRUE(tracker.eligible());
  EXPECT_EQ(tracker.weight_factor(0), 1.0);
  EXPECT_FALSE(tracker.record(CheckResult::passed, 0));
}

TEST(HealthTracker, SlowStartRampsFromTheFloorToFullWeight) {
  HealthTracker tracker(check_config(1, 1, false, /*slow_start_ms=*/10'000));
  const uint64_t healthy_at_ns = 100 * kSecondNs;
  ASSERT_TRUE(tracker.record(CheckResult::passed, healthy_at_ns));
  EXPECT_DOUBLE_EQ(tracker.weight_factor(healthy_at_ns), HealthTracker::kSlowStartFloor);  // 0%
  EXPECT_DOUBLE_EQ(tracker.weight_factor(healthy_at_ns + kSecondNs / 2), 0.1);  // floor holds
  EXPECT_DOUBLE_EQ(tracker.weight_factor(healthy_at_ns + 2 * kSecondNs), 0.2);
  EXPECT_DOUBLE_EQ(tracker.weight_factor(healthy_at_ns + 5 * kSecondNs), 0.5);   // 50%
  EXPECT_DOUBLE_EQ(tracker.weight_factor(healthy_at_ns + 10 * kSecondNs), 1.0);  // 100%
  EXPECT_DOUBLE_EQ(tracker.weight_factor(healthy_at_ns + 60 * kSecondNs), 1.0);
  // Passes while healthy do not restart the ramp.
  EXPECT_FALSE(tracker.record(CheckResult::passed, healthy_at_ns + 5 * kSecondNs));
  EXPECT_DOUBLE_EQ(tracker.weight_factor(healthy_at_ns + 10 * kSecondNs), 1.0);
}

TEST(HealthTracker, SlowStartRestartsEachTimeTheServerBecomesHealthy) {
  HealthTracker tracker(check_config(1, 1, false, /*slow_start_ms=*/10'000));
  ASSERT_TRUE(tracker.record(CheckResult::passed, 0));
  ASSERT_TRUE(tracker.record(CheckResult::failed, 20 * kSecondNs));
  EXPECT_EQ(tracker.weight_factor(25 * kSecondNs), 1.0);  // not healthy: no ramp to apply
  ASSERT_TRUE(tracker.record(CheckResult::passed, 30 * kSecondNs));
  EXPECT_DOUBLE_EQ(tracker.weight_factor(30 * kSecondNs), 0.1);
  EXPECT_DOUBLE_EQ(tracker.weight_factor(35 * kSecondNs), 0.5);
}

TEST(HealthTracker, NoSlowStartMeansFullWeightAtOnce) {
  HealthTracker tracker(check_config(1, 1));
  ASSERT_TRUE(tracker.record(CheckResult::passed, 7));
  EXPECT_EQ(tracker.weight_factor(7), 1.0);
}

TEST(HealthTracker, ZeroThresholdsActAsOne) {
  HealthTracker tracker(check_config(0, 0, /*start_healthy=*/true));
  EXPECT_TRUE(tracker.record(CheckResult::failed, 0));
  EXPECT_TRUE(tracker.record(CheckResult::passed, 1));
}

TEST(HealthTracker, StateNames) {
  EXPECT_EQ(to_string(HealthState::unknown), "unknown");
  EXPECT_EQ(to_string(HealthState::healthy), "healthy");
  EXPECT_EQ(to_string(HealthState::unhealthy), "unhealthy");
}

}  // namespace
}  // namespace ballast::health
