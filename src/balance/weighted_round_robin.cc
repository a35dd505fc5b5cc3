#include "balance/weighted_round_robin.h"

#include <utility>

#include "balance/round_robin.h"

namespace ballast::balance {

WeightedRoundRobin::WeightedRoundRobin(std::vector<uint32_t> weights)
    : Policy(std::move(weights)) {}

ServerIndex WeightedRoundRobin::pick(const PickContext& ctx) noexcept {
  if (current_server_ != kNoServer && picks_made_ < weight(current_server_) &&
      is_eligible(current_server_) && !ctx.excluded.contains(current_server_)) {
    ++picks_made_;
    return current_server_;
  }
  const ServerIndex server = first_choosable_from(current_server_ + 1, ctx.excluded);
  if (server == kNoServer) {
    return kNoServer;
  }
  current_server_ = server;
  picks_made_ = 1;
  return server;
}

}  // namespace ballast::balance
