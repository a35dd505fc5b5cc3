#pragma once
// A cluster's server choice: one policy over the primary servers and one over the backup
// servers, tried in that order, so a backup takes traffic only while no primary is eligible
// (HAProxy's `backup`, nginx's `backup`).
//
// Callers speak in cluster-wide server indices (positions in the ServerSpec list); each tier's
// policy works on its own dense local indices, so hash tables and schedules cover only the
// servers they can choose.
//
// Threading: like Policy, a Balancer belongs to one worker and is never shared.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "balance/algorithm.h"
#include "balance/hash_tables.h"
#include "balance/policy.h"
#include "balance/server_spec.h"

namespace ballast::balance {

class Balancer {
 public:
  // `shared`: the cluster's prebuilt hash tables (hash_tables.h), or null to build them here.
  Balancer(Algorithm algorithm, std::span<const ServerSpec> servers, uint64_t seed,
           const HashTables* shared = nullptr);

  // An eligible server not in ctx.excluded (cluster indices), preferring primaries; kNoServer
  // when there is none in any tier.
  ServerIndex pick(const PickContext& ctx) noexcept;

  void on_attempt_start(ServerIndex server) noexcept;
  void on_attempt_end(ServerIndex server, const AttemptOutcome& outcome) noexcept;
  void set_eligible(ServerIndex server, bool eligible) noexcept;
  bool is_eligible(ServerIndex server) const noexcept {
    return tiers_[places_[server].tier].policy->is_eligible(places_[server].local);
  }
  void set_weight(ServerIndex server, uint32_t weight) noexcept;

  uint32_t size() const noexcept { return static_cast<uint32_t>(places_.size()); }

 private:
  struct Tier {
    std::unique_ptr<Policy> policy;
    std::vector<ServerIndex> members;  // local index -> cluster index
  };
  struct Place {
    uint32_t tier;
    ServerIndex local;
  };

  Policy& policy_of(ServerIndex server) noexcept { return *tiers_[places_[server].tier].policy; }

  std::vector<Tier> tiers_;    // primary first, then backup; empty tiers are left out
  std::vector<Place> places_;  // cluster index -> tier and local index
};

}  // namespace ballast::balance
