#include "balance/weight_tree.h"

#include <gtest/gtest.h>

#include <vector>

#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::chi_square;
using test_support::kChiSquare999Df11;
using test_support::kChiSquare999Df2;
using test_support::kChiSquare999Df3;
using test_support::kChiSquare999Df5;

// Checks every offset of [0, total) against prefix sums computed by hand.
void expect_matches_prefix_sums(const WeightTree& tree, const std::vector<uint32_t>& counted) {
  ASSERT_EQ(tree.size(), counted.size());
  uint64_t start = 0;
  for (ServerIndex server = 0; server < counted.size(); ++server) {
    EXPECT_EQ(tree.weight(server), counted[server]);
    EXPECT_EQ(tree.start(server), start) << "server " << server;
    for (uint64_t offset = start; offset < start + counted[server]; ++offset) {
      const WeightTree::Interval found = tree.find(offset);
      ASSERT_EQ(found.server, server) << "offset " << offset;
      ASSERT_EQ(found.start, start) << "offset " << offset;
    }
    start += counted[server];
  }
  EXPECT_EQ(tree.total(), start);
}

std::vector<uint32_t> weights_with_zeros(uint32_t size) {
  std::vector<uint32_t> weights(size);
  for (uint32_t i = 0; i < size; ++i) {
    weights[i] = i * 7 % 5;  // 0, 2, 4, 1, 3, 0, ...: zeros at every fifth server
  }
  return weights;
}

TEST(WeightTree, FindReturnsTheIntervalHoldingEachOffsetAtEverySize) {
  for (uint32_t size = 1; size <= 33; ++size) {
    const std::vector<uint32_t> weights = weights_with_zeros(size);
    expect_matches_prefix_sums(WeightTree(weights), weights);
  }
  const std::vector<uint32_t> large = weights_with_zeros(1000);
  expect_matches_prefix_sums(WeightTree(large), large);
}

TEST(WeightTree, SetKeepsEveryIntervalRightThroughRandomUpdates) {
  std::vector<uint32_t> counted = weights_with_zeros(300);
  WeightTree tree(counted);
  core::Random random(11);
  for (int round = 0; round < 20; ++round) {
    for (int update = 0; update < 50; ++update) {
      const auto server = static_cast<ServerIndex>(random.below(counted.size()));
      const auto weight = static_cast<uint32_t>(random.below(3) == 0 ? 0 : random.below(9));
      counted[server] = weight;
      tree.set(server, weight);
    }
    expect_matches_prefix_sums(tree, counted);
  }
}

TEST(WeightTree, EmptyTreeSamplesNothing) {
  const WeightTree tree(std::vector<uint32_t>{});
  core::Random random(1);
  EXPECT_EQ(tree.total(), 0u);
  EXPECT_EQ(tree.sample(random, {}), kNoServer);
  const WeightTree::Pair pair = tree.sample_two(random, {});
  EXPECT_EQ(pair.first, kNoServer);
  EXPECT_EQ(pair.second, kNoServer);
}

TEST(WeightTree, SampleFollowsWeightsAndNeverDrawsAServerCountedZero) {
  const WeightTree tree({1, 2, 0, 3, 4});
  core::Random random(5);
  std::vector<uint64_t> counts(5, 0);
  for (int i = 0; i < 100'000; ++i) {
    ++counts[tree.sample(random, {})];
  }
  EXPECT_EQ(counts[2], 0u);
  const std::vector<uint64_t> drawn = {counts[0], counts[1], counts[3], counts[4]};
  EXPECT_LT(chi_square(drawn, {0.1, 0.2, 0.3, 0.4}), kChiSquare999Df3);
}

TEST(WeightTree, SampleTwoDrawsWithoutReplacement) {
  // Ordered pair (i, j) has probability w_i / W * w_j / (W - w_i). With replacement, the twelve
  // off-diagonal cells would carry only 70% of the draws and the test would fail.
  const std::vector<uint32_t> weights = {1, 2, 3, 4};
  const WeightTree tree(weights);
  core::Random random(9);
  std::vector<uint64_t> counts;
  std::vector<double> probability;
  std::vector<std::vector<uint64_t>> cells(4, std::vector<uint64_t>(4, 0));
  for (int i = 0; i < 200'000; ++i) {
    const WeightTree::Pair pair = tree.sample_two(random, {});
    ASSERT_NE(pair.first, pair.second);
    ASSERT_LT(pair.first, 4u);
    ASSERT_LT(pair.second, 4u);
    ++cells[pair.first][pair.second];
  }
  for (uint32_t first = 0; first < 4; ++first) {
    for (uint32_t second = 0; second < 4; ++second) {
      if (first != second) {
        counts.push_back(cells[first][second]);
        probability.push_back(weights[first] / 10.0 * weights[second] / (10.0 - weights[first]));
      }
    }
  }
  EXPECT_LT(chi_square(counts, probability), kChiSquare999Df11);
}

