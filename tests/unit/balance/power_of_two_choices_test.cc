#include "balance/power_of_two_choices.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::chi_square;
using test_support::kChiSquare999Df1;
using test_support::kChiSquare999Df3;

// Picks and ends each attempt at once, so every pick sees the same load.
std::vector<uint64_t> counts_at_steady_load(PowerOfTwoChoices& policy, int picks,
                                            const PickContext& ctx = {}) {
  std::vector<uint64_t> counts(policy.size(), 0);
  for (int i = 0; i < picks; ++i) {
    const ServerIndex server = policy.pick(ctx);
    EXPECT_LT(server, policy.size());
    if (server >= policy.size()) {
      break;
    }
    policy.on_attempt_start(server);
    policy.on_attempt_end(server, {});
    ++counts[server];
  }
  return counts;
}

// Picks and starts attempts that never end, so load piles up where the policy sends it.
void hold_picks(PowerOfTwoChoices& policy, int picks) {
  for (int i = 0; i < picks; ++i) {
    const ServerIndex server = policy.pick({});
    ASSERT_LT(server, policy.size());
    policy.on_attempt_start(server);
  }
}

TEST(PowerOfTwoChoices, WithTwoServersTheBusyOneIsNeverChosen) {
  // Both servers are drawn every time (without replacement), so the idle one always wins. With
  // replacement, a quarter of the picks would draw the busy one twice and choose it.
  PowerOfTwoChoices policy({1, 1}, 1);
  policy.on_attempt_start(0);
  EXPECT_EQ(counts_at_steady_load(policy, 1000)[0], 0u);
  policy.on_attempt_start(1);
  policy.on_attempt_start(1);
  EXPECT_EQ(counts_at_steady_load(policy, 1000)[1], 0u);
}

TEST(PowerOfTwoChoices, LoadIsActiveRequestsPerUnitOfWeight) {
  // Server 0: 1 active at weight 1 (load 1). Server 1: 2 active at weight 3 (load 2/3).
  PowerOfTwoChoices policy({1, 3}, 2);
  policy.on_attempt_start(0);
  policy.on_attempt_start(1);
  policy.on_attempt_start(1);
  EXPECT_EQ(counts_at_steady_load(policy, 1000)[0], 0u);
}

