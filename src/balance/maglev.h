#pragma once
// Maglev consistent hashing (`maglev`): a lookup table of prime size M in which every server
// owns a share of the slots proportional to its weight; a key goes to table[hash(key) % M].
//
// Owns: the lookup table, built once from the servers' names and weights by
// build_maglev_table(), a pure function.
//
// Threading: one worker's instance; no sharing. The table is immutable after construction.
//
// Invariant: M is the smallest prime at or above the power of two >= max(kMinTableSlots,
// kSlotsPerServer * servers). Each server fills slots in the order of its own permutation
// (offset + j * skip) % M, from two hashes of its name, taking turns with the others, so with
// equal weights every server owns floor(M / n) or ceil(M / n) slots. M changes only when
// 100 n crosses a power of two (M stays 65,537 up to 655 servers), because a new M reshuffles
// every key.
// Removing one server of n moves its keys plus a few more: measured, 1.04 / n of the keys at
// n = 10, 1.6 / n at n = 100, 7 / n at n = 1,000 (the ring hash moves exactly 1 / n). That
// is the paper's trade: near-perfect balance and an O(1) lookup for some extra disruption.
//
// Cost per pick: one key hash, one modulo and one table read, O(1). An ineligible or excluded
// server's slot sends the key to the next slot (hash + 1, + 2, ...) whose server qualifies:
// the table interleaves servers, so those keys spread over the others, and no other key moves.
// The probe stops after kMaxProbes slots, then falls back to the next eligible, non-excluded
// server by index from a position the key's hash picks (deterministic per key). Eligibility
// changes cost nothing: a flapping server never rebuilds the table.
//
// Weights are read when the table is built; a weight change takes effect when the control side
// builds a new instance, as for membership (Envoy rebuilds its table on any host-set change).
//
// Source: Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI
// 2016, section 3.4 (Pseudocode 1); weights as in Envoy's maglev_lb.cc: with weights normalised
// to the largest, a server of weight w takes a slot only on every max / w turns. Katran's
// MaglevHashV2 is the model for the table as a pure function. Departures: the paper evaluates
// M = 65,537 and asks for M > 100 n (at most about 1% imbalance); here M grows with the fleet
// along a ladder of primes near powers of two; and the bounded probe past ineligible servers is
// ours (the paper rebuilds the table when a backend fails).

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "balance/policy.h"
#include "balance/server_spec.h"

namespace ballast::balance {

class Maglev final : public Policy {
 public:
  static constexpr uint64_t kMinTableSlots = 65'536;
  static constexpr uint64_t kSlotsPerServer = 100;
  static constexpr uint32_t kMaxProbes = 64;

  // The lookup table depends only on the servers' names and weights: one is built per
  // configuration generation and shared read-only by every worker's policy.
  using Table = std::vector<ServerIndex>;

  explicit Maglev(std::span<const ServerSpec> servers);
  // Over a table built for `servers` (shared with other workers' policies).
  Maglev(std::span<const ServerSpec> servers, std::shared_ptr<const Table> table);

  ServerIndex pick(const PickContext& ctx) noexcept override;

 private:
  std::shared_ptr<const Table> table_;
};

// M for a fleet of `server_count` servers (see the invariant above).
uint64_t maglev_table_size(uint64_t server_count);

// The lookup table: entry i names the server that owns slot i; empty when `servers` is.
std::vector<ServerIndex> build_maglev_table(std::span<const ServerSpec> servers);

}  // namespace ballast::balance
