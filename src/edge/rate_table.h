#pragma once
// Request rate limits, one count per key across every worker: GCRA (the generic cell rate
// algorithm; a token bucket told as one timestamp per key) in a table of fixed size.
//
// Per key the table keeps the "theoretical arrival time" (TAT): when the key's allowance is
// back to full minus one request. A request at `now` passes when TAT - now <= tolerance
// ((burst - 1) intervals), and moves TAT to max(TAT, now) + interval (interval = period / rate).
// So `burst` requests pass at once from rest, then one per interval.
//
// The table: one 64-bit word per key — a 16-bit tag from the key's hash and the TAT in
// microseconds since the table was made (48 bits: 8.9 years) — in buckets of eight, one cache
// line each, chosen by the hash. A key is looked for in its bucket only; a new key takes a slot
// that is free or whose TAT has passed (such a key is at rest: forgetting it changes nothing),
// else the slot with the earliest TAT (that key starts afresh: the table errs towards letting
// requests through, never towards refusing one it should not). Two keys whose hashes share a
// bucket and a tag share one count (about one pair in 2^16 per bucket): that can refuse early.
// Memory is the table's and no more, whatever the number of keys: 8 bytes a slot.
//
// Threading: shared by all workers; every slot an atomic, updated by compare-and-swap. No lock,
// no allocation after construction. Owned by the process's control side, which makes it once
// from the configuration.

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ballast::edge {

struct RateLimit {
  uint64_t interval_ns = 0;   // period / rate: the spacing of requests at the limit
  uint64_t tolerance_ns = 0;  // (burst - 1) * interval_ns

  bool operator==(const RateLimit&) const = default;
};

// `requests` per `period_ns`, `burst` at once from rest (at least 1).
RateLimit make_rate_limit(uint64_t requests, uint64_t period_ns, uint64_t burst) noexcept;

struct RateVerdict {
  bool allowed = false;
  uint64_t retry_after_ns = 0;  // refused: when one more would pass
  uint64_t remaining = 0;       // requests that would pass now, after this one
  uint64_t reset_ns = 0;        // until the key is at rest again (its whole burst back)
};

class RateTable {
 public:
  static constexpr size_t kSlotsPerBucket = 8;

  // At least `slots` slots (rounded up to a power-of-two number of buckets); `now_ns` is the
  // monotonic clock's reading, the epoch of the stored times.
  RateTable(size_t slots, uint64_t now_ns);

  // Counts one request of the key whose hash is `key_hash` against `limit`, at `now_ns` (the
  // monotonic clock; not before the table was made).
  RateVerdict check(uint64_t key_hash, const RateLimit& limit, uint64_t now_ns) noexcept;

  // Counts `count` requests of the key that passed elsewhere (another instance of the fleet) as
  // if they had passed here at `now_ns`: moves the key's TAT on by count intervals, without a
  // verdict. The key's next requests here wait for them.
  void charge(uint64_t key_hash, const RateLimit& limit, uint64_t count, uint64_t now_ns) noexcept;

  // The slots a table asked for `slots` has.
  static size_t slots_for(size_t slots) noexcept {
    const size_t buckets = (slots + kSlotsPerBucket - 1) / kSlotsPerBucket;
    return std::bit_ceil(std::max<size_t>(buckets, 1)) * kSlotsPerBucket;
  }
  size_t slots() const noexcept { return (mask_ + 1) * kSlotsPerBucket; }
  size_t memory_bytes() const noexcept { return slots() * sizeof(uint64_t); }

 private:
  struct alignas(64) Bucket {
    std::atomic<uint64_t> slots[kSlotsPerBucket];
  };

  // Where the key is, or the slot it is to take (free or at rest first, else the earliest TAT),
  // and the word seen there (0 for a key not found: it starts at rest).
  struct Place {
    std::atomic<uint64_t>* slot;
    uint64_t seen;
    bool found;
  };
  Place place_of(Bucket& bucket, uint64_t tag, uint64_t now_us) noexcept;
  uint64_t now_us(uint64_t now_ns) const noexcept;

  std::unique_ptr<Bucket[]> buckets_;
  const size_t mask_;  // buckets - 1
  const uint64_t epoch_ns_;
};

}  // namespace ballast::edge
