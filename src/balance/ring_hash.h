#pragma once
// Consistent hashing on a ketama-style ring (`consistent_hash` and `ip_hash`: the structure is
// the same, the proxy decides which key it puts in PickContext::hash_key).
//
// Owns: the ring, built once from the servers' names and weights: points sorted by hash, each
// naming its server, and a bucket index from the top bits of a hash to the first point at or
// after the bucket's start.
//
// Threading: one worker's instance; no sharing. The ring is immutable after construction.
//
// Invariant: server s owns round(weight_s * scale) points (at least 1), placed on ketama's
// 2^32 circle at the high half of core::hash64(name_s, replica) for replica = 0, 1, ...; a key
// goes to the first point at or after the high half of core::hash64(key), clockwise. `scale`,
// points per unit of weight, is a power of two set by the fleet's size and total weight, so
// adding or removing one server almost never changes it (only when the fleet crosses a power
// of two): every other server's points stay in place and only the changed server's keys move.
//
// Ring size, as Envoy's minimum and maximum ring size: at least kMinRingPoints and
// kPointsPerServer per server (up to twice that, after rounding `scale` up to a power of two),
// so each server's share is within a few percent of its weight; at most kMaxRingPoints, where
// large fleets get fewer points per server (64 each at 10,000 servers).
//
// Cost per pick: one key hash, one bucket read and a scan of one or two points: O(1) expected.
// An ineligible or excluded server's keys walk clockwise to the next point whose server
// qualifies, which is where they would go if the server were removed. The walk stops after
// kMaxWalkPoints points: with a fraction f of the ring unusable, a walk goes that far with
// probability f^64 (0.1% at f = 0.9). Past it, the key falls back to the next eligible,
// non-excluded server by index from a position its hash picks (deterministic per key).
// Eligibility changes cost nothing: a flapping server never rebuilds the ring, and only its
// own keys move.
//
// Weights are read when the ring is built; a weight change takes effect when the control side
// builds a new instance, as for membership (Envoy rebuilds its ring on any host-set change).
//
// Source: ketama (libketama, 2007) and Envoy's ring_hash load balancer (min/max ring size,
// weights as point counts). Departure: the lookup is a bucket index into the sorted points
// instead of Envoy's binary search, so a pick reads two or three cache lines, not twenty.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "balance/policy.h"
#include "balance/server_spec.h"

namespace ballast::balance {

class RingHash final : public Policy {
 public:
  static constexpr uint64_t kMinRingPoints = 16'384;
  static constexpr uint64_t kPointsPerServer = 256;
  static constexpr uint64_t kMaxRingPoints = 1 << 20;
  static constexpr uint32_t kMaxWalkPoints = 64;

  // The ring itself: it depends only on the servers' names and weights, so one is built per
  // configuration generation and shared read-only by every worker's policy.
  class Ring {
   public:
    explicit Ring(std::span<const ServerSpec> servers);
    uint32_t point_count() const noexcept { return static_cast<uint32_t>(points_.size() - 1); }
    uint32_t first_point_at_or_after(uint32_t hash) const noexcept;
    ServerIndex server_at(uint32_t point) const noexcept { return points_[point].server; }

   private:
    // A point of the ring: ketama's 32-bit continuum, the high half of core::hash64. Hash and
    // server share 8 bytes, so the scan and the answer come from one cache line.
    struct Point {
      uint32_t hash;
      ServerIndex server;
    };
    void index_buckets();

    std::vector<Point> points_;  // sorted by (hash, server), then a sentinel of hash UINT32_MAX
    std::vector<uint32_t> bucket_first_point_;
    uint32_t bucket_shift_ = 31;  // hash >> bucket_shift_ is a bucket
  };

  explicit RingHash(std::span<const ServerSpec> servers);
  // Over a ring built for `servers` (shared with other workers' policies).
  RingHash(std::span<const ServerSpec> servers, std::shared_ptr<const Ring> ring);

  ServerIndex pick(const PickContext& ctx) noexcept override;

  uint32_t point_count() const noexcept { return ring_->point_count(); }

 private:
  std::shared_ptr<const Ring> ring_;
};

}  // namespace ballast::balance
