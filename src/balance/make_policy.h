#pragma once
// Builds the policy an algorithm names over a set of servers: the one place that maps
// configuration to policy classes (a switch, not a registry).

#include <cstdint>
#include <memory>
#include <span>

#include "balance/algorithm.h"
#include "balance/hash_tables.h"
#include "balance/policy.h"
#include "balance/server_spec.h"

namespace ballast::balance {

// `seed` feeds the policies that sample at random; give each worker its own. `shared`: the
// tier's prebuilt hash tables (hash_tables.h), or null to build them here.
std::unique_ptr<Policy> make_policy(Algorithm algorithm, std::span<const ServerSpec> servers,
                                    uint64_t seed, const TierTables* shared = nullptr);

}  // namespace ballast::balance
