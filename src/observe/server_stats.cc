#include "observe/server_stats.h"

#include <algorithm>

namespace ballast::observe {
namespace {

constexpr double kNsPerSecond = 1e9;

// Bucket bounds in nanoseconds, for a comparison per bound on the hot path.
constexpr std::array<uint64_t, kDurationBoundsSeconds.size()> bounds_ns() {
  std::array<uint64_t, kDurationBoundsSeconds.size()> bounds{};
  for (size_t i = 0; i < bounds.size(); ++i) {
    bounds[i] = static_cast<uint64_t>(kDurationBoundsSeconds[i] * kNsPerSecond);
  }
  return bounds;
}
constexpr auto kBoundsNs = bounds_ns();

}  // namespace

void ServerShard::record_response(uint16_t status, uint64_t duration_ns) noexcept {
  responses[status_class_index(status)].add();
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(kBoundsNs.begin(), kBoundsNs.end(), duration_ns) - kBoundsNs.begin());
  duration_buckets[bucket].add();
  duration_ns_sum.add(duration_ns);
}

uint64_t ServerTotals::response_count() const noexcept {
  uint64_t count = 0;
  for (const uint64_t bucket : duration_buckets) {
    count += bucket;
  }
  return count;
}

double ServerTotals::duration_quantile_seconds(double quantile) const noexcept {
  const uint64_t count = response_count();
  if (count == 0) {
    return 0.0;
  }
  const double rank = std::clamp(quantile, 0.0, 1.0) * static_cast<double>(count);
  uint64_t below = 0;
  for (size_t i = 0; i < kDurationBuckets; ++i) {
    const uint64_t in_bucket = duration_buckets[i];
    if (static_cast<double>(below + in_bucket) >= rank && in_bucket != 0) {
      if (i == kDurationBoundsSeconds.size()) {
        return kDurationBoundsSeconds.back();  // +Inf: the highest finite bound, as Prometheus
      }
      const double lower = i == 0 ? 0.0 : kDurationBoundsSeconds[i - 1];
      const double upper = kDurationBoundsSeconds[i];
      const double within = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
      return lower + (upper - lower) * within;
    }
    below += in_bucket;
  }
  return kDurationBoundsSeconds.back();
}

ServerStats::ServerStats(uint32_t workers)
    : workers_(std::max<uint32_t>(workers, 1)), shards_(new ServerShard[workers_]) {}

ServerTotals ServerStats::totals() const noexcept {
  ServerTotals totals;
  for (uint32_t w = 0; w < workers_; ++w) {
    const ServerShard& shard = shards_[w];
    for (size_t i = 0; i < kStatusClasses; ++i) {
      totals.responses[i] += shard.responses[i].get();
    }
    for (size_t i = 0; i < kDurationBuckets; ++i) {
      totals.duration_buckets[i] += shard.duration_buckets[i].get();
    }
    totals.duration_ns_sum += shard.duration_ns_sum.get();
    for (size_t i = 0; i < totals.failures.size(); ++i) {
      totals.failures[i] += shard.failures[i].get();
    }
    totals.retries += shard.retries.get();
    totals.bytes_received += shard.bytes_received.get();
    totals.bytes_sent += shard.bytes_sent.get();
    totals.checks_passed += shard.checks_passed.get();
    totals.checks_failed += shard.checks_failed.get();
    totals.ejections += shard.ejections.get();
    totals.breaker_openings += shard.breaker_openings.get();
  }
  return totals;
}

ClusterStats::ClusterStats(uint32_t workers)
    : workers_(std::max<uint32_t>(workers, 1)), shards_(new ClusterShard[workers_]) {}

std::array<uint64_t, kStatusClasses> ClusterStats::local_responses() const noexcept {
  std::array<uint64_t, kStatusClasses> totals{};
  for (uint32_t w = 0; w < workers_; ++w) {
    for (size_t i = 0; i < kStatusClasses; ++i) {
      totals[i] += shards_[w].local_responses[i].get();
    }
  }
  return totals;
}

uint64_t ClusterStats::retries() const noexcept {
  return sum(&ClusterShard::retries);
}

uint64_t ClusterStats::sum(Counter ClusterShard::*counter) const noexcept {
  uint64_t total = 0;
  for (uint32_t w = 0; w < workers_; ++w) {
    total += (shards_[w].*counter).get();
  }
  return total;
}

}  // namespace ballast::observe
