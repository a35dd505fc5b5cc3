#include "balance/ring_hash.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/hash.h"

namespace ballast::balance {
namespace {

// Points per unit of weight: the smallest power of two that reaches the target ring size, then
// halved while the ring would exceed the maximum. Rounding to a power of two absorbs the small
// change one server makes to the fleet's size and weight, so most membership changes leave
// `scale`, and every other server's points, exactly as they were.
double points_per_weight(uint64_t total_weight, uint64_t server_count) {
  if (total_weight == 0) {
    return 1.0;  // no servers, no points
  }
  const double total = static_cast<double>(total_weight);
  const double target = static_cast<double>(
      std::max(RingHash::kMinRingPoints, RingHash::kPointsPerServer * server_count));
  double scale = 1.0;
  while (total * scale < target) {
    scale *= 2.0;
  }
  while (total * scale / 2.0 >= target) {
    scale /= 2.0;
  }
  while (total * scale > static_cast<double>(RingHash::kMaxRingPoints)) {
    scale /= 2.0;
  }
  return scale;
}

// The position on ketama's 32-bit circle: the high half of a 64-bit hash.
uint32_t ring_position(uint64_t hash) {
  return static_cast<uint32_t>(hash >> 32);
}

}  // namespace

RingHash::RingHash(std::span<const ServerSpec> servers)
    : RingHash(servers, std::make_shared<const Ring>(servers)) {}

RingHash::RingHash(std::span<const ServerSpec> servers, std::shared_ptr<const Ring> ring)
    : Policy(weights_of(servers)), ring_(std::move(ring)) {}

RingHash::Ring::Ring(std::span<const ServerSpec> servers) {
  uint64_t total_weight = 0;
  for (const ServerSpec& server : servers) {
    total_weight += server.weight;
  }
  const double scale = points_per_weight(total_weight, servers.size());
  const auto replicas_of = [scale](uint32_t weight) {
    return std::max<uint64_t>(1, std::llround(static_cast<double>(weight) * scale));
  };
  uint64_t total_points = 0;
  for (const ServerSpec& server : servers) {
    total_points += replicas_of(server.weight);
  }
  points_.reserve(total_points + 1);
  for (ServerIndex server = 0; server < servers.size(); ++server) {
    for (uint64_t replica = 0; replica < replicas_of(servers[server].weight); ++replica) {
      points_.push_back({ring_position(core::hash64(servers[server].name, replica)), server});
    }
  }
  // Equal hashes (rare on a 2^32 circle) are ordered by server, so the ring stays deterministic.
  std::sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
    return a.hash < b.hash || (a.hash == b.hash && a.server < b.server);
  });
  points_.push_back({UINT32_MAX, kNoServer});
  index_buckets();
}

ServerIndex RingHash::pick(const PickContext& ctx) noexcept {
  if (eligible_count() == 0) {
    return kNoServer;
  }
  const uint64_t hash = core::hash64(ctx.hash_key);
  uint32_t point = ring_->first_point_at_or_after(ring_position(hash));
  for (uint32_t step = 0; step < kMaxWalkPoints; ++step) {
    const ServerIndex server = ring_->server_at(point);
    if (can_choose(server, ctx.excluded)) {
      return server;
    }
    if (++point == point_count()) {
      point = 0;
    }
  }
  // Past the bound most of the ring is unusable; spread those keys by their hash.
  return first_choosable_from(static_cast<uint32_t>(hash % size()), ctx.excluded);
}

// About two points per bucket: a lookup reads the bucket, then scans a point or two past the
// bucket's first, all within one or two cache lines.
void RingHash::Ring::index_buckets() {
  const uint32_t points = point_count();
  const int bucket_bits = points <= 4 ? 1 : std::bit_width(points - 1) - 1;
  bucket_shift_ = 32 - bucket_bits;
  bucket_first_point_.resize(size_t{1} << bucket_bits);
  uint32_t point = 0;
  for (uint64_t bucket = 0; bucket < bucket_first_point_.size(); ++bucket) {
    while (point < points && points_[point].hash < (bucket << bucket_shift_)) {
      ++point;
    }
    bucket_first_point_[bucket] = point;
  }
}

uint32_t RingHash::Ring::first_point_at_or_after(uint32_t hash) const noexcept {
  uint32_t point = bucket_first_point_[hash >> bucket_shift_];
  // The sentinel (UINT32_MAX) ends the scan; past the last point the ring wraps to the first.
  while (points_[point].hash < hash) {
    ++point;
  }
  return point == point_count() ? 0 : point;
}

}  // namespace ballast::balance
