#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ballast::load {

uint32_t LatencyHistogram::bucket_of(uint64_t micros) noexcept {
  if (micros < kSubBuckets)
    return static_cast<uint32_t>(micros);  // below 128 µs: one bucket per microsecond
  const uint32_t exponent = static_cast<uint32_t>(std::bit_width(micros)) - 1;  // >= 7
  const uint32_t shift = exponent - kSubBucketBits;
  const auto sub = static_cast<uint32_t>(micros >> shift) - kSubBuckets;  // 0..127
  return kSubBuckets * (shift + 1) + sub;
}

uint64_t LatencyHistogram::bucket_midpoint_ns(uint32_t bucket) noexcept {
  if (bucket < kSubBuckets)
    return uint64_t{bucket} * 1000 + 500;
  const uint32_t shift = bucket / kSubBuckets - 1;
  const uint64_t low = (uint64_t{kSubBuckets} + bucket % kSubBuckets) << shift;
  const uint64_t width = uint64_t{1} << shift;
  return low * 1000 + width * 500;
}

void LatencyHistogram::record_ns(uint64_t ns) noexcept {
  ns = std::min(ns, kHighestNs);
  ++counts_[bucket_of(ns / 1000)];
  ++count_;
  max_ns_ = std::max(max_ns_, ns);
  min_ns_ = std::min(min_ns_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  if (other.count_ == 0)
    return;
  for (uint32_t i = 0; i < kBuckets; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ns_ = std::max(max_ns_, other.max_ns_);
  min_ns_ = std::min(min_ns_, other.min_ns_);
}

uint64_t LatencyHistogram::quantile_ns(double q) const noexcept {
  if (count_ == 0)
    return 0;
  if (q >= 1.0)
    return max_ns_;
  if (q <= 0.0)
    return min_ns_;
  const auto wanted = static_cast<double>(count_) * q;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(wanted)));
  uint64_t seen = 0;
  for (uint32_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank)
      return std::clamp(bucket_midpoint_ns(i), min_ns(), max_ns_);
  }
  return max_ns_;  // not reached: the counts add up to count_
}

}  // namespace ballast::load
