#pragma once
// Weighted round robin, the simple "expanded" kind: each server takes `weight` consecutive
// picks, then the next server in index order does. Weights 5,3,2 give S1×5, S2×3, S3×2, repeat.
//
// Owns: the server whose run is in progress and how many picks that run has made.
// Threading: one worker's instance; no sharing, no atomics.
// Invariant: the sequence is exactly that of the seed's expanded circular list
// [S1 ×w1, S2 ×w2, …] walked by a cursor that skips ineligible and excluded entries. Skipping
// the current server (ineligible, or excluded by this request) moves the cursor to the next
// server's first entry, so the rest of that run is given up, as it would be in the list.
// A run lasts while its picks are fewer than the server's weight now, so a weight change of
// the running server resizes its run and keeps the picks already made; others' runs simply
// start with their new weight.
// Cost per pick: O(1) inside a run; at a run boundary one Policy::first_choosable_from (see
// round_robin.h). Memory is O(1) beyond the base class.
// Source: the seed's Layer 3 (a circular list with each server repeated `weight` times).
// Departure from the seed: the expanded list is not built, since its size is the sum of the
// weights, unbounded by the fleet size; (server, picks made) produces the same sequence.

#include <cstdint>
#include <vector>

#include "balance/policy.h"

namespace ballast::balance {

class WeightedRoundRobin final : public Policy {
 public:
  explicit WeightedRoundRobin(std::vector<uint32_t> weights);

  ServerIndex pick(const PickContext& ctx) noexcept override;

 private:
  // kNoServer before the first pick: kNoServer + 1 wraps to 0, where the first run starts.
  ServerIndex current_server_ = kNoServer;
  uint32_t picks_made_ = 0;  // in current_server_'s run
};

}  // namespace ballast::balance
