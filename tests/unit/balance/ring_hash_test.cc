#include "balance/ring_hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "core/hash.h"
#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::fleet;
using test_support::kKeys;
using test_support::pick_all;
using test_support::pick_key;
using test_support::random_keys;

TEST(RingHash, TheSameKeyAlwaysMapsToTheSameServer) {
  test_support::expect_the_same_key_always_maps_to_the_same_server<RingHash>(1);
}

// The ring by its definition: ten equal servers get 2,048 points each (16,384 / 10 rounded up
// to a power of two), at the high half of hash64(name, replica); a key takes the first point at
// or after the high half of its hash, wrapping, by binary search here.
TEST(RingHash, AKeyGoesToTheFirstPointClockwise) {
  const std::vector<balance::ServerSpec> specs = fleet(10);
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
  test_support::expect_ten_equal_servers_each_take_a_tenth(ring, 2);
}

TEST(RingHash, WeightsAreHonoured) {
  test_support::expect_weights_are_honoured<RingHash>(3);
}

// Removing server `removed` and rebuilding: every key that was elsewhere stays where it was.
TEST(RingHash, RemovingAServerMovesExactlyItsKeys) {
  const std::vector<balance::ServerSpec> specs = fleet(10);
  RingHash ring(specs);
  const std::vector<std::string> keys = random_keys(4);
  const std::vector<ServerIndex> before = pick_all(ring, keys);
  for (const ServerIndex removed : {0u, 4u, 9u}) {
    std::vector<balance::ServerSpec> fewer = specs;
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
  const std::vector<balance::ServerSpec> specs = fleet(10);
  constexpr ServerIndex kOut = 3;
  std::vector<balance::ServerSpec> fewer = specs;
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
  test_support::expect_excluded_servers_are_skipped_like_ineligible_ones<RingHash>(6);
}

TEST(RingHash, NoServerWhenNothingQualifies) {
  test_support::expect_no_server_when_nothing_qualifies<RingHash>();
}

// With 990 of 1,000 servers out, most walks pass kMaxWalkPoints and take the fallback.
TEST(RingHash, WalksPastTheBoundFallBackToAQualifyingServer) {
  test_support::expect_lookups_past_the_bound_fall_back_to_a_qualifying_server<RingHash>(7);
}

TEST(RingHash, ThousandServerFleetBuildsAndSpreads) {
  RingHash ring(fleet(1'000));
  EXPECT_EQ(ring.point_count(), 1'000 * RingHash::kPointsPerServer);
  // 256 points per server keep each share within about +-12%.
  test_support::expect_thousand_servers_each_take_between_50_and_150_keys(ring, 8);
}

TEST(RingHash, RingSizeIsBoundedForLargeFleets) {
  RingHash ring(fleet(10'000));
  EXPECT_LE(ring.point_count(), RingHash::kMaxRingPoints);
  EXPECT_GE(ring.point_count(), RingHash::kMaxRingPoints / 2);
  EXPECT_NE(pick_key(ring, "k"), kNoServer);
}

}  // namespace
}  // namespace ballast::balance
