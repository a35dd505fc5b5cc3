#include "balance/balancer.h"

#include <gtest/gtest.h>

#include <vector>

namespace ballast::balance {
namespace {

// Cluster indices: 0 = s1, 1 = b1 (backup), 2 = s2, 3 = b2 (backup).
std::vector<balance::ServerSpec> fleet_with_backups() {
  return {{"s1", 1, false}, {"b1", 1, true}, {"s2", 1, false}, {"b2", 1, true}};
}

std::vector<ServerIndex> picks(Balancer& balancer, int count, const PickContext& ctx = {}) {
  std::vector<ServerIndex> chosen;
  for (int i = 0; i < count; ++i) {
    chosen.push_back(balancer.pick(ctx));
  }
  return chosen;
}

TEST(Balancer, BackupsTakeNoTrafficWhilePrimariesAreEligible) {
  Balancer balancer(Algorithm::round_robin, fleet_with_backups(), 1);
  EXPECT_EQ(picks(balancer, 6), (std::vector<ServerIndex>{0, 2, 0, 2, 0, 2}));
}

TEST(Balancer, BackupsServeWhenNoPrimaryIsEligibleAndStopWhenOneReturns) {
  Balancer balancer(Algorithm::round_robin, fleet_with_backups(), 1);
  balancer.set_eligible(0, false);
  EXPECT_EQ(picks(balancer, 2), (std::vector<ServerIndex>{2, 2}));
  balancer.set_eligible(2, false);
  EXPECT_EQ(picks(balancer, 4), (std::vector<ServerIndex>{1, 3, 1, 3}));
  balancer.set_eligible(2, true);
  EXPECT_EQ(picks(balancer, 2), (std::vector<ServerIndex>{2, 2}));
}

TEST(Balancer, ExcludedServersAreTranslatedToTheirTier) {
  Balancer balancer(Algorithm::round_robin, fleet_with_backups(), 1);
  PickContext ctx;
  ctx.excluded.add(0);
  EXPECT_EQ(picks(balancer, 3, ctx), (std::vector<ServerIndex>{2, 2, 2}));
  // As in nginx, a request that has tried every primary may go to a backup.
  ctx.excluded.add(2);
  ctx.excluded.add(1);
  EXPECT_EQ(picks(balancer, 2, ctx), (std::vector<ServerIndex>{3, 3}));
}

TEST(Balancer, NoServerWhenNothingIsEligible) {
  Balancer balancer(Algorithm::least_connections, fleet_with_backups(), 1);
  for (ServerIndex s = 0; s < balancer.size(); ++s) {
    balancer.set_eligible(s, false);
  }
  EXPECT_EQ(balancer.pick({}), kNoServer);
}

TEST(Balancer, ClusterWithOnlyBackupsStillServes) {
  const std::vector<balance::ServerSpec> fleet = {{"b1", 1, true}, {"b2", 1, true}};
  Balancer balancer(Algorithm::round_robin, fleet, 1);
  EXPECT_EQ(picks(balancer, 3), (std::vector<ServerIndex>{0, 1, 0}));
}

TEST(Balancer, AttemptsReachThePolicyOfTheServersTier) {
  // s1 and s2 are primaries under least connections; holding one attempt open on s1 sends the
  // next pick to s2, which only works if the start reached the primary tier's policy at s1's
  // local index.
  Balancer balancer(Algorithm::least_connections, fleet_with_backups(), 1);
  balancer.on_attempt_start(0);
  EXPECT_EQ(balancer.pick({}), 2u);
  balancer.on_attempt_start(2);
  balancer.on_attempt_start(2);
  EXPECT_EQ(balancer.pick({}), 0u);
  balancer.on_attempt_end(2, {});
  balancer.on_attempt_end(2, {});
  balancer.on_attempt_end(0, {});
  EXPECT_EQ(balancer.pick({}), 0u);
}

TEST(Balancer, EveryAlgorithmBuildsAndPicksAnEligibleServer) {
  for (const AlgorithmName& entry : kAlgorithmNames) {
    Balancer balancer(entry.algorithm, fleet_with_backups(), 1);
    PickContext ctx;
    ctx.hash_key = "203.0.113.7";
    for (int i = 0; i < 20; ++i) {
      const ServerIndex chosen = balancer.pick(ctx);
      ASSERT_TRUE(chosen == 0 || chosen == 2) << entry.name << " chose " << chosen;
      balancer.on_attempt_start(chosen);
      balancer.on_attempt_end(chosen, {true, 1000, 1000});
    }
  }
}

}  // namespace
}  // namespace ballast::balance
