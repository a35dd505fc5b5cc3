#include "balance/round_robin.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/random.h"
#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::excluding;
using test_support::pick_n;

TEST(RoundRobin, TenPicksOverThreeServersGoFourThreeThree) {
  RoundRobin policy({1, 1, 1});
  EXPECT_EQ(pick_n(policy, 10), (std::vector<ServerIndex>{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobin, IgnoresWeights) {
  RoundRobin policy({5, 1, 3});
  EXPECT_EQ(pick_n(policy, 6), (std::vector<ServerIndex>{0, 1, 2, 0, 1, 2}));
}

TEST(RoundRobin, IneligibleServerIsSkippedAndItsTurnResumesInOrder) {
  RoundRobin policy({1, 1, 1});
  EXPECT_EQ(policy.pick({}), 0u);
  policy.set_eligible(1, false);
  EXPECT_EQ(pick_n(policy, 4), (std::vector<ServerIndex>{2, 0, 2, 0}));
  policy.set_eligible(1, true);
  EXPECT_EQ(pick_n(policy, 4), (std::vector<ServerIndex>{1, 2, 0, 1}));
}

TEST(RoundRobin, RotationContinuesFromWhereItWasNotFromTheStart) {
  RoundRobin policy({1, 1, 1, 1});
  EXPECT_EQ(pick_n(policy, 2), (std::vector<ServerIndex>{0, 1}));
  policy.set_eligible(0, false);
  // The cursor is at 2: a restart would give 1 first.
  EXPECT_EQ(pick_n(policy, 4), (std::vector<ServerIndex>{2, 3, 1, 2}));
}

TEST(RoundRobin, ExcludedServerIsSkippedAndTheRotationMovesPastTheChosenOne) {
  RoundRobin policy({1, 1, 1});
  EXPECT_EQ(policy.pick({}), 0u);
  EXPECT_EQ(policy.pick(excluding({1})), 2u);
  EXPECT_EQ(policy.pick({}), 0u);
  EXPECT_EQ(policy.pick(excluding({1, 2})), 0u);
}

TEST(RoundRobin, LooksPastAFullSetOfExcludedServers) {
  RoundRobin policy(std::vector<uint32_t>(20, 1));
  EXPECT_EQ(policy.pick(excluding({0, 1, 2, 3, 4, 5, 6, 7})), 8u);
  EXPECT_EQ(policy.pick(excluding({9, 10, 11, 12, 13, 14, 15, 16})), 17u);
  EXPECT_EQ(policy.pick(excluding({18, 19, 0, 1, 2, 3, 4, 5})), 6u);
}

TEST(RoundRobin, NoServerWhenNothingQualifies) {
  RoundRobin empty({});
  EXPECT_EQ(empty.pick({}), kNoServer);

  RoundRobin policy({1, 1, 1});
  EXPECT_EQ(policy.pick(excluding({0, 1, 2})), kNoServer);
  policy.set_eligible(0, false);
  policy.set_eligible(2, false);
  EXPECT_EQ(policy.pick(excluding({1})), kNoServer);
  EXPECT_EQ(policy.pick({}), 1u);
  policy.set_eligible(1, false);
  EXPECT_EQ(policy.pick({}), kNoServer);
}

TEST(RoundRobin, EightExcludedOfNineEligibleStillFindsTheNinth) {
  RoundRobin policy(std::vector<uint32_t>(100, 1));
  for (ServerIndex server = 9; server < 100; ++server) {
    policy.set_eligible(server, false);
  }
  EXPECT_EQ(policy.pick(excluding({0, 1, 2, 3, 5, 6, 7, 8})), 4u);
  EXPECT_EQ(policy.pick(excluding({0, 1, 2, 3, 4, 5, 6, 7})), 8u);
}

// The reference: a linear walk from the cursor over all servers.
TEST(RoundRobin, MatchesALinearScanUnderRandomFlipsAndExclusions) {
  constexpr uint32_t kServers = 1000;
  RoundRobin policy(std::vector<uint32_t>(kServers, 1));
  std::vector<bool> eligible(kServers, true);
  uint32_t cursor = 0;
  core::Random random(7);
  for (int step = 0; step < 20000; ++step) {
    if (random.below(4) == 0) {
      // Flip a batch of servers, sometimes most of the fleet.
      const uint32_t flips = static_cast<uint32_t>(random.below(random.below(10) == 0 ? 900 : 5));
      for (uint32_t i = 0; i < flips; ++i) {
        const ServerIndex server = static_cast<ServerIndex>(random.below(kServers));
        eligible[server] = !eligible[server];
        policy.set_eligible(server, eligible[server]);
      }
    }
    PickContext ctx;
    const uint32_t excluded_count = static_cast<uint32_t>(random.below(4));
    for (uint32_t i = 0; i < excluded_count; ++i) {
      ctx.excluded.add(static_cast<ServerIndex>((cursor + random.below(6)) % kServers));
    }
    ServerIndex expected = kNoServer;
    for (uint32_t offset = 0; offset < kServers; ++offset) {
      const ServerIndex server = (cursor + offset) % kServers;
      if (eligible[server] && !ctx.excluded.contains(server)) {
        expected = server;
        break;
      }
    }
    ASSERT_EQ(policy.pick(ctx), expected) << "step " << step;
    if (expected != kNoServer) {
      cursor = (expected + 1) % kServers;
    }
  }
}

TEST(RoundRobin, LargeFleetGivesEveryServerOneTurnPerRound) {
  constexpr uint32_t kServers = 10000;
  RoundRobin policy(std::vector<uint32_t>(kServers, 3));
  for (int round = 0; round < 3; ++round) {
    for (ServerIndex server = 0; server < kServers; ++server) {
      ASSERT_EQ(policy.pick({}), server);
    }
  }
}

}  // namespace
}  // namespace ballast::balance
