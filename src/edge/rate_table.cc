#include "edge/rate_table.h"

#include <algorithm>
#include <bit>

namespace ballast::edge {
namespace {

constexpr uint64_t kNsPerUs = 1'000;
constexpr int kTimeBits = 48;
constexpr uint64_t kTimeMask = (uint64_t{1} << kTimeBits) - 1;

uint64_t tag_of(uint64_t hash) noexcept {
  return (hash >> kTimeBits) | 1;  // never 0: a zero word is a free slot
}

uint64_t word(uint64_t tag, uint64_t tat_us) noexcept {
  return (tag << kTimeBits) | (tat_us & kTimeMask);
}

uint64_t tag_in(uint64_t slot) noexcept {
  return slot >> kTimeBits;
}

uint64_t tat_in(uint64_t slot) noexcept {
  return slot & kTimeMask;
}

uint64_t us_ceil(uint64_t ns) noexcept {
  return (ns + kNsPerUs - 1) / kNsPerUs;
}

}  // namespace

RateLimit make_rate_limit(uint64_t requests, uint64_t period_ns, uint64_t burst) noexcept {
  RateLimit limit;
  limit.interval_ns = std::max<uint64_t>(period_ns / std::max<uint64_t>(requests, 1), 1);
  limit.tolerance_ns = limit.interval_ns * (std::max<uint64_t>(burst, 1) - 1);
  return limit;
}

RateTable::RateTable(size_t slots, uint64_t now_ns)
    : buckets_(std::make_unique<Bucket[]>(slots_for(slots) / kSlotsPerBucket)),
      mask_(slots_for(slots) / kSlotsPerBucket - 1),
      epoch_ns_(now_ns) {
  for (size_t b = 0; b <= mask_; ++b) {
    for (std::atomic<uint64_t>& slot : buckets_[b].slots) {
      slot.store(0, std::memory_order_relaxed);
    }
  }
}

// A worker's cached clock may read a little before the moment the table was made.
uint64_t RateTable::now_us(uint64_t now_ns) const noexcept {
  return now_ns > epoch_ns_ ? (now_ns - epoch_ns_) / kNsPerUs : 0;
}

RateTable::Place RateTable::place_of(Bucket& bucket, uint64_t tag, uint64_t now) noexcept {
  Place victim{nullptr, 0, false};
  uint64_t victim_score = UINT64_MAX;
  for (std::atomic<uint64_t>& slot : bucket.slots) {
    const uint64_t value = slot.load(std::memory_order_relaxed);
    if (value != 0 && tag_in(value) == tag) {
      return {&slot, value, true};
    }
    const uint64_t score = value == 0 || tat_in(value) <= now ? 0 : tat_in(value);
    if (score < victim_score) {
      victim = {&slot, value, false};
      victim_score = score;
    }
  }
  return victim;  // replaces whatever it holds: the new key starts at rest
}

RateVerdict RateTable::check(uint64_t key_hash, const RateLimit& limit, uint64_t now_ns) noexcept {
  Bucket& bucket = buckets_[key_hash & mask_];
  const uint64_t tag = tag_of(key_hash);
  const uint64_t now = now_us(now_ns);
  const uint64_t interval = us_ceil(limit.interval_ns);
  const uint64_t tolerance = limit.tolerance_ns / kNsPerUs;
  for (;;) {
    Place place = place_of(bucket, tag, now);
    const uint64_t tat = place.found ? std::max(tat_in(place.seen), now) : now;
    if (tat - now > tolerance) {
      const uint64_t wait_us = tat - now - tolerance;
      return {false, wait_us * kNsPerUs, 0, (tat - now) * kNsPerUs};
    }
    const uint64_t next = tat + interval;
    if (place.slot->compare_exchange_weak(place.seen, word(tag, next), std::memory_order_relaxed)) {
      const uint64_t used = next - now;  // of tolerance + interval
      const uint64_t room = tolerance + interval > used ? tolerance + interval - used : 0;
      return {true, 0, room / interval, used * kNsPerUs};
    }
    // Another worker changed the bucket meanwhile: look again.
  }
}

void RateTable::charge(uint64_t key_hash, const RateLimit& limit, uint64_t count,
                       uint64_t now_ns) noexcept {
  Bucket& bucket = buckets_[key_hash & mask_];
  const uint64_t tag = tag_of(key_hash);
  const uint64_t now = now_us(now_ns);
  // Never further ahead than the counts of one whole table epoch could say (48 bits of µs).
  const uint64_t added =
      std::min(count, kTimeMask / 4 / us_ceil(limit.interval_ns)) * us_ceil(limit.interval_ns);
  for (;;) {
    Place place = place_of(bucket, tag, now);
    const uint64_t tat = place.found ? std::max(tat_in(place.seen), now) : now;
    if (place.slot->compare_exchange_weak(place.seen, word(tag, tat + added),
                                          std::memory_order_relaxed)) {
      return;
    }
  }
}

}  // namespace ballast::edge
