#include "balance/weighted_round_robin.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/random.h"
#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::excluding;
using test_support::pick_n;

TEST(WeightedRoundRobin, FiveThreeTwoGivesRunsOfFiveThreeTwo) {
  WeightedRoundRobin policy({5, 3, 2});
  const std::vector<ServerIndex> cycle = {0, 0, 0, 0, 0, 1, 1, 1, 2, 2};
  std::vector<ServerIndex> two_cycles = cycle;
  two_cycles.insert(two_cycles.end(), cycle.begin(), cycle.end());
  EXPECT_EQ(pick_n(policy, 20), two_cycles);
}

TEST(WeightedRoundRobin, HugeWeightsAreNotExpanded) {
  // An expanded list would need four billion entries here.
  WeightedRoundRobin policy({4'000'000'000u, 1});
  EXPECT_EQ(pick_n(policy, 1000), std::vector<ServerIndex>(1000, 0));
}

TEST(WeightedRoundRobin, IneligibleServerIsSkipped) {
  WeightedRoundRobin policy({2, 3, 1});
  policy.set_eligible(1, false);
  EXPECT_EQ(pick_n(policy, 6), (std::vector<ServerIndex>{0, 0, 2, 0, 0, 2}));
}

TEST(WeightedRoundRobin, ServerLeavingMidRunGivesUpTheRestOfIt) {
  WeightedRoundRobin policy({5, 3, 2});
  EXPECT_EQ(pick_n(policy, 2), (std::vector<ServerIndex>{0, 0}));
  policy.set_eligible(0, false);
  EXPECT_EQ(pick_n(policy, 4), (std::vector<ServerIndex>{1, 1, 1, 2}));
  policy.set_eligible(0, true);
  EXPECT_EQ(pick_n(policy, 7), (std::vector<ServerIndex>{2, 0, 0, 0, 0, 0, 1}));
}

TEST(WeightedRoundRobin, FlapBetweenPicksKeepsTheRun) {
  WeightedRoundRobin policy({3, 1});
  EXPECT_EQ(policy.pick({}), 0u);
  policy.set_eligible(0, false);
  policy.set_eligible(0, true);
  EXPECT_EQ(pick_n(policy, 3), (std::vector<ServerIndex>{0, 0, 1}));
}

TEST(WeightedRoundRobin, ExcludedServerIsSkippedLikeAnExpandedListEntry) {
  WeightedRoundRobin policy({3, 2, 2});
  EXPECT_EQ(policy.pick({}), 0u);
  // The list cursor moves past server 0's entries to server 1's first.
  EXPECT_EQ(policy.pick(excluding({0})), 1u);
  EXPECT_EQ(pick_n(policy, 4), (std::vector<ServerIndex>{1, 2, 2, 0}));
  EXPECT_EQ(policy.pick(excluding({0, 1})), 2u);
}

TEST(WeightedRoundRobin, WeightChangeOfTheRunningServerResizesItsRun) {
  WeightedRoundRobin shrunk({5, 3, 2});
  EXPECT_EQ(pick_n(shrunk, 2), (std::vector<ServerIndex>{0, 0}));
  shrunk.set_weight(0, 3);
  EXPECT_EQ(pick_n(shrunk, 2), (std::vector<ServerIndex>{0, 1}));

  WeightedRoundRobin below_picks_made({5, 3, 2});
  EXPECT_EQ(pick_n(below_picks_made, 3), (std::vector<ServerIndex>{0, 0, 0}));
  below_picks_made.set_weight(0, 1);
  EXPECT_EQ(below_picks_made.pick({}), 1u);

  WeightedRoundRobin grown({2, 1});
  EXPECT_EQ(pick_n(grown, 2), (std::vector<ServerIndex>{0, 0}));
  grown.set_weight(0, 4);
  EXPECT_EQ(pick_n(grown, 3), (std::vector<ServerIndex>{0, 0, 1}));
}

TEST(WeightedRoundRobin, WeightChangeOfAnotherServerAppliesToItsNextRun) {
  WeightedRoundRobin policy({2, 2});
  EXPECT_EQ(policy.pick({}), 0u);
  policy.set_weight(1, 4);
  EXPECT_EQ(pick_n(policy, 7), (std::vector<ServerIndex>{0, 1, 1, 1, 1, 0, 0}));
}

TEST(WeightedRoundRobin, NoServerWhenNothingQualifies) {
  WeightedRoundRobin empty({});
  EXPECT_EQ(empty.pick({}), kNoServer);

  WeightedRoundRobin policy({2, 2});
  EXPECT_EQ(policy.pick({}), 0u);
  EXPECT_EQ(policy.pick(excluding({0, 1})), kNoServer);
  policy.set_eligible(1, false);
  EXPECT_EQ(policy.pick(excluding({0})), kNoServer);
  EXPECT_EQ(policy.pick({}), 0u);
  policy.set_eligible(0, false);
  EXPECT_EQ(policy.pick({}), kNoServer);
}

// The reference is the seed's expanded list, walked by a cursor that skips entries of
// ineligible and excluded servers.
class ExpandedList {
 public:
  explicit ExpandedList(const std::vector<uint32_t>& weights) {
    for (ServerIndex server = 0; server < weights.size(); ++server) {
      entries_.insert(entries_.end(), weights[server], server);
    }
  }

  ServerIndex pick(const std::vector<bool>& eligible, const ExcludedServers& excluded) {
    for (size_t offset = 0; offset < entries_.size(); ++offset) {
      const size_t index = (cursor_ + offset) % entries_.size();
      const ServerIndex server = entries_[index];
      if (eligible[server] && !excluded.contains(server)) {
        cursor_ = (index + 1) % entries_.size();
        return server;
      }
    }
    return kNoServer;
  }

 private:
  std::vector<ServerIndex> entries_;
  size_t cursor_ = 0;
};

TEST(WeightedRoundRobin, MatchesTheExpandedListUnderRandomFlipsAndExclusions) {
  constexpr uint32_t kServers = 1000;
  core::Random random(11);
  std::vector<uint32_t> weights(kServers);
  for (uint32_t& weight : weights) {
    weight = 1 + static_cast<uint32_t>(random.below(6));
  }
  WeightedRoundRobin policy(weights);
  ExpandedList reference(weights);
  std::vector<bool> eligible(kServers, true);
  ServerIndex last = 0;
  for (int step = 0; step < 30000; ++step) {
    if (random.below(8) == 0) {
      const uint32_t flips = static_cast<uint32_t>(random.below(random.below(10) == 0 ? 900 : 4));
      for (uint32_t i = 0; i < flips; ++i) {
        // Mostly near the rotation, so runs in progress are interrupted.
        const ServerIndex server = static_cast<ServerIndex>(
            (last + random.below(random.below(2) ? 4 : kServers)) % kServers);
        eligible[server] = !eligible[server];
        policy.set_eligible(server, eligible[server]);
      }
    }
    PickContext ctx;
    const uint32_t excluded_count = static_cast<uint32_t>(random.below(3));
    for (uint32_t i = 0; i < excluded_count; ++i) {
      ctx.excluded.add(static_cast<ServerIndex>((last + random.below(4)) % kServers));
    }
    const ServerIndex expected = reference.pick(eligible, ctx.excluded);
    ASSERT_EQ(policy.pick(ctx), expected) << "step " << step;
    if (expected != kNoServer) {
      last = expected;
    }
  }
}

}  // namespace
}  // namespace ballast::balance
