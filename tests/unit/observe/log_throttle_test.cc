#include "observe/log_throttle.h"

#include <gtest/gtest.h>

namespace ballast::observe {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

TEST(LogThrottle, OneLineASecondCountingTheRest) {
  LogThrottle throttle;
  EXPECT_EQ(throttle.admit(10 * kSecond), 1u);  // the first: logged, standing for itself
  for (int i = 0; i < 41; ++i) {
    EXPECT_EQ(throttle.admit(10 * kSecond + static_cast<uint64_t>(i) * 1'000'000), 0u);
  }
  EXPECT_EQ(throttle.admit(11 * kSecond - 1), 0u);
  // A second on: one line for this failure and the 42 suppressed since the last line.
  EXPECT_EQ(throttle.admit(11 * kSecond), 43u);
  EXPECT_EQ(throttle.admit(11 * kSecond + 1), 0u);
  EXPECT_EQ(throttle.admit(30 * kSecond), 2u);
}

}  // namespace
}  // namespace ballast::observe