TEST(WeightTree, DrawsStayExactWhenEveryProposalIsRejected) {
  // Server 0's old weight keeps the proposal bound at 10^9, so proposals are all but always
  // rejected and draws fall back to the descent, which must give the same distributions.
  WeightTree tree({1'000'000'000, 1, 2, 3});
  tree.set(0, 0);
  core::Random random(13);
  std::vector<uint64_t> counts(4, 0);
  std::vector<std::vector<uint64_t>> cells(4, std::vector<uint64_t>(4, 0));
  for (int i = 0; i < 60'000; ++i) {
    ++counts[tree.sample(random, {})];
    const WeightTree::Pair pair = tree.sample_two(random, {});
    ASSERT_NE(pair.first, pair.second);
    ASSERT_NE(pair.first, 0u);
    ASSERT_NE(pair.second, 0u);
    ++cells[pair.first][pair.second];
  }
  EXPECT_EQ(counts[0], 0u);
  EXPECT_LT(chi_square({counts[1], counts[2], counts[3]}, {1 / 6.0, 2 / 6.0, 3 / 6.0}),
            kChiSquare999Df2);
  // First 1 then 2: 1/6 * 2/5. First 3 then 1: 3/6 * 1/3. And so on.
  EXPECT_LT(
      chi_square({cells[1][2], cells[1][3], cells[2][1], cells[2][3], cells[3][1], cells[3][2]},
                 {1 / 6.0 * 2 / 5.0, 1 / 6.0 * 3 / 5.0, 2 / 6.0 * 1 / 4.0, 2 / 6.0 * 3 / 4.0,
                  3 / 6.0 * 1 / 3.0, 3 / 6.0 * 2 / 3.0}),
      kChiSquare999Df5);
}

TEST(WeightTree, SampleTwoFromTwoServersAlwaysReturnsBoth) {
  const WeightTree tree({1, 1000});
  core::Random random(3);
  for (int i = 0; i < 1000; ++i) {
    const WeightTree::Pair pair = tree.sample_two(random, {});
    ASSERT_EQ(pair.first + pair.second, 1u);  // {0, 1} in either order
  }
}

TEST(WeightTree, SampleTwoWithOneQualifyingServerReturnsOnlyIt) {
  WeightTree tree({4, 0, 0});
  core::Random random(3);
  const WeightTree::Pair pair = tree.sample_two(random, {});
  EXPECT_EQ(pair.first, 0u);
  EXPECT_EQ(pair.second, kNoServer);
  tree.set(0, 0);
  const WeightTree::Pair none = tree.sample_two(random, {});
  EXPECT_EQ(none.first, kNoServer);
  EXPECT_EQ(none.second, kNoServer);
}

TEST(WeightTree, ExcludedServersAreCutOutOfTheDraw) {
  // Excluding 0 and 3 leaves 1, 2 and 4 with equal weight: each must get a third.
  const WeightTree tree({5, 1, 1, 5, 1});
  ExcludedServers excluded;
  excluded.add(3);
  excluded.add(0);
  core::Random random(21);
  std::vector<uint64_t> counts(5, 0);
  for (int i = 0; i < 60'000; ++i) {
    ++counts[tree.sample(random, excluded)];
  }
  EXPECT_EQ(counts[0], 0u);
  EXPECT_EQ(counts[3], 0u);
  EXPECT_LT(chi_square({counts[1], counts[2], counts[4]}, {1 / 3.0, 1 / 3.0, 1 / 3.0}),
            kChiSquare999Df2);
}

TEST(WeightTree, SampleTwoSkipsExcludedServersAndTheFirstDraw) {
  // Eight excluded of ten leaves exactly two: both are returned, in either order.
  const WeightTree tree({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  ExcludedServers excluded;
  for (const ServerIndex server : {0u, 1u, 2u, 4u, 5u, 6u, 8u, 9u}) {
    excluded.add(server);
  }
  core::Random random(4);
  uint64_t three_first = 0;
  for (int i = 0; i < 10'000; ++i) {
    const WeightTree::Pair pair = tree.sample_two(random, excluded);
    ASSERT_TRUE((pair.first == 3 && pair.second == 7) || (pair.first == 7 && pair.second == 3));
    three_first += pair.first == 3 ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(three_first) / 10'000, 4.0 / 12.0, 0.02);
}

TEST(WeightTree, ExcludedServersOutsideTheTreeOrCountedZeroAreIgnored) {
  const WeightTree tree({1, 0, 1});
  ExcludedServers excluded;
  excluded.add(1);    // counted zero: no interval to cut
  excluded.add(500);  // numbered in a larger, older server set
  excluded.add(kNoServer);
  core::Random random(8);
  for (int i = 0; i < 100; ++i) {
    const ServerIndex server = tree.sample(random, excluded);
    ASSERT_TRUE(server == 0 || server == 2);
  }
  excluded.add(0);
  excluded.add(2);
  EXPECT_EQ(tree.sample(random, excluded), kNoServer);
}

TEST(WeightTree, LargeWeightsSumIn64Bits) {
  const std::vector<uint32_t> weights(3, UINT32_MAX);
  const WeightTree tree(weights);
  EXPECT_EQ(tree.total(), 3 * uint64_t{UINT32_MAX});
  EXPECT_EQ(tree.find(2 * uint64_t{UINT32_MAX}).server, 2u);
  EXPECT_EQ(tree.find(2 * uint64_t{UINT32_MAX} - 1).server, 1u);
}

}  // namespace
}  // namespace ballast::balance
