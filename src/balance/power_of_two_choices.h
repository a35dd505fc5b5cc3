#pragma once
// `p2c`: the power of two choices. Each pick draws two distinct eligible servers, weighted by
// weight and without replacement, and takes the one with fewer active requests per unit of
// weight; on a tie, the first drawn.
//
// Owns: a WeightTree over the servers' weights (ineligible ones counted 0), each server's active
// request count (from on_attempt_start / on_attempt_end), and the generator.
// Threading: one instance per worker, never shared; the counts are this worker's attempts only,
// as in Envoy's per-worker least-request pickers.
// Invariant: the tree counts exactly the eligible servers, each with its current weight;
// active_requests(s) is the number of attempts started on s and not yet ended.
// Cost per pick: two weighted draws (see WeightTree: bounded rejection-sampling proposals, then
// an exact O(log n) descent) and one comparison; about 30 ns with start and end at 1,000
// servers; 16 to 24 bytes per server. Drawing without replacement matters in small clusters:
// with two servers both are always compared, so the busier one is never chosen while the other
// is less loaded. A server is returned whenever an eligible, non-excluded one exists.
// Source: M. Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing" (2001);
// HAProxy `balance random(2)`, Envoy LEAST_REQUEST (choice_count 2), Finagle P2CLeastLoaded.
// The seed's least-connections keeps every server in a heap ordered by load; sampling two
// keeps nothing ordered, so a start or end is one increment.

#include <cstdint>
#include <vector>

#include "balance/policy.h"
#include "balance/weight_tree.h"
#include "core/random.h"

namespace ballast::balance {

class PowerOfTwoChoices final : public Policy {
 public:
  PowerOfTwoChoices(std::vector<uint32_t> weights, uint64_t seed);

  ServerIndex pick(const PickContext& ctx) noexcept override;
  void on_attempt_start(ServerIndex server) noexcept override;
  void on_attempt_end(ServerIndex server, const AttemptOutcome& outcome) noexcept override;

  uint32_t active_requests(ServerIndex server) const noexcept { return active_requests_[server]; }

 protected:
  void on_eligibility_changed(ServerIndex server, bool eligible) noexcept override;
  void on_weight_changed(ServerIndex server, uint32_t old_weight) noexcept override;

 private:
  WeightTree tree_;
  std::vector<uint32_t> active_requests_;
  core::Random random_;
};

}  // namespace ballast::balance
