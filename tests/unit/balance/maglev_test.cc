#include "balance/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/hash.h"
#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::count_per_server;
using test_support::fleet;
using test_support::kKeys;
using test_support::pick_all;
using test_support::pick_key;
using test_support::random_keys;

TEST(Maglev, TableSizeIsAPrimeOnALadderNearPowersOfTwo) {
  EXPECT_EQ(maglev_table_size(1), 65'537u);
  EXPECT_EQ(maglev_table_size(655), 65'537u);
  EXPECT_EQ(maglev_table_size(656), 131'101u);
  EXPECT_EQ(maglev_table_size(1'000), 131'101u);
  EXPECT_EQ(maglev_table_size(2'000), 262'147u);
  EXPECT_EQ(maglev_table_size(10'000), 1'048'583u);
}

TEST(Maglev, EqualServersOwnEqualSharesOfTheTableToOneSlot) {
  for (const uint32_t servers : {1u, 3u, 10u, 1'000u}) {
    const std::vector<ServerIndex> table = build_maglev_table(fleet(servers));
    ASSERT_EQ(table.size(), maglev_table_size(servers));
    const std::vector<int> slots = count_per_server(table, servers);
    const auto [fewest, most] = std::minmax_element(slots.begin(), slots.end());
    EXPECT_EQ(*fewest, static_cast<int>(table.size() / servers)) << servers << " servers";
    EXPECT_LE(*most - *fewest, 1) << servers << " servers";
  }
}

TEST(Maglev, WeightedServersTakeSlotsInProportion) {
  std::vector<balance::ServerSpec> specs = fleet(3);
  specs[0].weight = 4;
  specs[1].weight = 2;
  // Of every 4 rounds, weight 4 takes 4 turns, weight 2 takes 2 and weight 1 takes 1.
  const std::vector<int> slots = count_per_server(build_maglev_table(specs), 3);
  EXPECT_NEAR(slots[0], 65'537 * 4 / 7, 3);
  EXPECT_NEAR(slots[1], 65'537 * 2 / 7, 3);
  EXPECT_NEAR(slots[2], 65'537 * 1 / 7, 3);
}

TEST(Maglev, AKeyGoesToItsHashesSlot) {
  const std::vector<balance::ServerSpec> specs = fleet(10);
  const std::vector<ServerIndex> table = build_maglev_table(specs);
  Maglev maglev(specs);
  for (const std::string& key : random_keys(1)) {
    ASSERT_EQ(pick_key(maglev, key), table[core::hash64(key) % table.size()]);
  }
}

TEST(Maglev, TheSameKeyAlwaysMapsToTheSameServer) {
  test_support::expect_the_same_key_always_maps_to_the_same_server<Maglev>(2);
}

TEST(Maglev, TenEqualServersEachTakeATenthWithinTenPercent) {
  Maglev maglev(fleet(10));
  test_support::expect_ten_equal_servers_each_take_a_tenth(maglev, 3);
}

TEST(Maglev, WeightsAreHonoured) {
  test_support::expect_weights_are_honoured<Maglev>(4);
}

// Maglev moves a little more than the removed server's keys: the others' turns shift.
TEST(Maglev, RemovingAServerMovesAboutOneNthOfTheKeys) {
  const std::vector<balance::ServerSpec> specs = fleet(10);
  Maglev maglev(specs);
  const std::vector<std::string> keys = random_keys(5);
  const std::vector<ServerIndex> before = pick_all(maglev, keys);
  for (const ServerIndex removed : {0u, 4u, 9u}) {
    std::vector<balance::ServerSpec> fewer = specs;
    fewer.erase(fewer.begin() + removed);
    Maglev smaller(fewer);
    int moved = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      ServerIndex after = pick_key(smaller, keys[i]);
      after += after >= removed ? 1 : 0;  // back to the indices of the full fleet
      ASSERT_NE(after, removed);
      moved += after != before[i] ? 1 : 0;
    }
    EXPECT_GE(moved, kKeys / 10 - kKeys / 100) << "removed " << removed;
    EXPECT_LE(moved, kKeys * 12 / 100 + kKeys / 200) << "removed " << removed;
  }
}

// Its keys go to the next slot of another server (hash + 1, + 2, ...).
TEST(Maglev, AnIneligibleServerMovesExactlyItsKeysSpreadOverTheOthers) {
  const std::vector<balance::ServerSpec> specs = fleet(10);
  const std::vector<ServerIndex> table = build_maglev_table(specs);
  Maglev maglev(specs);
  const std::vector<std::string> keys = random_keys(6);
  const std::vector<ServerIndex> before = pick_all(maglev, keys);
  constexpr ServerIndex kOut = 3;
  maglev.set_eligible(kOut, false);
  std::vector<int> moved_to(10);
  for (size_t i = 0; i < keys.size(); ++i) {
    const ServerIndex after = pick_key(maglev, keys[i]);
    if (before[i] != kOut) {
      ASSERT_EQ(after, before[i]);
      continue;
    }
    ++moved_to[after];
    uint64_t slot = core::hash64(keys[i]) % table.size();
    while (table[slot] == kOut) {
      slot = (slot + 1) % table.size();
    }
    ASSERT_EQ(after, table[slot]);
  }
  EXPECT_EQ(moved_to[kOut], 0);
  for (ServerIndex server = 0; server < 10; ++server) {
    if (server != kOut) {
      EXPECT_GT(moved_to[server], kKeys / 10 / 9 / 2) << "server " << server;
    }
  }
  maglev.set_eligible(kOut, true);
  EXPECT_EQ(pick_all(maglev, keys), before);
}

TEST(Maglev, ExcludedServersAreSkippedLikeIneligibleOnes) {
  test_support::expect_excluded_servers_are_skipped_like_ineligible_ones<Maglev>(7);
}

TEST(Maglev, NoServerWhenNothingQualifies) {
  test_support::expect_no_server_when_nothing_qualifies<Maglev>();
}

// With 990 of 1,000 servers out, most probes pass kMaxProbes and take the fallback.
TEST(Maglev, ProbesPastTheBoundFallBackToAQualifyingServer) {
  test_support::expect_lookups_past_the_bound_fall_back_to_a_qualifying_server<Maglev>(8);
}

TEST(Maglev, ThousandServerFleetBuildsAndSpreads) {
  Maglev maglev(fleet(1'000));
  // The table itself is balanced to one slot in 131.
  test_support::expect_thousand_servers_each_take_between_50_and_150_keys(maglev, 9);
}

}  // namespace
}  // namespace ballast::balance
