#include "edge/rate_batch.h"

#include <algorithm>
#include <bit>

namespace ballast::edge {
namespace {

// Spreads the limit's index over the high bits, so one key under two limits lands apart.
constexpr uint64_t kLimitMix = 0x9E37'79B9'7F4A'7C15;

size_t slots_for(size_t keys) {
  return std::bit_ceil(std::max<size_t>(keys, 1) * 2);
}

}  // namespace

RateBatch::RateBatch(size_t keys)
    : slots_(std::make_unique<RateCount[]>(slots_for(keys))),
      mask_(slots_for(keys) - 1),
      used_(std::make_unique<uint32_t[]>(std::max<size_t>(keys, 1))),
      capacity_(std::max<size_t>(keys, 1)) {
  for (size_t i = 0; i <= mask_; ++i) {
    slots_[i].limit = kFree;
  }
}

size_t RateBatch::home_of(uint32_t limit, uint64_t key_hash) const noexcept {
  const uint64_t mixed = key_hash ^ (limit * kLimitMix);
  return (mixed ^ (mixed >> 32)) & mask_;
}

void RateBatch::record(uint32_t limit, uint64_t key_hash, bool allowed) noexcept {
  // At most half the slots are in use, so the probe meets a free slot soon.
  for (size_t i = home_of(limit, key_hash);; i = (i + 1) & mask_) {
    RateCount& slot = slots_[i];
    if (slot.limit == limit && slot.key_hash == key_hash) {
      slot.count += allowed ? 1 : 0;
      return;
    }
    if (slot.limit != kFree) {
      continue;
    }
    if (used_count_ == capacity_) {
      dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
    slot = {key_hash, limit, allowed ? 1u : 0u};
    used_[used_count_++] = static_cast<uint32_t>(i);
    return;
  }
}

void RateBatch::drain(std::vector<RateCount>& out) {
  for (size_t u = 0; u < used_count_; ++u) {
    RateCount& slot = slots_[used_[u]];
    out.push_back(slot);
    slot.limit = kFree;
  }
  used_count_ = 0;
}

}  // namespace ballast::edge
