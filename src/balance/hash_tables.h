#pragma once
// The lookup structures of the hash policies — a ketama ring, a Maglev table — for one cluster,
// per tier (primary, backup). They depend only on the servers' names and weights, never on
// eligibility, so the control side builds them once per configuration generation and every
// worker's policy shares them read-only, instead of each worker rebuilding them on its event
// loop at every reload (a Maglev table for 10,000 servers is a million slots).
//
// Threading: built on the control side; immutable afterwards, read by any worker.

#include <array>
#include <memory>
#include <span>
#include <vector>

#include "balance/algorithm.h"
#include "balance/maglev.h"
#include "balance/ring_hash.h"
#include "balance/server_spec.h"

namespace ballast::balance {

struct TierTables {
  std::shared_ptr<const RingHash::Ring> ring;   // ip_hash, consistent_hash
  std::shared_ptr<const Maglev::Table> maglev;  // maglev
};

struct HashTables {
  std::array<TierTables, 2> tiers;  // primary, backup: as Balancer splits the servers
};

// The servers of one tier, in cluster order (the Balancer's local indices).
std::vector<ServerSpec> tier_servers(std::span<const ServerSpec> servers, bool backup);

// Null for an algorithm that hashes nothing.
std::shared_ptr<const HashTables> build_hash_tables(Algorithm algorithm,
                                                    std::span<const ServerSpec> servers);

}  // namespace ballast::balance
