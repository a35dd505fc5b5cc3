#pragma once
// One worker's counts for the fleet-wide ("global") rate limits since its last hand-over to
// RateSync (rate_sync.h): per (limit, key), how many requests passed here.
//
// A refused request is recorded too, adding nothing: the key still takes part in the next
// exchange, whose answer says what the rest of the fleet let through, so a key refused here
// keeps learning when it may pass again.
//
// The table: open addressing with linear probing, twice as many slots as the keys it holds (so
// a probe stays short even when full), and the list of slots in use (so drain() visits only
// those). A key that finds the table full is not counted (dropped() says how often): its
// requests are still limited here, only not shared with the fleet.
//
// Threading: one per worker, on the worker's thread alone: no lock, no allocation after
// construction (drain() appends to the caller's vector). dropped() may be read from any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ballast::edge {

struct RateCount {
  uint64_t key_hash = 0;
  uint32_t limit = 0;  // the limit's index among the global limits (RatePolicy::global_limits)
  uint32_t count = 0;  // requests that passed
};

class RateBatch {
 public:
  static constexpr size_t kDefaultKeys = 4096;

  // Holds at most `keys` (at least 1) different (limit, key) pairs between drains.
  explicit RateBatch(size_t keys = kDefaultKeys);

  // One request of `key_hash` under global limit `limit`: counted when `allowed`.
  void record(uint32_t limit, uint64_t key_hash, bool allowed) noexcept;

  // Appends every (limit, key) recorded since the last drain to `out` and empties the table.
  void drain(std::vector<RateCount>& out);

  size_t size() const noexcept { return used_count_; }
  // Requests whose key found the table full, since construction.
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  static constexpr uint32_t kFree = UINT32_MAX;  // a slot's limit when it holds no key

  size_t home_of(uint32_t limit, uint64_t key_hash) const noexcept;

  std::unique_ptr<RateCount[]> slots_;
  const size_t mask_;                 // slots - 1
  std::unique_ptr<uint32_t[]> used_;  // the indexes of the slots in use, in arrival order
  const size_t capacity_;
  size_t used_count_ = 0;
  std::atomic<uint64_t> dropped_{0};  // written by the worker only
};

}  // namespace ballast::edge