TEST(PowerOfTwoChoices, EqualLoadsGoToTheFirstDrawn) {
  // 1 of 1 and 3 of 3 are equal loads, found equal by exact cross-multiplication. The first
  // draw is weighted, so server 0 is first a quarter of the time. (Ties to the lower index
  // would give it every pick; ties to the second draw, three quarters.)
  PowerOfTwoChoices policy({1, 3}, 3);
  policy.on_attempt_start(0);
  for (int i = 0; i < 3; ++i) {
    policy.on_attempt_start(1);
  }
  EXPECT_LT(chi_square(counts_at_steady_load(policy, 20'000), {0.25, 0.75}), kChiSquare999Df1);
}

TEST(PowerOfTwoChoices, AtEqualLoadTheShareFollowsWeights) {
  PowerOfTwoChoices policy({1, 2, 3, 4}, 4);
  EXPECT_LT(chi_square(counts_at_steady_load(policy, 100'000), {0.1, 0.2, 0.3, 0.4}),
            kChiSquare999Df3);
}

TEST(PowerOfTwoChoices, HeldLoadStaysEvenAcrossServers) {
  // 10 servers, 1,000 attempts that never end. Random placement would spread the counts by
  // about ±30 around 100; two choices keep them within a few of each other.
  PowerOfTwoChoices policy(std::vector<uint32_t>(10, 1), 5);
  hold_picks(policy, 1000);
  uint32_t least = UINT32_MAX;
  uint32_t most = 0;
  for (ServerIndex server = 0; server < 10; ++server) {
    least = std::min(least, policy.active_requests(server));
    most = std::max(most, policy.active_requests(server));
  }
  EXPECT_LE(most - least, 3u);
}

TEST(PowerOfTwoChoices, HeldLoadFollowsWeights) {
  PowerOfTwoChoices policy({1, 2}, 6);
  hold_picks(policy, 3000);
  EXPECT_NEAR(policy.active_requests(0), 1000, 3);
  EXPECT_NEAR(policy.active_requests(1), 2000, 3);
}

TEST(PowerOfTwoChoices, IneligibleServersAreNeverChosen) {
  PowerOfTwoChoices policy({1, 1, 1}, 7);
  policy.set_eligible(1, false);
  policy.on_attempt_start(0);
  // Two eligible servers left, so both are compared every time and the busy one never wins.
  const std::vector<uint64_t> counts = counts_at_steady_load(policy, 1000);
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[1], 0u);
  policy.set_eligible(1, true);
  EXPECT_GT(counts_at_steady_load(policy, 1000)[1], 0u);
}

TEST(PowerOfTwoChoices, ExcludedServersAreNeverChosen) {
  PowerOfTwoChoices policy({1, 1, 1, 1}, 8);
  PickContext ctx;
  ctx.excluded.add(2);
  policy.on_attempt_start(3);
  const std::vector<uint64_t> counts = counts_at_steady_load(policy, 3000, ctx);
  EXPECT_EQ(counts[2], 0u);
  // Whenever the busy 3 is drawn, it is compared with an idle server, so it never wins.
  EXPECT_EQ(counts[3], 0u);
  ctx.excluded.add(0);
  ctx.excluded.add(1);
  // Only the busy server qualifies: it is returned rather than nothing.
  EXPECT_EQ(policy.pick(ctx), 3u);
  ctx.excluded.add(3);
  EXPECT_EQ(policy.pick(ctx), kNoServer);
}

TEST(PowerOfTwoChoices, NoServerWhenNothingIsEligible) {
  PowerOfTwoChoices policy({1, 1}, 9);
  policy.set_eligible(0, false);
  EXPECT_EQ(policy.pick({}), 1u);
  policy.set_eligible(1, false);
  EXPECT_EQ(policy.pick({}), kNoServer);
}

TEST(PowerOfTwoChoices, WeightChangesApplyToTheNextPicks) {
  PowerOfTwoChoices policy({1, 1}, 10);
  policy.set_weight(1, 3);
  EXPECT_LT(chi_square(counts_at_steady_load(policy, 20'000), {0.25, 0.75}), kChiSquare999Df1);
  // A weight set while ineligible does not bring the server back.
  policy.set_eligible(0, false);
  policy.set_weight(0, 5);
  EXPECT_EQ(counts_at_steady_load(policy, 1000)[0], 0u);
}

TEST(PowerOfTwoChoices, AttemptsAreCountedAndAnUnmatchedEndDoesNotWrap) {
  PowerOfTwoChoices policy({1, 1}, 11);
  policy.on_attempt_start(1);
  policy.on_attempt_start(1);
  EXPECT_EQ(policy.active_requests(1), 2u);
  policy.on_attempt_end(1, {});
  EXPECT_EQ(policy.active_requests(1), 1u);
  policy.on_attempt_end(0, {});
  EXPECT_EQ(policy.active_requests(0), 0u);
}

TEST(PowerOfTwoChoices, LargeFleetStaysEvenWithHalfIneligible) {
  PowerOfTwoChoices policy(std::vector<uint32_t>(10'000, 1), 12);
  for (ServerIndex server = 0; server < 10'000; server += 2) {
    policy.set_eligible(server, false);
  }
  hold_picks(policy, 50'000);  // 10 per eligible server
  uint32_t most = 0;
  for (ServerIndex server = 0; server < 10'000; ++server) {
    if (server % 2 == 0) {
      ASSERT_EQ(policy.active_requests(server), 0u);
    }
    most = std::max(most, policy.active_requests(server));
  }
  // Random placement of 10 per server would reach about 25 somewhere among 5,000 servers.
  EXPECT_LE(most, 13u);
}

}  // namespace
}  // namespace ballast::balance
