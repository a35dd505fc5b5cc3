#include "balance/round_robin.h"

#include <utility>

namespace ballast::balance {

RoundRobin::RoundRobin(std::vector<uint32_t> weights) : Policy(std::move(weights)) {}

ServerIndex RoundRobin::pick(const PickContext& ctx) noexcept {
  const ServerIndex server = first_choosable_from(next_server_, ctx.excluded);
  if (server != kNoServer) {
    next_server_ = server + 1;
  }
  return server;
}

}  // namespace ballast::balance
