#include "balance/balancer.h"

#include "balance/make_policy.h"

namespace ballast::balance {

Balancer::Balancer(Algorithm algorithm, std::span<const ServerSpec> servers, uint64_t seed,
                   const HashTables* shared)
    : places_(servers.size()) {
  for (const bool backup : {false, true}) {
    std::vector<ServerSpec> tier_servers;
    std::vector<ServerIndex> members;
    for (ServerIndex i = 0; i < servers.size(); ++i) {
      if (servers[i].backup == backup) {
        places_[i] = {static_cast<uint32_t>(tiers_.size()),
                      static_cast<ServerIndex>(members.size())};
        members.push_back(i);
        tier_servers.push_back(servers[i]);
      }
    }
    if (!members.empty()) {
      const uint64_t tier_seed = seed + tiers_.size();
      const TierTables* tables = shared == nullptr ? nullptr : &shared->tiers[backup ? 1 : 0];
      tiers_.push_back(
          {make_policy(algorithm, tier_servers, tier_seed, tables), std::move(members)});
    }
  }
}

ServerIndex Balancer::pick(const PickContext& ctx) noexcept {
  for (uint32_t t = 0; t < tiers_.size(); ++t) {
    Tier& tier = tiers_[t];
    if (tier.policy->eligible_count() == 0) {
      continue;
    }
    PickContext local = ctx;
    local.excluded = {};
    for (uint32_t i = 0; i < ctx.excluded.size(); ++i) {
      const Place place = places_[ctx.excluded[i]];
      if (place.tier == t) {
        local.excluded.add(place.local);
      }
    }
    const ServerIndex chosen = tier.policy->pick(local);
    if (chosen != kNoServer) {
      return tier.members[chosen];
    }
  }
  return kNoServer;
}

void Balancer::on_attempt_start(ServerIndex server) noexcept {
  policy_of(server).on_attempt_start(places_[server].local);
}

void Balancer::on_attempt_end(ServerIndex server, const AttemptOutcome& outcome) noexcept {
  policy_of(server).on_attempt_end(places_[server].local, outcome);
}

void Balancer::set_eligible(ServerIndex server, bool eligible) noexcept {
  policy_of(server).set_eligible(places_[server].local, eligible);
}

void Balancer::set_weight(ServerIndex server, uint32_t weight) noexcept {
  policy_of(server).set_weight(places_[server].local, weight);
}

}  // namespace ballast::balance
