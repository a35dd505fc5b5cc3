#include "balance/make_policy.h"

#include <vector>

#include "balance/least_connections.h"
#include "balance/maglev.h"
#include "balance/peak_ewma.h"
#include "balance/power_of_two_choices.h"
#include "balance/random_choice.h"
#include "balance/ring_hash.h"
#include "balance/round_robin.h"
#include "balance/smooth_weighted_round_robin.h"
#include "balance/weighted_round_robin.h"

namespace ballast::balance {

std::unique_ptr<Policy> make_policy(Algorithm algorithm, std::span<const ServerSpec> servers,
                                    uint64_t seed, const TierTables* shared) {
  std::vector<uint32_t> weights = weights_of(servers);
  switch (algorithm) {
    case Algorithm::round_robin:
      return std::make_unique<RoundRobin>(std::move(weights));
    case Algorithm::weighted_round_robin:
      return std::make_unique<WeightedRoundRobin>(std::move(weights));
    case Algorithm::smooth_weighted_round_robin:
      return std::make_unique<SmoothWeightedRoundRobin>(std::move(weights));
    case Algorithm::least_connections:
      return std::make_unique<LeastConnections>(std::move(weights),
                                                LeastConnections::Mode::unweighted);
    case Algorithm::weighted_least_connections:
      return std::make_unique<LeastConnections>(std::move(weights),
                                                LeastConnections::Mode::weighted);
    case Algorithm::random:
      return std::make_unique<RandomChoice>(std::move(weights), seed);
    case Algorithm::p2c:
      return std::make_unique<PowerOfTwoChoices>(std::move(weights), seed);
    case Algorithm::adaptive:
      return std::make_unique<PeakEwma>(std::move(weights), seed);
    case Algorithm::ip_hash:
    case Algorithm::consistent_hash:
      return shared != nullptr && shared->ring != nullptr
                 ? std::make_unique<RingHash>(servers, shared->ring)
                 : std::make_unique<RingHash>(servers);
    case Algorithm::maglev:
      return shared != nullptr && shared->maglev != nullptr
                 ? std::make_unique<Maglev>(servers, shared->maglev)
                 : std::make_unique<Maglev>(servers);
  }
  return nullptr;  // unreachable: the switch covers every Algorithm
}

}  // namespace ballast::balance
