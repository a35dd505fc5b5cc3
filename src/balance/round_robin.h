#pragma once
// Round robin: servers take turns in index order, one pick each, whatever their weights.
//
// Owns: a cursor, the server the rotation tries first on the next pick.
// Threading: one worker's instance; no sharing, no atomics.
// Invariant: the rotation never restarts. A pick returns the first eligible, non-excluded
// server at or after the cursor (wrapping) and moves the cursor just past it, so servers that
// leave and return resume their turn in order, and no server gets two turns while another
// eligible one waits.
// Cost per pick: one EligibleSet::next_from (a word per 64 servers, O(1) on a mostly-eligible
// fleet), plus one more per excluded server passed, at most ExcludedServers::kCapacity more.
// Source: the seed's Layer 1 (nginx's rotation when all weights are equal); the seed's circular
// linked list becomes an index cursor over the eligibility bitset, so a server leaving or returning
// is a bit flip rather than a list splice.

#include <cstdint>
#include <vector>

#include "balance/policy.h"

namespace ballast::balance {

class RoundRobin final : public Policy {
 public:
  // Weights are kept for the factory's sake and ignored by the rotation.
  explicit RoundRobin(std::vector<uint32_t> weights);

  ServerIndex pick(const PickContext& ctx) noexcept override;

 private:
  uint32_t next_server_ = 0;  // may equal size(): next_from wraps it to the first server
};

}  // namespace ballast::balance
