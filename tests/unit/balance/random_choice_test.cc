#include "balance/random_choice.h"

#include <gtest/gtest.h>

#include <vector>

#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::chi_square;
using test_support::kChiSquare999Df1;
using test_support::kChiSquare999Df2;
using test_support::kChiSquare999Df3;

std::vector<uint64_t> pick_counts(Policy& policy, int picks, const PickContext& ctx = {}) {
  std::vector<uint64_t> counts(policy.size(), 0);
  for (int i = 0; i < picks; ++i) {
    const ServerIndex server = policy.pick(ctx);
    EXPECT_LT(server, policy.size());
    if (server >= policy.size()) {
      break;
    }
    ++counts[server];
  }
  return counts;
}

TEST(RandomChoice, PicksFollowWeights) {
  RandomChoice policy({1, 2, 3, 4}, 1);
  EXPECT_LT(chi_square(pick_counts(policy, 100'000), {0.1, 0.2, 0.3, 0.4}), kChiSquare999Df3);
}

TEST(RandomChoice, SameSeedReplaysTheSameSequence) {
  RandomChoice a({1, 2, 3, 4, 5}, 77);
  RandomChoice b({1, 2, 3, 4, 5}, 77);
  RandomChoice other({1, 2, 3, 4, 5}, 78);
  int differences = 0;
  for (int i = 0; i < 100; ++i) {
    const ServerIndex chosen = a.pick({});
    ASSERT_EQ(chosen, b.pick({}));
    differences += chosen != other.pick({}) ? 1 : 0;
  }
  EXPECT_GT(differences, 0);
}

TEST(RandomChoice, IneligibleServersAreSkippedAndTheRestKeepTheirProportions) {
  RandomChoice policy({1, 5, 1, 2}, 2);
  policy.set_eligible(1, false);
  const std::vector<uint64_t> counts = pick_counts(policy, 40'000);
  EXPECT_EQ(counts[1], 0u);
  EXPECT_LT(chi_square({counts[0], counts[2], counts[3]}, {0.25, 0.25, 0.5}), kChiSquare999Df2);
}

TEST(RandomChoice, ExcludedServersAreSkippedAndTheRestKeepTheirProportions) {
  RandomChoice policy({1, 5, 1, 2}, 3);
  PickContext ctx;
  ctx.excluded.add(1);
  const std::vector<uint64_t> counts = pick_counts(policy, 40'000, ctx);
  EXPECT_EQ(counts[1], 0u);
  EXPECT_LT(chi_square({counts[0], counts[2], counts[3]}, {0.25, 0.25, 0.5}), kChiSquare999Df2);
}

TEST(RandomChoice, NoServerWhenNothingQualifies) {
  RandomChoice policy({1, 2, 3}, 4);
  PickContext ctx;
  ctx.excluded.add(0);
  ctx.excluded.add(2);
  policy.set_eligible(1, false);
  EXPECT_EQ(policy.pick(ctx), kNoServer);
  EXPECT_EQ(policy.pick({}) % 2, 0u);  // 0 or 2 without the exclusions
  policy.set_eligible(0, false);
  policy.set_eligible(2, false);
  EXPECT_EQ(policy.pick({}), kNoServer);
  policy.set_eligible(1, true);
  EXPECT_EQ(policy.pick({}), 1u);
}

TEST(RandomChoice, WeightChangesApplyToTheNextPicks) {
  RandomChoice policy({1, 1}, 5);
  EXPECT_LT(chi_square(pick_counts(policy, 20'000), {0.5, 0.5}), kChiSquare999Df1);
  policy.set_weight(0, 3);
  EXPECT_LT(chi_square(pick_counts(policy, 20'000), {0.75, 0.25}), kChiSquare999Df1);
}

TEST(RandomChoice, WeightChangedWhileIneligibleTakesEffectWhenEligibleAgain) {
  RandomChoice policy({1, 1}, 6);
  policy.set_eligible(0, false);
  policy.set_weight(0, 3);
  EXPECT_EQ(pick_counts(policy, 1000)[0], 0u);
  policy.set_eligible(0, true);
  EXPECT_LT(chi_square(pick_counts(policy, 20'000), {0.75, 0.25}), kChiSquare999Df1);
}

TEST(RandomChoice, LargeFleetWithHalfIneligible) {
  std::vector<uint32_t> weights(10'000, 1);
  weights[4242] = 1000;
  RandomChoice policy(weights, 7);
  for (ServerIndex server = 1; server < weights.size(); server += 2) {
    policy.set_eligible(server, false);
  }
  const std::vector<uint64_t> counts = pick_counts(policy, 100'000);
  for (ServerIndex server = 1; server < weights.size(); server += 2) {
    ASSERT_EQ(counts[server], 0u) << "server " << server;
  }
  // 4242 holds 1000 of the 5999 eligible weight.
  EXPECT_NEAR(static_cast<double>(counts[4242]) / 100'000, 1000.0 / 5999.0, 0.005);
}

}  // namespace
}  // namespace ballast::balance
