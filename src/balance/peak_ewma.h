#pragma once
// `adaptive`: latency-aware power of two choices over a peak-sensitive EWMA of each server's
// response latency, as Finagle's P2CPeakEwma and Linkerd do.
//
// Owns: a WeightTree over the servers' weights (ineligible ones counted 0), per server its
// latency estimate, the time of its last update and its active request count, a fleet-wide
// latency average, and the generator.
// Threading: one instance per worker, never shared; estimates are built from this worker's
// attempts only.
// Invariant: the tree counts exactly the eligible servers, each with its current weight; a
// server's estimate is a function of its observations and of the time elapsed since the last.
//
// The estimate (Finagle's PeakEwma): it decays toward zero with the time elapsed since the
// last answer, and is read that way (at PickContext::now_ns), so a server that was slow, and so
// got no traffic, becomes cheap again after a while, is probed, and regains its share if its
// answers are fast — without the decay it would starve forever. An answer slower than the
// decayed estimate replaces it at once (quick to notice a slow server); a faster one pulls it
// toward itself with weight 1 - exp(-Δt / τ), Δt the time since the previous answer (cautious
// to forgive). The cost of a server is estimate × (active requests + 1), and each pick
// compares the costs of two distinct servers drawn by weight without replacement (see
// PowerOfTwoChoices); ties go to the first drawn. Weights shape which servers are compared;
// latency and load decide between them.
//
// Departures from Finagle, each for a stated reason:
// - Reading does not write: the estimate is decayed on the fly from its last answer, so picks
//   write no per-server state and the result does not depend on how often a server was read.
//   Finagle's reads store the decayed value, so there a fast answer blends with the value as
//   of the last read; here it blends with the value decayed to now, over the time since the
//   last answer.
// - A server with no observation yet costs the fleet's average latency (a plain EWMA, gain
//   1/16, over every successful attempt; kInitialLatencyNs before the first one), where Finagle
//   uses 0 or a huge penalty. Neutral, so a new server is tried and its first answers place it;
//   the fleet average leans toward fast servers, since they answer more, which errs toward
//   trying it. Before any answer every server costs the same, so picks follow active requests.
// - A failure is not a fast answer: a failed attempt counts as
//   max(its latency, 2 × max(the server's estimate, the fleet average)), the doubling capped at
//   kMaxFailurePenaltyNs, so a fast-failing server looks at least twice as slow as the fleet,
//   each further failure doubles that, and the cap bounds how long decay takes to forgive it.
//
// Cost per pick: two weighted draws (see WeightTree) and two estimate reads, each a decay
// factor: a short polynomial when the server answered in the last 625 ms, else a libm exp()
// (about 12 ns); the end of an attempt takes one more. About 43 ns with start and end at 1,000
// servers; 36 to 44 bytes per server.
// Source: Finagle's PeakEwma load metric (com.twitter.finagle.loadbalancer), described in
// "Beyond Round Robin: Load Balancing for Latency" (Buoyant, 2016). The seed has no
// latency-aware policy.

#include <cstdint>
#include <vector>

#include "balance/policy.h"
#include "balance/weight_tree.h"
#include "core/random.h"

namespace ballast::balance {

class PeakEwma final : public Policy {
 public:
  // τ: the decay time constant, Finagle's and Linkerd's default. An estimate not refreshed by
  // slower answers falls to 1/e of itself in τ, so a server 10× slower than its peers is probed
  // again after at most about τ · ln 10 ≈ 23 s without traffic (sooner when its peers have
  // requests in flight, which raises their cost).
  static constexpr uint64_t kDecayNs = 10'000'000'000;
  // Any positive value: it only matters that every unobserved server costs the same.
  static constexpr double kInitialLatencyNs = 1'000'000;
  static constexpr double kFleetGain = 1.0 / 16;
  static constexpr double kFailurePenaltyFactor = 2;
  static constexpr double kMaxFailurePenaltyNs = static_cast<double>(kDecayNs);

  PeakEwma(std::vector<uint32_t> weights, uint64_t seed);

  ServerIndex pick(const PickContext& ctx) noexcept override;
  void on_attempt_start(ServerIndex server) noexcept override;
  void on_attempt_end(ServerIndex server, const AttemptOutcome& outcome) noexcept override;

  // The server's estimate as read at now_ns: decayed since its last observation, or the fleet
  // average when it has none.
  double latency_estimate_ns(ServerIndex server, uint64_t now_ns) const noexcept;
  uint32_t active_requests(ServerIndex server) const noexcept {
    return servers_[server].active_requests;
  }

 protected:
  void on_eligibility_changed(ServerIndex server, bool eligible) noexcept override;
  void on_weight_changed(ServerIndex server, uint32_t old_weight) noexcept override;

 private:
  struct ServerState {
    double latency_ns = 0;  // the estimate as of updated_ns
    uint64_t updated_ns = 0;
    uint32_t active_requests = 0;
    bool observed = false;
  };

  double cost(ServerIndex server, uint64_t now_ns) const noexcept;
  double failure_latency_ns(ServerIndex server, const AttemptOutcome& outcome) const noexcept;
  void observe(ServerIndex server, double latency_ns, uint64_t now_ns) noexcept;

  WeightTree tree_;
  std::vector<ServerState> servers_;
  double fleet_latency_ns_ = kInitialLatencyNs;
  bool fleet_observed_ = false;
  core::Random random_;
};

}  // namespace ballast::balance
