#include "health/failure_window.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ballast::health {
namespace {

constexpr uint64_t kMsNs = 1'000'000;
constexpr uint64_t kSecondNs = 1'000 * kMsNs;
constexpr uint32_t kEra = 7;

using config::WindowType;

void record_many(FailureWindow& window, int calls, uint64_t now_ns, bool failed, bool slow = false,
                 uint32_t era = kEra) {
  for (int i = 0; i < calls; ++i) {
    window.record(era, now_ns, failed, slow);
  }
}

TEST(FailureWindow, CountsCallsFailuresAndSlowCalls) {
  FailureWindow window(WindowType::time, 10'000);
  window.record(kEra, kSecondNs, false, false);
  window.record(kEra, kSecondNs, true, false);
  window.record(kEra, 2 * kSecondNs, false, true);
  const WindowTotals totals = window.record(kEra, 3 * kSecondNs, true, true);
  EXPECT_EQ(totals, (WindowTotals{4, 2, 2}));
  EXPECT_EQ(window.totals(kEra, 3 * kSecondNs), totals);
}

TEST(FailureWindow, ATimeWindowIsTenBucketsOfATenthEach) {
  FailureWindow window(WindowType::time, 10'000);  // 10 s: buckets of 1 s
  EXPECT_EQ(window.bucket_count(), 10u);
  record_many(window, 1, 500 * kMsNs, true);     // epoch 0
  record_many(window, 2, 1'500 * kMsNs, true);   // epoch 1
  record_many(window, 3, 2'999 * kMsNs, false);  // epoch 2
  EXPECT_EQ(window.totals(kEra, 9'999 * kMsNs), (WindowTotals{6, 3, 0}));
  // Each second forgets one bucket: the window is the current second and the 9 before it.
  EXPECT_EQ(window.totals(kEra, 10 * kSecondNs), (WindowTotals{5, 2, 0}));
  EXPECT_EQ(window.totals(kEra, 11 * kSecondNs), (WindowTotals{3, 0, 0}));
  EXPECT_EQ(window.totals(kEra, 12 * kSecondNs), (WindowTotals{}));
}

TEST(FailureWindow, ABucketReusedByALaterEpochStartsFromZero) {
  FailureWindow window(WindowType::time, 10'000);
  record_many(window, 5, 500 * kMsNs, true);  // epoch 0, slot 0
  // Epoch 10 shares slot 0; its count does not include epoch 0's.
  EXPECT_EQ(window.record(kEra, 10'500 * kMsNs, false, false), (WindowTotals{1, 0, 0}));
}

TEST(FailureWindow, ALaggingClockCountsInTheNewestEpochInsteadOfRewinding) {
  FailureWindow window(WindowType::time, 10'000);
  record_many(window, 3, 20 * kSecondNs, true);
  // A worker whose cached clock is a whole window behind: its call is counted at 20 s, and
  // it does not reset epoch 20's bucket (slot 0, which its own epoch 0 would also use).
  EXPECT_EQ(window.record(kEra, 0, false, false), (WindowTotals{4, 3, 0}));
  EXPECT_EQ(window.totals(kEra, 20 * kSecondNs), (WindowTotals{4, 3, 0}));
}

TEST(FailureWindow, ErasAreSeparateWindows) {
  FailureWindow window(WindowType::time, 10'000);
  record_many(window, 4, kSecondNs, true, false, 1);
  EXPECT_EQ(window.totals(2, kSecondNs), (WindowTotals{}));
  EXPECT_EQ(window.record(2, kSecondNs, false, false), (WindowTotals{1, 0, 0}));
  // A late outcome of era 1 does not show in era 2.
  window.record(1, 2 * kSecondNs, true, false);
  EXPECT_EQ(window.totals(2, 2 * kSecondNs), (WindowTotals{1, 0, 0}));
}

TEST(FailureWindow, ASmallCountWindowHoldsExactlyTheLastCalls) {
  FailureWindow window(WindowType::count, 10);  // buckets of one call
  EXPECT_EQ(window.bucket_count(), 10u);
  record_many(window, 10, 0, true);
  for (uint64_t successes = 1; successes <= 10; ++successes) {
    EXPECT_EQ(window.record(kEra, 0, false, false), (WindowTotals{10, 10 - successes, 0}));
  }
}

TEST(FailureWindow, ALargeCountWindowHoldsTheLastCallsGiveOrTakeABucket) {
  FailureWindow window(WindowType::count, 100);  // ten buckets of 10 calls
  EXPECT_EQ(window.bucket_count(), 10u);
  record_many(window, 99, 0, true);
  EXPECT_EQ(window.record(kEra, 0, false, false).calls, 100u);
  // Call 101 opens a new bucket of 10 and drops the oldest (calls 1-10, all failed): the
  // window holds calls 11-101, 89 of them failed.
  EXPECT_EQ(window.record(kEra, 0, false, false), (WindowTotals{91, 89, 0}));
  record_many(window, 8, 0, false);
  EXPECT_EQ(window.record(kEra, 0, false, false), (WindowTotals{100, 89, 0}));
}

TEST(FailureWindow, ACountWindowNotAMultipleOfTenRoundsItsBucketsUp) {
  FailureWindow window(WindowType::count, 25);  // buckets of 3 calls: 9 of them
  EXPECT_EQ(window.bucket_count(), 9u);
  record_many(window, 27, 0, false);
  EXPECT_EQ(window.totals(kEra, 0).calls, 27u);
  EXPECT_EQ(window.record(kEra, 0, false, false).calls, 25u);
}

// Every call recorded concurrently is counted: rotations to a new epoch race with adds.
void expect_concurrent_calls_all_counted(WindowType type, uint64_t window_size) {
  constexpr int kThreads = 4;
  constexpr int kEpochs = 5;
  constexpr int kCallsPerEpoch = 2'000;
  FailureWindow window(type, window_size);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&window] {
      for (int epoch = 0; epoch < kEpochs; ++epoch) {
        for (int i = 0; i < kCallsPerEpoch; ++i) {
          window.record(kEra, epoch * kSecondNs + i, i % 4 == 0, i % 8 == 0);
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  constexpr uint64_t kCalls = uint64_t{kThreads} * kEpochs * kCallsPerEpoch;
  EXPECT_EQ(window.totals(kEra, (kEpochs - 1) * kSecondNs),
            (WindowTotals{kCalls, kCalls / 4, kCalls / 8}));
}

TEST(FailureWindow, ConcurrentCallsAreAllCountedInATimeWindow) {
  expect_concurrent_calls_all_counted(WindowType::time, 10'000);  // buckets of 1 s
}

TEST(FailureWindow, ConcurrentCallsAreAllCountedInACountWindow) {
  expect_concurrent_calls_all_counted(WindowType::count, 100'000);  // buckets of 10,000 calls
}

}  // namespace
}  // namespace ballast::health
