#include "balance/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/hash.h"
#include "core/random.h"

namespace ballast::balance {
namespace {

constexpr int kKeys = 100'000;

std::vector<upstream::ServerSpec> fleet(uint32_t servers) {
  std::vector<upstream::ServerSpec> specs;
  for (uint32_t i = 0; i < servers; ++i) {
    specs.push_back({"backend-" + std::to_string(i) + ".example:8080", 1, false});
  }
  return specs;
}

std::vector<std::string> random_keys(uint64_t seed) {
  core::Random random(seed);
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back("client-" + std::to_string(random.next()));
  }
  return keys;
}

ServerIndex pick_key(Maglev& maglev, const std::string& key, const PickContext& base = {}) {
  PickContext ctx = base;
  ctx.hash_key = key;
  return maglev.pick(ctx);
}

std::vector<ServerIndex> pick_all(Maglev& maglev, const std::vector<std::string>& keys) {
  std::vector<ServerIndex> chosen;
  for (const std::string& key : keys) {
    chosen.push_back(pick_key(maglev, key));
  }
  return chosen;
}

std::vector<int> count_per_server(const std::vector<ServerIndex>& chosen, uint32_t servers) {
  std::vector<int> counts(servers);
  for (const ServerIndex server : chosen) {
    ++counts[server];
  }
  return counts;
}

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
  std::vector<upstream::ServerSpec> specs = fleet(3);
  specs[0].weight = 4;
  specs[1].weight = 2;
  // Of every 4 rounds, weight 4 takes 4 turns, weight 2 takes 2 and weight 1 takes 1.
  const std::vector<int> slots = count_per_server(build_maglev_table(specs), 3);
  EXPECT_NEAR(slots[0], 65'537 * 4 / 7, 3);
  EXPECT_NEAR(slots[1], 65'537 * 2 / 7, 3);
  EXPECT_NEAR(slots[2], 65'537 * 1 / 7, 3);
}

TEST(Maglev, AKeyGoesToItsHashesSlot) {
  const std::vector<upstream::ServerSpec> specs = fleet(10);
  const std::vector<ServerIndex> table = build_maglev_table(specs);
  Maglev maglev(specs);
  for (const std::string& key : random_keys(1)) {
    ASSERT_EQ(pick_key(maglev, key), table[core::hash64(key) % table.size()]);
  }
}

TEST(Maglev, TheSameKeyAlwaysMapsToTheSameServer) {
  const std::vector<upstream::ServerSpec> specs = fleet(10);
  Maglev maglev(specs);
  Maglev rebuilt(specs);
  const std::vector<std::string> keys = random_keys(2);
  const std::vector<ServerIndex> first = pick_all(maglev, keys);
  EXPECT_EQ(pick_all(maglev, keys), first);
  EXPECT_EQ(pick_all(rebuilt, keys), first);
}

TEST(Maglev, TenEqualServersEachTakeATenthWithinTenPercent) {
  Maglev maglev(fleet(10));
  const std::vector<int> load = count_per_server(pick_all(maglev, random_keys(3)), 10);
  for (uint32_t server = 0; server < 10; ++server) {
    EXPECT_NEAR(load[server], kKeys / 10, kKeys / 100) << "server " << server;
  }
}

TEST(Maglev, WeightsAreHonoured) {
  std::vector<upstream::ServerSpec> specs = fleet(6);
  for (uint32_t i = 0; i < 6; i += 2) {
    specs[i].weight = 2;
  }
  Maglev maglev(specs);
  const std::vector<int> load = count_per_server(pick_all(maglev, random_keys(4)), 6);
  for (uint32_t server = 0; server < 6; ++server) {
    const double ideal = kKeys * (server % 2 == 0 ? 2.0 : 1.0) / 9.0;
    EXPECT_NEAR(load[server], ideal, ideal * 0.1) << "server " << server;
  }
}

// Maglev moves a little more than the removed server's keys: the others' turns shift.
TEST(Maglev, RemovingAServerMovesAboutOneNthOfTheKeys) {
  const std::vector<upstream::ServerSpec> specs = fleet(10);
  Maglev maglev(specs);
  const std::vector<std::string> keys = random_keys(5);
  const std::vector<ServerIndex> before = pick_all(maglev, keys);
  for (const ServerIndex removed : {0u, 4u, 9u}) {
    std::vector<upstream::ServerSpec> fewer = specs;
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
  const std::vector<upstream::ServerSpec> specs = fleet(10);
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
  Maglev maglev(fleet(10));
  Maglev twin(fleet(10));
  twin.set_eligible(2, false);
  twin.set_eligible(7, false);
  PickContext ctx;
  ctx.excluded.add(2);
  ctx.excluded.add(7);
  for (const std::string& key : random_keys(7)) {
    const ServerIndex chosen = pick_key(maglev, key, ctx);
    ASSERT_NE(chosen, 2u);
    ASSERT_NE(chosen, 7u);
    ASSERT_EQ(chosen, pick_key(twin, key));
  }
}

TEST(Maglev, NoServerWhenNothingQualifies) {
  Maglev empty(fleet(0));
  EXPECT_EQ(pick_key(empty, "k"), kNoServer);

  Maglev maglev(fleet(3));
  maglev.set_eligible(0, false);
  maglev.set_eligible(2, false);
  PickContext ctx;
  ctx.excluded.add(1);
  EXPECT_EQ(pick_key(maglev, "k", ctx), kNoServer);
  EXPECT_EQ(pick_key(maglev, "k"), 1u);
  maglev.set_eligible(1, false);
  EXPECT_EQ(pick_key(maglev, "k"), kNoServer);
}

// With 990 of 1,000 servers out, most probes pass the bound and take the fallback: every key
// still reaches a qualifying server, the same one each time.
TEST(Maglev, ProbesPastTheBoundFallBackToAQualifyingServer) {
  Maglev maglev(fleet(1'000));
  for (ServerIndex server = 0; server < 1'000; ++server) {
    maglev.set_eligible(server, server % 100 == 0);
  }
  PickContext ctx;
  ctx.excluded.add(0);
  ctx.excluded.add(100);
  const std::vector<std::string> keys = random_keys(8);
  std::vector<int> load(1'000);
  for (int i = 0; i < 10'000; ++i) {
    const ServerIndex chosen = pick_key(maglev, keys[i], ctx);
    ASSERT_NE(chosen, kNoServer);
    ASSERT_EQ(chosen % 100, 0u);
    ASSERT_GE(chosen, 200u);
    ASSERT_EQ(pick_key(maglev, keys[i], ctx), chosen);
    ++load[chosen];
  }
  for (ServerIndex server = 200; server < 1'000; server += 100) {
    EXPECT_GT(load[server], 10'000 / 8 / 2) << "server " << server;
  }
}

TEST(Maglev, ThousandServerFleetBuildsAndSpreads) {
  Maglev maglev(fleet(1'000));
  const std::vector<int> load = count_per_server(pick_all(maglev, random_keys(9)), 1'000);
  for (ServerIndex server = 0; server < 1'000; ++server) {
    // 100 keys each on average; the table itself is balanced to one slot in 131.
    EXPECT_GT(load[server], 50) << "server " << server;
    EXPECT_LT(load[server], 150) << "server " << server;
  }
}

}  // namespace
}  // namespace ballast::balance
