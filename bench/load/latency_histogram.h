#pragma once
// A latency histogram for ballast-load: log-linear (HDR-style) buckets over microseconds.
//
// Layout: values below 128 µs have a bucket each (1 µs wide); above, every power of two
// [2^k, 2^(k+1)) is split into 128 equal buckets, so a bucket is at most 1/128 of its values
// wide (relative error below 0.8%, below 0.4% with the midpoint reported). The top power of two
// ends at 2^27 µs (about 134 s); larger values are clamped to kHighestNs, min and max included.
//
// Owns: one fixed array of counts (kBuckets 64-bit counters, 21 KiB): recording never allocates.
// Threading: none; a histogram belongs to the one thread that records into it.
// Cost: record() is a count-leading-zeros and two adds; quantile() and merge() walk the array.

#include <array>
#include <cstdint>

namespace ballast::load {

class LatencyHistogram {
 public:
  static constexpr uint32_t kSubBuckets = 128;  // per power of two: the 1/128 relative error
  static constexpr uint32_t kSubBucketBits = 7;
  static constexpr uint32_t kTopExponent = 27;  // values below 2^27 µs are resolved
  static constexpr uint32_t kBuckets = kSubBuckets * (kTopExponent - kSubBucketBits + 1);
  static constexpr uint64_t kHighestNs = ((uint64_t{1} << kTopExponent) - 1) * 1000;

  // Records one latency in nanoseconds (bucketed by whole microseconds).
  void record_ns(uint64_t ns) noexcept;
  // Adds every value of `other` to this one.
  void merge(const LatencyHistogram& other) noexcept;

  uint64_t count() const noexcept { return count_; }
  uint64_t max_ns() const noexcept { return max_ns_; }
  uint64_t min_ns() const noexcept { return count_ == 0 ? 0 : min_ns_; }

  // The value at rank ceil(q * count): the midpoint of its bucket, clamped to [min, max], so
  // quantile(1.0) is exactly the largest value recorded and quantile(0.0) the smallest.
  // 0 when empty.
  uint64_t quantile_ns(double q) const noexcept;

 private:
  static uint32_t bucket_of(uint64_t micros) noexcept;
  static uint64_t bucket_midpoint_ns(uint32_t bucket) noexcept;

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ns_ = 0;
  uint64_t min_ns_ = UINT64_MAX;
};

}  // namespace ballast::load
