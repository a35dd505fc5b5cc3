#include "balance/least_connections.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/random.h"

namespace ballast::balance {
namespace {

using Mode = LeastConnections::Mode;

// Picks `count` times, starting an attempt on each server chosen (the proxy's sequence).
std::vector<ServerIndex> pick_and_start(LeastConnections& policy, int count,
                                        const PickContext& ctx = {}) {
  std::vector<ServerIndex> chosen;
  for (int i = 0; i < count; ++i) {
    const ServerIndex server = policy.pick(ctx);
    policy.on_attempt_start(server);
    chosen.push_back(server);
  }
  return chosen;
}

void end_attempt(LeastConnections& policy, ServerIndex server) {
  policy.on_attempt_end(server, AttemptOutcome{});
}

// The answer by definition: the qualifying server of least load, then lowest index.
ServerIndex brute_force_pick(const LeastConnections& policy, Mode mode,
                             const ExcludedServers& excluded) {
  ServerIndex best = kNoServer;
  for (ServerIndex server = 0; server < policy.size(); ++server) {
    if (!policy.is_eligible(server) || excluded.contains(server)) {
      continue;
    }
    if (best == kNoServer) {
      best = server;
      continue;
    }
    const uint64_t best_weight = mode == Mode::weighted ? policy.weight(best) : 1;
    const uint64_t server_weight = mode == Mode::weighted ? policy.weight(server) : 1;
    if (uint64_t{policy.active_attempts(server)} * best_weight <
        uint64_t{policy.active_attempts(best)} * server_weight) {
      best = server;
    }
  }
  return best;
}

TEST(LeastConnections, SeedExampleSpreadsIdleServersInOrderAndReturnsToTheReleasedOne) {
  LeastConnections policy({1, 1, 1}, Mode::unweighted);
  // Requests 1-4: S1, S2, S3, then S1 again (all tied at one).
  EXPECT_EQ(pick_and_start(policy, 4), (std::vector<ServerIndex>{0, 1, 2, 0}));
  // Request 1 completes on S1: all tied at one again, and S1 wins the tie.
  end_attempt(policy, 0);
  EXPECT_EQ(pick_and_start(policy, 1), (std::vector<ServerIndex>{0}));
}

TEST(LeastConnections, ReleasingAnAttemptReordersTheHeap) {
  LeastConnections policy({1, 1, 1, 1}, Mode::unweighted);
  EXPECT_EQ(pick_and_start(policy, 8), (std::vector<ServerIndex>{0, 1, 2, 3, 0, 1, 2, 3}));
  end_attempt(policy, 3);
  EXPECT_EQ(policy.pick({}), 3u);
  end_attempt(policy, 2);
  end_attempt(policy, 2);
  // S3 has 0, S4 has 1, the others 2.
  EXPECT_EQ(pick_and_start(policy, 4), (std::vector<ServerIndex>{2, 2, 3, 0}));
}

TEST(LeastConnections, WeightedPicksLeastActivePerWeightWithTiesToTheLowerIndex) {
  LeastConnections policy({3, 2}, Mode::weighted);
  // active/weight before each pick: 0/3=0/2 (tie: S1), 1/3>0/2, 1/3<1/2, 2/3>1/2, 2/3<2/2,
  // 3/3=2/2 (tie: S1), 4/3>2/2, 4/3<3/2, 5/3>3/2, 5/3<4/2: six to S1, four to S2, as 3:2.
  EXPECT_EQ(pick_and_start(policy, 10), (std::vector<ServerIndex>{0, 1, 0, 1, 0, 0, 1, 0, 1, 0}));
}

TEST(LeastConnections, UnweightedModeIgnoresWeights) {
  LeastConnections policy({3, 2}, Mode::unweighted);
  EXPECT_EQ(pick_and_start(policy, 6), (std::vector<ServerIndex>{0, 1, 0, 1, 0, 1}));
}

TEST(LeastConnections, IneligibleServersLeaveAndRejoinWithTheirCurrentCount) {
  LeastConnections policy({1, 1, 1}, Mode::unweighted);
  EXPECT_EQ(pick_and_start(policy, 3), (std::vector<ServerIndex>{0, 1, 2}));
  policy.set_eligible(0, false);
  EXPECT_EQ(pick_and_start(policy, 4), (std::vector<ServerIndex>{1, 2, 1, 2}));
  // Its attempt ends while it is out; it comes back with 0 against 3 and 3.
  end_attempt(policy, 0);
  EXPECT_EQ(policy.active_attempts(0), 0u);
  policy.set_eligible(0, true);
  EXPECT_EQ(pick_and_start(policy, 4), (std::vector<ServerIndex>{0, 0, 0, 0}));
  EXPECT_EQ(pick_and_start(policy, 3), (std::vector<ServerIndex>{1, 2, 0}));
}

TEST(LeastConnections, ExcludedServersAreSkippedInLoadOrder) {
  LeastConnections policy({1, 1, 1, 1, 1}, Mode::unweighted);
  // Loads 0, 1, 2, 3, 4 on S1..S5.
  for (ServerIndex server = 1; server < 5; ++server) {
    for (ServerIndex i = 0; i < server; ++i) {
      policy.on_attempt_start(server);
    }
  }
  PickContext ctx;
  ctx.excluded.add(0);
  EXPECT_EQ(policy.pick(ctx), 1u);
  ctx.excluded.add(1);
  EXPECT_EQ(policy.pick(ctx), 2u);
  ctx.excluded.add(3);
  EXPECT_EQ(policy.pick(ctx), 2u);
  ctx.excluded.add(2);
  EXPECT_EQ(policy.pick(ctx), 4u);
  ctx.excluded.add(4);
  EXPECT_EQ(policy.pick(ctx), kNoServer);
}

TEST(LeastConnections, NoServerWhenNothingQualifies) {
  LeastConnections empty({}, Mode::unweighted);
  EXPECT_EQ(empty.pick({}), kNoServer);

  LeastConnections policy({1, 2}, Mode::weighted);
  policy.set_eligible(0, false);
  policy.set_eligible(1, false);
  EXPECT_EQ(policy.pick({}), kNoServer);
  policy.set_eligible(1, true);
  PickContext ctx;
  ctx.excluded.add(1);
  EXPECT_EQ(policy.pick(ctx), kNoServer);
  EXPECT_EQ(policy.pick({}), 1u);
}

TEST(LeastConnections, WeightChangesReorderWeightedPicks) {
  LeastConnections policy({1, 1}, Mode::weighted);
  EXPECT_EQ(pick_and_start(policy, 4), (std::vector<ServerIndex>{0, 1, 0, 1}));
  // 2/1 against 2/3: S2 takes four picks, until its 6/3 ties S1's 2/1 and the tie goes to S1.
  policy.set_weight(1, 3);
  EXPECT_EQ(pick_and_start(policy, 5), (std::vector<ServerIndex>{1, 1, 1, 1, 0}));
  // Weights apply while out of the heap too: S1 rejoins with 3/4 against 6/3.
  policy.set_eligible(0, false);
  policy.set_weight(0, 4);
  policy.set_eligible(0, true);
  EXPECT_EQ(pick_and_start(policy, 5), (std::vector<ServerIndex>{0, 0, 0, 0, 0}));
}

TEST(LeastConnections, AnEndWithoutAStartDoesNotWrapTheCount) {
  LeastConnections policy({1, 1}, Mode::unweighted);
  end_attempt(policy, 0);
  EXPECT_EQ(policy.active_attempts(0), 0u);
  EXPECT_EQ(pick_and_start(policy, 2), (std::vector<ServerIndex>{0, 1}));
}

// Random starts, ends, eligibility flips, weight changes and exclusions, each pick checked
// against the definition: the heap and its position index stay consistent under every update.
void check_against_brute_force(Mode mode, uint32_t servers, uint64_t seed) {
  core::Random random(seed);
  std::vector<uint32_t> weights(servers);
  for (uint32_t& weight : weights) {
    weight = static_cast<uint32_t>(1 + random.below(5));
  }
  LeastConnections policy(weights, mode);
  for (int step = 0; step < 20'000; ++step) {
    const ServerIndex server = static_cast<ServerIndex>(random.below(servers));
    const uint64_t action = random.below(100);
    if (action < 40) {
      policy.on_attempt_start(server);
    } else if (action < 70) {
      end_attempt(policy, server);
    } else if (action < 80) {
      policy.set_eligible(server, random.below(4) != 0);
    } else if (action < 85) {
      policy.set_weight(server, static_cast<uint32_t>(1 + random.below(5)));
    }
    PickContext ctx;
    const uint64_t excluded_count = random.below(ExcludedServers::kCapacity + 1);
    for (uint64_t i = 0; i < excluded_count; ++i) {
      // Mostly the current best few, so the walk goes past them.
      const ServerIndex best = brute_force_pick(policy, mode, ctx.excluded);
      ctx.excluded.add(best != kNoServer && random.below(3) != 0
                           ? best
                           : static_cast<ServerIndex>(random.below(servers)));
    }
    ASSERT_EQ(policy.pick(ctx), brute_force_pick(policy, mode, ctx.excluded)) << "step " << step;
  }
}

TEST(LeastConnections, MatchesTheDefinitionUnderRandomUpdates) {
  check_against_brute_force(Mode::unweighted, 7, 1);
  check_against_brute_force(Mode::unweighted, 300, 2);
  check_against_brute_force(Mode::weighted, 7, 3);
  check_against_brute_force(Mode::weighted, 300, 4);
}

TEST(LeastConnections, LargeFleetTakesEveryServerOnceBeforeAnySecond) {
  constexpr uint32_t kServers = 10'000;
  LeastConnections policy(std::vector<uint32_t>(kServers, 1), Mode::unweighted);
  const std::vector<ServerIndex> chosen = pick_and_start(policy, kServers);
  for (ServerIndex server = 0; server < kServers; ++server) {
    ASSERT_EQ(chosen[server], server);
  }
  end_attempt(policy, 7'777);
  EXPECT_EQ(policy.pick({}), 7'777u);
  policy.set_eligible(7'777, false);
  EXPECT_EQ(policy.pick({}), 0u);
}

}  // namespace
}  // namespace ballast::balance
