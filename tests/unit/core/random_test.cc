#include "core/random.h"

#include <gtest/gtest.h>

#include <array>

namespace ballast::core {
namespace {

TEST(Random, SameSeedGivesSameSequence) {
  Random a(42);
  Random b(42);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(a.next(), b.next());
  }
}

TEST(Random, DifferentSeedsDiverge) {
  Random a(1);
  Random b(2);
  EXPECT_NE(a.next(), b.next());
}

TEST(Random, BelowStaysInRangeAndCoversItEvenly) {
  Random random(7);
  std::array<int, 10> counts{};
  constexpr int kDraws = 100'000;
  for (int i = 0; i < kDraws; ++i) {
    const uint64_t value = random.below(counts.size());
    ASSERT_LT(value, counts.size());
    ++counts[value];
  }
  for (const int count : counts) {
    EXPECT_NEAR(count, kDraws / 10, kDraws / 100);  // within 10% of the ideal share
  }
}

TEST(Random, UnitIsInHalfOpenInterval) {
  Random random(3);
  double sum = 0;
  for (int i = 0; i < 10'000; ++i) {
    const double value = random.unit();
    ASSERT_GE(value, 0.0);
    ASSERT_LT(value, 1.0);
    sum += value;
  }
  EXPECT_NEAR(sum / 10'000, 0.5, 0.02);
}

}  // namespace
}  // namespace ballast::core
