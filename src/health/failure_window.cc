#include "health/failure_window.h"

#include <algorithm>

#include "core/clock.h"

namespace ballast::health {
namespace {

constexpr uint64_t kCountMask = 0xffff'ffff;

// Spreads consecutive eras far apart over the 32-bit tag space (the golden ratio's 32-bit
// fraction), so that an era's tags meet another's only after billions of epochs.
constexpr uint32_t kEraSpread = 0x9e37'79b9;

uint32_t tag_of(uint32_t era, uint64_t epoch) noexcept {
  return static_cast<uint32_t>(epoch) + era * kEraSpread;
}

uint64_t count_of(uint64_t counter, uint32_t tag) noexcept {
  return static_cast<uint32_t>(counter >> 32) == tag ? counter & kCountMask : 0;
}

// One more call on a counter: added to it when it counts this tag's epoch, else it is swapped
// for a fresh counter of one. A counter swapped for a newer epoch between the load and the add
// takes the call into the newer epoch: the call ended at that boundary, and it is not lost.
void add(std::atomic<uint64_t>& counter, uint32_t tag) noexcept {
  uint64_t current = counter.load(std::memory_order_relaxed);
  const uint64_t fresh = (static_cast<uint64_t>(tag) << 32) | 1;
  while (static_cast<uint32_t>(current >> 32) != tag) {
    if (counter.compare_exchange_weak(current, fresh, std::memory_order_relaxed)) {
      return;
    }
  }
  counter.fetch_add(1, std::memory_order_relaxed);
}

uint64_t ceil_div(uint64_t numerator, uint64_t denominator) noexcept {
  return (numerator + denominator - 1) / denominator;
}

uint64_t epoch_length(config::WindowType type, uint64_t window_size) noexcept {
  window_size = std::max<uint64_t>(window_size, 1);
  if (type == config::WindowType::time) {
    return window_size * core::kNsPerMs / FailureWindow::kMaxBuckets;
  }
  return ceil_div(window_size, FailureWindow::kMaxBuckets);
}

}  // namespace

FailureWindow::FailureWindow(config::WindowType type, uint64_t window_size) noexcept
    : type_(type),
      epoch_length_(epoch_length(type, window_size)),
      bucket_count_(type == config::WindowType::time
                        ? kMaxBuckets
                        : static_cast<uint32_t>(
                              ceil_div(std::max<uint64_t>(window_size, 1), epoch_length_))) {}

WindowTotals FailureWindow::record(uint32_t era, uint64_t now_ns, bool failed, bool slow) noexcept {
  const uint64_t position = type_ == config::WindowType::time
                                ? now_ns
                                : calls_counted_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t epoch = advance_to(position / epoch_length_);
  Bucket& bucket = buckets_[epoch % bucket_count_];
  const uint32_t tag = tag_of(era, epoch);
  add(bucket.calls, tag);
  if (failed) {
    add(bucket.failures, tag);
  }
  if (slow) {
    add(bucket.slow_calls, tag);
  }
  return sum(era, epoch);
}

WindowTotals FailureWindow::totals(uint32_t era, uint64_t now_ns) const noexcept {
  uint64_t epoch = newest_epoch_.load(std::memory_order_relaxed);
  if (type_ == config::WindowType::time) {
    epoch = std::max(epoch, now_ns / epoch_length_);
  }
  return sum(era, epoch);
}

// The later of `epoch` and the newest epoch any thread has counted in, which becomes the
// newest. Written once per epoch; every other call only reads it.
uint64_t FailureWindow::advance_to(uint64_t epoch) noexcept {
  uint64_t newest = newest_epoch_.load(std::memory_order_relaxed);
  while (newest < epoch) {
    if (newest_epoch_.compare_exchange_weak(newest, epoch, std::memory_order_relaxed)) {
      return epoch;
    }
  }
  return newest;
}

WindowTotals FailureWindow::sum(uint32_t era, uint64_t epoch) const noexcept {
  WindowTotals totals;
  const uint64_t oldest = epoch >= bucket_count_ - 1 ? epoch - (bucket_count_ - 1) : 0;
  uint32_t slot = static_cast<uint32_t>(oldest % bucket_count_);  // then walked, not divided
  for (uint64_t e = oldest; e <= epoch; ++e) {
    const Bucket& bucket = buckets_[slot];
    const uint32_t tag = tag_of(era, e);
    totals.calls += count_of(bucket.calls.load(std::memory_order_relaxed), tag);
    totals.failures += count_of(bucket.failures.load(std::memory_order_relaxed), tag);
    totals.slow_calls += count_of(bucket.slow_calls.load(std::memory_order_relaxed), tag);
    slot = slot + 1 == bucket_count_ ? 0 : slot + 1;
  }
  return totals;
}

}  // namespace ballast::health
