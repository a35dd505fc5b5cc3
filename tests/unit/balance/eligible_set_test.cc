#include "balance/eligible_set.h"

#include <gtest/gtest.h>

namespace ballast::balance {
namespace {

TEST(EligibleSet, StartsWithEveryServerEligible) {
  EligibleSet set(70);
  EXPECT_EQ(set.count(), 70u);
  for (uint32_t i = 0; i < 70; ++i) {
    EXPECT_TRUE(set.contains(i));
  }
}

TEST(EligibleSet, SetReportsOnlyRealChanges) {
  EligibleSet set(3);
  EXPECT_FALSE(set.set(1, true));
  EXPECT_TRUE(set.set(1, false));
  EXPECT_FALSE(set.set(1, false));
  EXPECT_EQ(set.count(), 2u);
  EXPECT_TRUE(set.set(1, true));
  EXPECT_EQ(set.count(), 3u);
}

TEST(EligibleSet, NextFromSkipsIneligibleAndWrapsAcrossWords) {
  EligibleSet set(130);
  for (uint32_t i = 0; i < 130; ++i) {
    set.set(i, false);
  }
  EXPECT_EQ(set.next_from(0), 130u);  // none eligible
  set.set(5, true);
  set.set(129, true);
  EXPECT_EQ(set.next_from(0), 5u);
  EXPECT_EQ(set.next_from(6), 129u);
  EXPECT_EQ(set.next_from(129), 129u);
  EXPECT_EQ(set.next_from(130), 5u);  // past the end wraps to the start
}

}  // namespace
}  // namespace ballast::balance
