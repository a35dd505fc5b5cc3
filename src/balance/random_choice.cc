#include "balance/random_choice.h"

namespace ballast::balance {

RandomChoice::RandomChoice(std::vector<uint32_t> weights, uint64_t seed)
    : Policy(std::move(weights)), tree_(this->weights()), random_(seed) {}

ServerIndex RandomChoice::pick(const PickContext& ctx) noexcept {
  return tree_.sample(random_, ctx.excluded);
}

void RandomChoice::on_eligibility_changed(ServerIndex server, bool eligible) noexcept {
  tree_.set(server, eligible ? weight(server) : 0);
}

void RandomChoice::on_weight_changed(ServerIndex server, uint32_t /*old_weight*/) noexcept {
  if (is_eligible(server)) {
    tree_.set(server, weight(server));
  }
}

}  // namespace ballast::balance
