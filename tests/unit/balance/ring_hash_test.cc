#include "balance/ring_hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
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

ServerIndex pick_key(RingHash& ring, const std::string& key, const PickContext& base = {}) {
  PickContext ctx = base;
  ctx.hash_key = key;
  return ring.pick(ctx);
}

std::vector<ServerIndex> pick_all(RingHash& ring, const std::vector<std::string>& keys) {
  std::vector<ServerIndex> chosen;
  for (const std::string& key : keys) {
    chosen.push_back(pick_key(ring, key));
  }
  return chosen;
}

std::vector<int> load_of(const std::vector<ServerIndex>& chosen, uint32_t servers) {
  std::vector<int> load(servers);
  for (const ServerIndex server : chosen) {
    ++load[server];
  }
  return load;
}

TEST(RingHash, TheSameKeyAlwaysMapsToTheSameServer) {
  const std::vector<upstream::ServerSpec> specs = fleet(10);
  RingHash ring(specs);
  RingHash rebuilt(specs);
  const std::vector<std::string> keys = random_keys(1);
  const std::vector<ServerIndex> first = pick_all(ring, keys);
  EXPECT_EQ(pick_all(ring, keys), first);
  EXPECT_EQ(pick_all(rebuilt, keys), first);
}

// The ring by its definition: ten equal servers get 2,048 points each (16,384 / 10 rounded up
// to a power of two), at the high half of hash64(name, replica); a key takes the first point at
// or after the high half of its hash, wrapping, by binary search here.
TEST(RingHash, AKeyGoesToTheFirstPointClockwise) {
  const std::vector<upstream::ServerSpec> specs = fleet(10);
  RingHash ring(specs);
  ASSERT_EQ(ring.point_count(), 10u * 2'048);
  std::vector<std::pair<uint32_t, ServerIndex>> points;
  for (ServerIndex server = 0; server < 10; ++server) {
    for (uint64_t replica = 0; replica < 2'048; ++replica) {
      points.emplace_back(core::hash64(specs[server].name, replica) >> 32, server);
    }
  }
  std::sort(points.begin(), points.end());
  for (const std::string& key : random_keys(9)) {
    const uint32_t position = core::hash64(key) >> 32;
    auto point = std::lower_bound(points.begin(), points.end(), std::make_pair(position, 0u));
    if (point == points.end()) {
      point = points.begin();
    }
    ASSERT_EQ(pick_key(ring, key), point->second) << "key " << key;
  }
}

TEST(RingHash, TenEqualServersEachTakeATenthWithinTenPercent) {
  RingHash ring(fleet(10));
  EXPECT_GE(ring.point_count(), RingHash::kMinRingPoints);
  const std::vector<int> load = load_of(pick_all(ring, random_keys(2)), 10);
  for (uint32_t server = 0; server < 10; ++server) {
    EXPECT_NEAR(load[server], kKeys / 10, kKeys / 100) << "server " << server;
  }
}

TEST(RingHash, WeightsAreHonoured) {
  std::vector<upstream::ServerSpec> specs = fleet(6);
  for (uint32_t i = 0; i < 6; i += 2) {
    specs[i].weight = 2;
  }
  RingHash ring(specs);
  const std::vector<int> load = load_of(pick_all(ring, random_keys(3)), 6);
  for (uint32_t server = 0; server < 6; ++server) {
    const double ideal = kKeys * (server % 2 == 0 ? 2.0 : 1.0) / 9.0;
    EXPECT_NEAR(load[server], ideal, ideal * 0.1) << "server " << server;
  }
}

// Removing server `removed` and rebuilding: every key that was elsewhere stays where it was.
TEST(RingHash, RemovingAServerMovesExactlyItsKeys) {
  const std::vector<upstream::ServerSpec> specs = fleet(10);
  RingHash ring(specs);
  const std::vector<std::string> keys = random_keys(4);
  const std::vector<ServerIndex> before = pick_all(ring, keys);
  for (const ServerIndex removed : {0u, 4u, 9u}) {
    std::vector<upstream::ServerSpec> fewer = specs;
    fewer.erase(fewer.begin() + removed);
    RingHash smaller(fewer);
    int moved = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      ServerIndex after = pick_key(smaller, keys[i]);
      after += after >= removed ? 1 : 0;  // back to the indices of the full fleet
      if (before[i] == removed) {
        ++moved;
      } else {
        ASSERT_EQ(after, before[i]) << "key " << keys[i];
      }
    }
    EXPECT_NEAR(moved, kKeys / 10, kKeys / 100);
  }
}

