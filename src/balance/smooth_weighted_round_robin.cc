#include "balance/smooth_weighted_round_robin.h"

#include <cstdint>
#include <span>
#include <utility>

namespace ballast::balance {

SmoothWeightedRoundRobin::SmoothWeightedRoundRobin(std::vector<uint32_t> weights)
    : Policy(std::move(weights)),
      current_weights_(scans() ? size() : 0, 0),
      schedule_(scans() ? std::span<const uint32_t>() : std::span(Policy::weights())) {}

ServerIndex SmoothWeightedRoundRobin::pick(const PickContext& ctx) noexcept {
  return scans() ? pick_by_scan(ctx.excluded) : schedule_.pick(ctx.excluded);
}

// nginx's loop. The winner is tracked with a select rather than a branch: where the maximum
// sits is data-dependent, and mispredictions dominated the scan's cost. Arrays are read
// through local pointers so the compiler need not reload them after each store.
ServerIndex SmoothWeightedRoundRobin::pick_by_scan(const ExcludedServers& excluded) noexcept {
  const EligibleSet& eligible_servers = eligible();
  const uint32_t* const server_weights = weights().data();
  int64_t* const current_weights = current_weights_.data();
  const uint32_t server_count = size();
  const bool any_excluded = !excluded.empty();
  ServerIndex best = kNoServer;
  int64_t best_current_weight = INT64_MIN;
  int64_t total_weight = 0;
  for (ServerIndex server = 0; server < server_count; ++server) {
    if (!eligible_servers.contains(server) || (any_excluded && excluded.contains(server))) {
      continue;
    }
    const int64_t server_weight = server_weights[server];
    const int64_t current_weight = current_weights[server] + server_weight;
    current_weights[server] = current_weight;
    total_weight += server_weight;
    const bool better = current_weight > best_current_weight;  // strict: first wins ties
    best = better ? server : best;
    best_current_weight = better ? current_weight : best_current_weight;
  }
  if (best != kNoServer) {
    current_weights[best] -= total_weight;
  }
  return best;
}

void SmoothWeightedRoundRobin::on_eligibility_changed(ServerIndex server, bool eligible) noexcept {
  if (scans()) {
    return;  // the scan reads eligibility itself
  }
  if (eligible) {
    schedule_.insert(server);
  } else {
    schedule_.remove(server);
  }
}

void SmoothWeightedRoundRobin::on_weight_changed(ServerIndex server,
                                                 uint32_t /*old_weight*/) noexcept {
  if (!scans()) {
    schedule_.set_weight(server, weight(server));
  }
}

}  // namespace ballast::balance
