#include "edge/rate_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/hash.h"
#include "core/random.h"

namespace ballast::edge {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1'000 * kMs;
constexpr uint64_t kStart = 5 * kSecond;

uint64_t key(uint64_t n) {
  return core::hash64(std::string_view(reinterpret_cast<const char*>(&n), sizeof(n)));
}

TEST(RateTable, ABurstPassesAtOnceThenOneAnInterval) {
  RateTable table(1024, kStart);
  const RateLimit limit = make_rate_limit(10, kSecond, 5);  // 10/s, burst 5
  for (uint64_t expected_remaining : {4, 3, 2, 1, 0}) {
    const RateVerdict verdict = table.check(key(1), limit, kStart);
    EXPECT_TRUE(verdict.allowed);
    EXPECT_EQ(verdict.remaining, expected_remaining);
  }
  const RateVerdict refused = table.check(key(1), limit, kStart);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_ns, 100 * kMs);  // one interval
  EXPECT_EQ(refused.reset_ns, 500 * kMs);        // five intervals until the burst is whole
  EXPECT_FALSE(table.check(key(1), limit, kStart + 99 * kMs).allowed);
  EXPECT_TRUE(table.check(key(1), limit, kStart + 100 * kMs).allowed);
  EXPECT_FALSE(table.check(key(1), limit, kStart + 100 * kMs).allowed);
  // Another key has its own count.
  EXPECT_TRUE(table.check(key(2), limit, kStart).allowed);
  // At rest again after the whole burst's time.
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(table.check(key(1), limit, kStart + 700 * kMs).allowed) << i;
  }
}

TEST(RateTable, RequestsChargedFromElsewhereUseTheKeysAllowance) {
  RateTable table(1024, kStart);
  const RateLimit limit = make_rate_limit(10, kSecond, 5);
  table.charge(key(1), limit, 3, kStart);  // three passed on another instance
  EXPECT_TRUE(table.check(key(1), limit, kStart).allowed);
  EXPECT_TRUE(table.check(key(1), limit, kStart).allowed);
  EXPECT_FALSE(table.check(key(1), limit, kStart).allowed);
  // More than the burst: the key waits for them all.
  table.charge(key(2), limit, 20, kStart);
  EXPECT_FALSE(table.check(key(2), limit, kStart + 1'500 * kMs).allowed);
  EXPECT_TRUE(table.check(key(2), limit, kStart + 1'600 * kMs).allowed);
}

TEST(RateTable, HasAtLeastTheSlotsAskedFor) {
  EXPECT_EQ(RateTable(4'100, kStart).slots(), 8'192u);  // whole buckets, a power of two of them
  EXPECT_EQ(RateTable(4'096, kStart).slots(), 4'096u);
  EXPECT_EQ(RateTable::slots_for(1'025), 2'048u);
}

TEST(RateTable, HoldsTheRateOverTime) {
  RateTable table(1024, kStart);
  const RateLimit limit = make_rate_limit(100, kSecond, 10);
  uint64_t allowed = 0;
  for (uint64_t t = 0; t < 10 * kSecond; t += kMs) {  // 1,000 a second offered, for 10 s
    allowed += table.check(key(7), limit, kStart + t).allowed ? 1 : 0;
  }
  EXPECT_GE(allowed, 1'000u);  // 100/s for 10 s, and the burst
  EXPECT_LE(allowed, 1'010u);
}

TEST(RateTable, WorkersShareOneCountPerKey) {
  RateTable table(1024, kStart);
  const RateLimit limit = make_rate_limit(1'000, kSecond, 1);
  std::atomic<uint64_t> allowed{0};
  const auto worker = [&](uint64_t offset) {
    // Each offers 10,000 a second for 2 s, at times interleaved with the other's.
    for (uint64_t t = offset; t < 2 * kSecond; t += 100'000) {
      allowed += table.check(key(3), limit, kStart + t).allowed ? 1 : 0;
    }
  };
  std::thread first(worker, 0);
  std::thread second(worker, 50'000);
  first.join();
  second.join();
  EXPECT_GE(allowed.load(), 1'800u);  // 1,000/s for 2 s, within 10%
  EXPECT_LE(allowed.load(), 2'200u);
}

TEST(RateTable, MemoryIsTheTablesWhateverTheKeys) {
  RateTable table(1 << 16, kStart);
  EXPECT_EQ(table.slots(), 1u << 16);
  EXPECT_EQ(table.memory_bytes(), 512u * 1024);
  const RateLimit limit = make_rate_limit(1, kSecond, 1);
  uint64_t refused_new = 0;
  for (uint64_t n = 0; n < 1'000'000; ++n) {
    refused_new += table.check(key(n), limit, kStart + n * 100).allowed ? 0 : 1;
  }
  // Every key is new and should pass; one that shares its bucket and 16-bit tag with a key
  // still counted is taken for it (8 in 65,536 while the table is full): about 120 here.
  EXPECT_LE(refused_new, 500u);
  // The most recent keys are still counted: a second request within their interval is refused.
  uint64_t refused = 0;
  for (uint64_t n = 1'000'000 - 100; n < 1'000'000; ++n) {
    refused += table.check(key(n), limit, kStart + 100 * kMs).allowed ? 0 : 1;
  }
  EXPECT_GE(refused, 99u);
}

TEST(RateTable, AKeyAtRestMayBeForgottenWithoutChangingAnything) {
  RateTable table(8, kStart);  // one bucket
  const RateLimit limit = make_rate_limit(1, kSecond, 1);
  for (uint64_t n = 0; n < 8; ++n) {
    EXPECT_TRUE(table.check(key(n), limit, kStart).allowed);
  }
  // Two seconds on, all eight are at rest: new keys take their slots and all still pass.
  for (uint64_t n = 8; n < 16; ++n) {
    EXPECT_TRUE(table.check(key(n), limit, kStart + 2 * kSecond).allowed);
    EXPECT_FALSE(table.check(key(n), limit, kStart + 2 * kSecond).allowed);
  }
}

}  // namespace
}  // namespace ballast::edge