TEST(RingHash, AnIneligibleServersKeysGoWhereTheyWouldIfItWereRemoved) {
  const std::vector<upstream::ServerSpec> specs = fleet(10);
  constexpr ServerIndex kOut = 3;
  std::vector<upstream::ServerSpec> fewer = specs;
  fewer.erase(fewer.begin() + kOut);
  RingHash smaller(fewer);
  RingHash ring(specs);
  const std::vector<std::string> keys = random_keys(5);
  const std::vector<ServerIndex> before = pick_all(ring, keys);

  ring.set_eligible(kOut, false);
  std::vector<int> moved_to(10);
  for (size_t i = 0; i < keys.size(); ++i) {
    const ServerIndex after = pick_key(ring, keys[i]);
    if (before[i] != kOut) {
      ASSERT_EQ(after, before[i]);
    } else {
      ++moved_to[after];
    }
    ServerIndex rebuilt = pick_key(smaller, keys[i]);
    ASSERT_EQ(after, rebuilt + (rebuilt >= kOut ? 1 : 0));
  }
  // Its keys spread over all the others rather than onto one neighbour.
  for (ServerIndex server = 0; server < 10; ++server) {
    if (server != kOut) {
      EXPECT_GT(moved_to[server], kKeys / 10 / 9 / 2) << "server " << server;
    }
  }
  // A flap changes nothing for good: back in, every key is where it was.
  ring.set_eligible(kOut, true);
  EXPECT_EQ(pick_all(ring, keys), before);
}

TEST(RingHash, ExcludedServersAreSkippedLikeIneligibleOnes) {
  RingHash ring(fleet(10));
  RingHash twin(fleet(10));
  twin.set_eligible(2, false);
  twin.set_eligible(7, false);
  PickContext ctx;
  ctx.excluded.add(2);
  ctx.excluded.add(7);
  for (const std::string& key : random_keys(6)) {
    const ServerIndex chosen = pick_key(ring, key, ctx);
    ASSERT_NE(chosen, 2u);
    ASSERT_NE(chosen, 7u);
    ASSERT_EQ(chosen, pick_key(twin, key));
  }
}

TEST(RingHash, NoServerWhenNothingQualifies) {
  RingHash empty(fleet(0));
  EXPECT_EQ(pick_key(empty, "k"), kNoServer);

  RingHash ring(fleet(3));
  ring.set_eligible(0, false);
  ring.set_eligible(2, false);
  PickContext ctx;
  ctx.excluded.add(1);
  EXPECT_EQ(pick_key(ring, "k", ctx), kNoServer);
  EXPECT_EQ(pick_key(ring, "k"), 1u);
  ring.set_eligible(1, false);
  EXPECT_EQ(pick_key(ring, "k"), kNoServer);
}

// With 990 of 1,000 servers out, most walks pass the bound and take the fallback: every key
// still reaches a qualifying server, the same one each time.
TEST(RingHash, WalksPastTheBoundFallBackToAQualifyingServer) {
  RingHash ring(fleet(1'000));
  for (ServerIndex server = 0; server < 1'000; ++server) {
    ring.set_eligible(server, server % 100 == 0);
  }
  PickContext ctx;
  ctx.excluded.add(0);
  ctx.excluded.add(100);
  const std::vector<std::string> keys = random_keys(7);
  std::vector<int> load(1'000);
  for (int i = 0; i < 10'000; ++i) {
    const ServerIndex chosen = pick_key(ring, keys[i], ctx);
    ASSERT_NE(chosen, kNoServer);
    ASSERT_EQ(chosen % 100, 0u);
    ASSERT_GE(chosen, 200u);
    ASSERT_EQ(pick_key(ring, keys[i], ctx), chosen);
    ++load[chosen];
  }
  for (ServerIndex server = 200; server < 1'000; server += 100) {
    EXPECT_GT(load[server], 10'000 / 8 / 2) << "server " << server;
  }
}

TEST(RingHash, ThousandServerFleetBuildsAndSpreads) {
  RingHash ring(fleet(1'000));
  EXPECT_EQ(ring.point_count(), 1'000 * RingHash::kPointsPerServer);
  const std::vector<int> load = load_of(pick_all(ring, random_keys(8)), 1'000);
  for (ServerIndex server = 0; server < 1'000; ++server) {
    // 100 keys each on average; 256 points per server keep each share within about +-12%.
    EXPECT_GT(load[server], 50) << "server " << server;
    EXPECT_LT(load[server], 150) << "server " << server;
  }
}

TEST(RingHash, RingSizeIsBoundedForLargeFleets) {
  RingHash ring(fleet(10'000));
  EXPECT_LE(ring.point_count(), RingHash::kMaxRingPoints);
  EXPECT_GE(ring.point_count(), RingHash::kMaxRingPoints / 2);
  EXPECT_NE(pick_key(ring, "k"), kNoServer);
}

}  // namespace
}  // namespace ballast::balance
