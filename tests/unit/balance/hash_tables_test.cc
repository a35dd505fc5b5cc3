#include "balance/hash_tables.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "balance/balancer.h"

namespace ballast::balance {
namespace {

std::vector<ServerSpec> fleet() {
  std::vector<ServerSpec> servers;
  for (int i = 0; i < 40; ++i) {
    servers.push_back(
        {"10.0.0." + std::to_string(i) + ":80", static_cast<uint32_t>(1 + i % 3), i >= 36});
  }
  return servers;
}

TEST(HashTables, OnlyHashingAlgorithmsHaveThem) {
  EXPECT_EQ(build_hash_tables(Algorithm::round_robin, fleet()), nullptr);
  EXPECT_EQ(build_hash_tables(Algorithm::p2c, fleet()), nullptr);
  const auto ring = build_hash_tables(Algorithm::consistent_hash, fleet());
  ASSERT_NE(ring, nullptr);
  EXPECT_NE(ring->tiers[0].ring, nullptr);
  EXPECT_NE(ring->tiers[1].ring, nullptr);  // the backups' own ring
  const auto maglev = build_hash_tables(Algorithm::maglev, fleet());
  ASSERT_NE(maglev, nullptr);
  EXPECT_NE(maglev->tiers[0].maglev, nullptr);
}

// A policy over shared tables chooses exactly as one that built its own.
TEST(HashTables, SharedTablesChooseAsPrivateOnes) {
  for (const Algorithm algorithm :
       {Algorithm::consistent_hash, Algorithm::ip_hash, Algorithm::maglev}) {
    const std::vector<ServerSpec> servers = fleet();
    const auto tables = build_hash_tables(algorithm, servers);
    Balancer shared_one(algorithm, servers, 1, tables.get());
    Balancer shared_two(algorithm, servers, 2, tables.get());
    Balancer private_one(algorithm, servers, 3);
    for (int key = 0; key < 2000; ++key) {
      const std::string text = "client-" + std::to_string(key);
      PickContext ctx;
      ctx.hash_key = text;
      const ServerIndex expected = private_one.pick(ctx);
      EXPECT_EQ(shared_one.pick(ctx), expected);
      EXPECT_EQ(shared_two.pick(ctx), expected);
    }
  }
}

}  // namespace
}  // namespace ballast::balance
