#pragma once
// `random`: each pick draws an eligible server at random, with probability proportional to its
// weight, as HAProxy's `balance random(1)` does (one draw that honours server weights).
//
// Owns: a WeightTree over the servers' weights (ineligible ones counted 0) and the generator.
// Threading: one instance per worker, never shared; the seed gives each worker its own stream
// and lets tests replay exact sequences.
// Invariant: the tree counts exactly the eligible servers, each with its current weight.
// Cost per pick: one weighted draw (see WeightTree): at most 4 rejection-sampling proposals,
// O(1) each, then an O(log n) descent of the tree if all were rejected; no scan. A server is
// returned whenever an eligible, non-excluded one exists. About 14 ns at 1,000 servers;
// 12 to 20 bytes per server.
// Source: HAProxy `balance random(1)` (a random key on its weighted consistent-hash ring); the
// weighted draw itself is WeightTree's. The seed has no random policy.

#include <cstdint>
#include <vector>

#include "balance/policy.h"
#include "balance/weight_tree.h"
#include "core/random.h"

namespace ballast::balance {

class RandomChoice final : public Policy {
 public:
  RandomChoice(std::vector<uint32_t> weights, uint64_t seed);

  ServerIndex pick(const PickContext& ctx) noexcept override;

 protected:
  void on_eligibility_changed(ServerIndex server, bool eligible) noexcept override;
  void on_weight_changed(ServerIndex server, uint32_t old_weight) noexcept override;

 private:
  WeightTree tree_;
  core::Random random_;
};

}  // namespace ballast::balance
