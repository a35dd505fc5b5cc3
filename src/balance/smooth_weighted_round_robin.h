#pragma once
// Smooth weighted round robin: each server gets picks in proportion to its weight, spread out
// instead of in runs. Weights 3,1 give S1 S1 S2 S1, repeating; 5,1,1 give a a b a c a a.
//
// Owns: per-server scheduling state, in one of two forms chosen by fleet size at construction:
// - up to kMaxScanServers servers, nginx's algorithm itself: every eligible, non-excluded server
//   adds its weight to its current_weight; the highest current_weight wins (the first in index
//   order on ties, as nginx compares with a strict >); the winner gives back the total of the
//   weights added. Ineligible and excluded servers are skipped, neither incremented nor counted
//   in the total, exactly as nginx skips peers that are down or already tried, so their share
//   flows to the others smoothly and their current_weight waits for their return.
// - above that, an earliest-deadline-first schedule (earliest_deadline_schedule.h), which gives
//   the same proportions exactly over every cycle of Σw picks and about the same smoothness, at
//   O(log n) per pick instead of nginx's O(n). Its order within a cycle is not nginx's.
// Threading: one worker's instance; no sharing, no atomics.
// Invariant (scan form): the current_weights of the servers taking part in a pick sum to what
//   they summed to before it, so no server drifts away from its share.
// Cost per pick: scan form O(n), n <= kMaxScanServers (13 ns at 10 servers, 35 ns at 32);
//   schedule form O(log n) (about 25 ns at 33 servers, 40 at 1,000, 55 at 10,000). Eligibility and
//   weight changes: O(1) for the scan, O(log n) for the schedule.
// Memory: scan form 8 bytes per server, schedule form 64, beyond the base class.
// Source: nginx, src/http/ngx_http_upstream_round_robin.c, ngx_http_upstream_get_peer().
//   Departures from nginx: no effective_weight (nginx lowers it on failures; here outlier
//   ejection and breakers act through eligibility instead), and a weight change keeps the
//   server's current_weight (open-source nginx changes weights only on reload, from zero).
//   Departure from the seed: its winner gives back the total weight of all servers; nginx's,
//   and this one's, the total of those taking part in the pick.

#include <cstdint>
#include <vector>

#include "balance/earliest_deadline_schedule.h"
#include "balance/policy.h"

namespace ballast::balance {

class SmoothWeightedRoundRobin final : public Policy {
 public:
  // Up to this many servers the policy runs nginx's exact sequence. The scan outgrows the
  // schedule's cost from about 16 servers and the 50 ns per-pick budget at about 48 (35 ns at
  // 32), so 32 keeps every fleet size within budget while small fleets, where an operator can
  // see the order, get nginx's order exactly.
  static constexpr uint32_t kMaxScanServers = 32;

  explicit SmoothWeightedRoundRobin(std::vector<uint32_t> weights);

  ServerIndex pick(const PickContext& ctx) noexcept override;

 private:
  void on_eligibility_changed(ServerIndex server, bool eligible) noexcept override;
  void on_weight_changed(ServerIndex server, uint32_t old_weight) noexcept override;

  bool scans() const noexcept { return size() <= kMaxScanServers; }
  ServerIndex pick_by_scan(const ExcludedServers& excluded) noexcept;

  std::vector<int64_t> current_weights_;  // nginx's current_weight; empty unless scans()
  EarliestDeadlineSchedule schedule_;     // empty if scans()
};

}  // namespace ballast::balance
