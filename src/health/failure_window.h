#pragma once
// The sliding window of a rate-based circuit breaker: how many calls, failed calls and slow
// calls the last stretch of time (or the last N calls) held, as Resilience4j's sliding windows.
//
// Owns: kMaxBuckets buckets, inline (nothing is allocated), each three counters; the newest
// epoch counted; for a count window, the number of calls counted.
// Threading: one window is shared by every worker thread, which all record at once. Everything
// is a relaxed atomic and nothing is locked: the counts order no other memory, and the breaker
// publishes what it decides from them through its own state word.
// Invariant: a call recorded in an era and epoch is in that era's totals for as long as the
// epoch is in the window, and in no other era's totals.
//
// Buckets. The window is cut into bucket_count() buckets, each holding one epoch: a tenth of a
// time window, or a tenth of a count window's calls (rounded up). The window is the current
// epoch and the bucket_count() - 1 before it, so a time window covers between 9/10 of its
// length and all of it (as Resilience4j's per-second buckets do), and a count window of N calls
// in buckets of L holds between N - L + 1 and N + L - 1 of the last calls (exactly N when
// N <= 10, where a bucket is one call).
//
// Each counter packs a 32-bit tag, naming the era and epoch it counts, with a 32-bit count.
// The first call of a new epoch swaps in a fresh counter by compare-and-swap; later calls add
// with fetch_add, so a rotation never loses a concurrent call. Readers take a counter only when
// its tag is the one they expect, so buckets age out of the window with no one clearing them.
// The window's clock only moves forward: a call counts in the newest epoch any thread has
// reached, if that is later than its own, so a worker whose cached clock trails its peers'
// does not wind a bucket back.
//
// Eras. The breaker passes its generation as the era. Outcomes counted in one era are
// invisible in every other, so the breaker starts with an empty window by moving to a new era:
// O(1), nothing to clear.
//
// Approximations: a call whose thread stalls, between reading the window's epoch and counting,
// for a whole window (or an outcome that races the breaker out of its era) may reset the newer
// bucket sharing its slot. A bucket counts up to 2^32 - 1 calls (a 168 h window at 70,000 calls
// a second to one server). Tags are 32 bits, so a counter left untouched until they come
// round (2^32 epochs, or a one-in-2^32 coincidence of era and epoch) could pass for current. Totals
// read while others record may miss the calls being recorded. Cost: record is O(1): one to three
// atomic adds (a compare-and-swap at a bucket's first call of an epoch, and once per epoch to move
// the window's clock), then a read of the totals: 3 x bucket_count() counters, 30 loads. About 18
// ns (time) and 38 ns (count) on one thread.

#include <array>
#include <atomic>
#include <cstdint>

#include "config/config.h"

namespace ballast::health {

struct WindowTotals {
  uint64_t calls = 0;
  uint64_t failures = 0;
  uint64_t slow_calls = 0;

  bool operator==(const WindowTotals&) const = default;
};

class FailureWindow {
 public:
  static constexpr uint32_t kMaxBuckets = 10;

  // window_size: milliseconds for a time window, calls for a count window; at least 1.
  FailureWindow(config::WindowType type, uint64_t window_size) noexcept;
  FailureWindow(const FailureWindow&) = delete;
  FailureWindow& operator=(const FailureWindow&) = delete;

  // Counts one call that ended at now_ns in `era`; returns the era's totals including it.
  WindowTotals record(uint32_t era, uint64_t now_ns, bool failed, bool slow) noexcept;

  // The era's totals as of now_ns (for a count window, as of the last call counted).
  WindowTotals totals(uint32_t era, uint64_t now_ns) const noexcept;

  uint32_t bucket_count() const noexcept { return bucket_count_; }

 private:
  struct Bucket {
    std::atomic<uint64_t> calls{0};
    std::atomic<uint64_t> failures{0};
    std::atomic<uint64_t> slow_calls{0};
  };

  uint64_t advance_to(uint64_t epoch) noexcept;
  WindowTotals sum(uint32_t era, uint64_t epoch) const noexcept;

  // Read on every call, written once per epoch.
  const config::WindowType type_;
  const uint64_t epoch_length_;  // ns (time window) or calls (count window) per bucket
  const uint32_t bucket_count_;
  std::atomic<uint64_t> newest_epoch_{0};
  // Written on every call: cache lines of their own.
  alignas(64) std::atomic<uint64_t> calls_counted_{0};  // count windows only
  std::array<Bucket, kMaxBuckets> buckets_;
};

}  // namespace ballast::health
