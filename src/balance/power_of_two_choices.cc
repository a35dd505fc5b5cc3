#include "balance/power_of_two_choices.h"

namespace ballast::balance {

PowerOfTwoChoices::PowerOfTwoChoices(std::vector<uint32_t> weights, uint64_t seed)
    : Policy(std::move(weights)),
      tree_(this->weights()),
      active_requests_(size(), 0),
      random_(seed) {}

ServerIndex PowerOfTwoChoices::pick(const PickContext& ctx) noexcept {
  const WeightTree::Pair drawn = tree_.sample_two(random_, ctx.excluded);
  if (drawn.second == kNoServer) {
    return drawn.first;
  }
  // active_first / weight_first vs active_second / weight_second, cross-multiplied: exact, and
  // no division on the hot path. Each product fits: 32 bits times 32 bits.
  const uint64_t load_first = uint64_t{active_requests_[drawn.first]} * weight(drawn.second);
  const uint64_t load_second = uint64_t{active_requests_[drawn.second]} * weight(drawn.first);
  return load_second < load_first ? drawn.second : drawn.first;
}

void PowerOfTwoChoices::on_attempt_start(ServerIndex server) noexcept {
  ++active_requests_[server];
}

void PowerOfTwoChoices::on_attempt_end(ServerIndex server,
                                       const AttemptOutcome& /*outcome*/) noexcept {
  // Saturate rather than wrap: an unmatched end must not make a server look infinitely busy.
  if (active_requests_[server] > 0) {
    --active_requests_[server];
  }
}

void PowerOfTwoChoices::on_eligibility_changed(ServerIndex server, bool eligible) noexcept {
  tree_.set(server, eligible ? weight(server) : 0);
}

void PowerOfTwoChoices::on_weight_changed(ServerIndex server, uint32_t /*old_weight*/) noexcept {
  if (is_eligible(server)) {
    tree_.set(server, weight(server));
  }
}

}  // namespace ballast::balance
