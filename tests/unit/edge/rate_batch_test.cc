#include "edge/rate_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace ballast::edge {
namespace {

// The count recorded for (limit, key), or -1 when the batch has no such entry.
int64_t count_of(const std::vector<RateCount>& counts, uint32_t limit, uint64_t key) {
  const auto found = std::ranges::find_if(counts, [&](const RateCount& count) {
    return count.limit == limit && count.key_hash == key;
  });
  return found == counts.end() ? -1 : static_cast<int64_t>(found->count);
}

TEST(RateBatch, CountsPassedRequestsPerLimitAndKey) {
  RateBatch batch(16);
  for (int i = 0; i < 3; ++i) {
    batch.record(0, 42, true);
  }
  batch.record(1, 42, true);  // the same key under another limit is another entry
  batch.record(0, 7, true);
  std::vector<RateCount> counts;
  batch.drain(counts);
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(count_of(counts, 0, 42), 3);
  EXPECT_EQ(count_of(counts, 1, 42), 1);
  EXPECT_EQ(count_of(counts, 0, 7), 1);
}

TEST(RateBatch, ARefusedRequestKeepsItsKeyInTheBatchWithNothingAdded) {
  RateBatch batch(16);
  batch.record(0, 5, false);
  batch.record(0, 6, true);
  batch.record(0, 6, false);
  std::vector<RateCount> counts;
  batch.drain(counts);
  EXPECT_EQ(count_of(counts, 0, 5), 0);
  EXPECT_EQ(count_of(counts, 0, 6), 1);
}

TEST(RateBatch, DrainAppendsAndEmptiesTheTable) {
  RateBatch batch(16);
  batch.record(0, 1, true);
  batch.record(0, 2, true);
  std::vector<RateCount> counts = {{99, 3, 9}};  // what the caller had: kept
  batch.drain(counts);
  EXPECT_EQ(counts.size(), 3u);
  EXPECT_EQ(batch.size(), 0u);

  std::vector<RateCount> again;
  batch.drain(again);
  EXPECT_TRUE(again.empty());
  batch.record(0, 1, true);  // a key seen before the drain starts afresh
  batch.drain(again);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].count, 1u);
}

TEST(RateBatch, AFullTableDropsNewKeysAndCountsThem) {
  RateBatch batch(4);
  for (uint64_t key = 0; key < 4; ++key) {
    batch.record(0, key, true);
  }
  batch.record(0, 100, true);
  batch.record(0, 101, false);
  batch.record(0, 2, true);  // a key already in still counts
  EXPECT_EQ(batch.dropped(), 2u);
  std::vector<RateCount> counts;
  batch.drain(counts);
  ASSERT_EQ(counts.size(), 4u);
  EXPECT_EQ(count_of(counts, 0, 2), 2);
  EXPECT_EQ(count_of(counts, 0, 100), -1);
  // Emptied by the drain: room again, and the drops stay counted.
  batch.record(0, 100, true);
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch.dropped(), 2u);
}

TEST(RateBatch, KeysThatCollideInTheTableStayApart) {
  RateBatch batch(64);
  // Hashes equal in their low bits land on one home slot and probe on.
  std::vector<uint64_t> keys;
  for (uint64_t i = 1; i <= 40; ++i) {
    keys.push_back(i << 40);
  }
  for (const uint64_t key : keys) {
    batch.record(0, key, true);
    batch.record(0, key, true);
  }
  std::vector<RateCount> counts;
  batch.drain(counts);
  ASSERT_EQ(counts.size(), keys.size());
  for (const uint64_t key : keys) {
    EXPECT_EQ(count_of(counts, 0, key), 2) << key;
  }
}

}  // namespace
}  // namespace ballast::edge
