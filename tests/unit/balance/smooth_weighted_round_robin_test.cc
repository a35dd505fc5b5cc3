#include "balance/smooth_weighted_round_robin.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "balance/earliest_deadline_schedule.h"
#include "core/random.h"
#include "policy_test_support.h"

namespace ballast::balance {
namespace {

using test_support::excluded_set;
using test_support::excluding;
using test_support::pick_n;

std::vector<ServerIndex> pick_n(EarliestDeadlineSchedule& schedule, uint64_t count) {
  std::vector<ServerIndex> picks;
  for (uint64_t i = 0; i < count; ++i) {
    picks.push_back(schedule.pick({}));
  }
  return picks;
}

std::vector<ServerIndex> repeat(const std::vector<ServerIndex>& cycle, int times) {
  std::vector<ServerIndex> sequence;
  for (int i = 0; i < times; ++i) {
    sequence.insert(sequence.end(), cycle.begin(), cycle.end());
  }
  return sequence;
}

std::vector<uint64_t> counts(const std::vector<ServerIndex>& picks, size_t servers) {
  std::vector<uint64_t> result(servers, 0);
  for (ServerIndex server : picks) {
    ++result.at(server);
  }
  return result;
}

uint64_t total(const std::vector<uint32_t>& weights) {
  return std::accumulate(weights.begin(), weights.end(), uint64_t{0});
}

std::vector<uint32_t> random_weights(core::Random& random, uint32_t servers, uint32_t max_weight) {
  std::vector<uint32_t> weights(servers);
  for (uint32_t& weight : weights) {
    weight = 1 + static_cast<uint32_t>(random.below(max_weight));
  }
  return weights;
}

// nginx's ngx_http_upstream_get_peer(), transcribed: peers that are down or already tried are
// skipped, neither incremented nor counted in the total.
class NginxReference {
 public:
  explicit NginxReference(const std::vector<uint32_t>& weights) {
    for (uint32_t weight : weights) {
      peers_.push_back({weight, 0, false});
    }
  }

  ServerIndex get_peer(const ExcludedServers& tried) {
    Peer* best = nullptr;
    int64_t total = 0;
    for (Peer& peer : peers_) {
      const ServerIndex index = static_cast<ServerIndex>(&peer - peers_.data());
      if (tried.contains(index) || peer.down) {
        continue;
      }
      peer.current_weight += peer.weight;
      total += peer.weight;
      if (best == nullptr || peer.current_weight > best->current_weight) {
        best = &peer;
      }
    }
    if (best == nullptr) {
      return kNoServer;
    }
    best->current_weight -= total;
    return static_cast<ServerIndex>(best - peers_.data());
  }

  void set_down(ServerIndex server, bool down) { peers_[server].down = down; }
  void set_weight(ServerIndex server, uint32_t weight) { peers_[server].weight = weight; }

 private:
  struct Peer {
    int64_t weight;
    int64_t current_weight;
    bool down;
  };
  std::vector<Peer> peers_;
};

// ---- Small fleets: nginx's own algorithm. ----

TEST(SmoothWeightedRoundRobin, ThreeOneGivesS1S1S2S1) {
  SmoothWeightedRoundRobin policy({3, 1});
  EXPECT_EQ(pick_n(policy, 12), repeat({0, 0, 1, 0}, 3));
}

TEST(SmoothWeightedRoundRobin, FiveOneOneGivesNginxsDocumentedSequence) {
  SmoothWeightedRoundRobin policy({5, 1, 1});
  EXPECT_EQ(pick_n(policy, 21), repeat({0, 0, 1, 0, 2, 0, 0}, 3));
}

TEST(SmoothWeightedRoundRobin, ExactProportionsOverEveryCycleForRandomWeights) {
  core::Random random(5);
  for (int trial = 0; trial < 50; ++trial) {
    const uint32_t servers = 1 + static_cast<uint32_t>(random.below(64));
    const std::vector<uint32_t> weights = random_weights(random, servers, 40);
    SmoothWeightedRoundRobin policy(weights);
    const std::vector<ServerIndex> first_cycle = pick_n(policy, total(weights));
    ASSERT_EQ(counts(first_cycle, servers), std::vector<uint64_t>(weights.begin(), weights.end()));
    ASSERT_EQ(pick_n(policy, total(weights)), first_cycle) << "trial " << trial;
  }
}

TEST(SmoothWeightedRoundRobin, IneligibleServerIsSkippedAndItsShareFlowsToTheOthers) {
  SmoothWeightedRoundRobin policy({2, 1, 1, 1});
  EXPECT_EQ(pick_n(policy, 5), (std::vector<ServerIndex>{0, 1, 2, 3, 0}));
  policy.set_eligible(0, false);
  // The others split server 0's share evenly, one turn each.
  EXPECT_EQ(pick_n(policy, 6), (std::vector<ServerIndex>{1, 2, 3, 1, 2, 3}));
  policy.set_eligible(0, true);
  EXPECT_EQ(pick_n(policy, 10), repeat({0, 1, 2, 3, 0}, 2));
}

TEST(SmoothWeightedRoundRobin, ExcludedServerIsNotIncrementedLikeATriedPeer) {
  SmoothWeightedRoundRobin policy({3, 2, 1});
  NginxReference reference({3, 2, 1});
  EXPECT_EQ(pick_n(policy, 6), repeat({0, 1, 0, 2, 1, 0}, 1));
  // Only servers 1 and 2 take part: 1 wins (2 against 1) and gives back 3, not 6; server 0's
  // current_weight stays 0. The cycle that follows is shifted accordingly.
  EXPECT_EQ(policy.pick(excluding({0})), 1u);
  EXPECT_EQ(pick_n(policy, 12), repeat({0, 1, 2, 0, 0, 1}, 2));

  for (int i = 0; i < 6; ++i) {
    reference.get_peer({});
  }
  EXPECT_EQ(reference.get_peer(excluded_set({0})), 1u);
  for (ServerIndex server : repeat({0, 1, 2, 0, 0, 1}, 2)) {
    EXPECT_EQ(reference.get_peer({}), server);
  }
}

TEST(SmoothWeightedRoundRobin, NoServerWhenNothingQualifies) {
  SmoothWeightedRoundRobin empty({});
  EXPECT_EQ(empty.pick({}), kNoServer);

  SmoothWeightedRoundRobin policy({2, 1});
  EXPECT_EQ(policy.pick(excluding({0, 1})), kNoServer);
  policy.set_eligible(1, false);
  EXPECT_EQ(policy.pick(excluding({0})), kNoServer);
  policy.set_eligible(0, false);
  EXPECT_EQ(policy.pick({}), kNoServer);
}

TEST(SmoothWeightedRoundRobin, WeightChangeTakesEffect) {
  SmoothWeightedRoundRobin policy({1, 1});
  EXPECT_EQ(pick_n(policy, 4), repeat({0, 1}, 2));
  policy.set_weight(1, 3);
  EXPECT_EQ(pick_n(policy, 8), repeat({1, 0, 1, 1}, 2));
}

TEST(SmoothWeightedRoundRobin, MatchesNginxUnderRandomFlipsExclusionsAndWeightChanges) {
  core::Random random(17);
  for (int trial = 0; trial < 20; ++trial) {
    const uint32_t servers =
        1 + static_cast<uint32_t>(random.below(SmoothWeightedRoundRobin::kMaxScanServers));
    const std::vector<uint32_t> weights = random_weights(random, servers, 20);
    SmoothWeightedRoundRobin policy(weights);
    NginxReference reference(weights);
    for (int step = 0; step < 3000; ++step) {
      const uint64_t action = random.below(10);
      const ServerIndex server = static_cast<ServerIndex>(random.below(servers));
      if (action == 0) {
        const bool eligible = random.below(3) != 0;
        policy.set_eligible(server, eligible);
        reference.set_down(server, !eligible);
      } else if (action == 1) {
        const uint32_t weight = 1 + static_cast<uint32_t>(random.below(20));
        policy.set_weight(server, weight);
        reference.set_weight(server, weight);
      }
      PickContext ctx;
      for (uint64_t i = random.below(3); i > 0; --i) {
        ctx.excluded.add(static_cast<ServerIndex>(random.below(servers)));
      }
      ASSERT_EQ(policy.pick(ctx), reference.get_peer(ctx.excluded))
          << "trial " << trial << " step " << step;
    }
  }
}

TEST(SmoothWeightedRoundRobin, LargestScannedFleetStillRunsNginxExactly) {
  core::Random random(23);
  const std::vector<uint32_t> weights =
      random_weights(random, SmoothWeightedRoundRobin::kMaxScanServers, 9);
  SmoothWeightedRoundRobin policy(weights);
  NginxReference reference(weights);
  for (uint64_t i = 0; i < 3 * total(weights); ++i) {
    ASSERT_EQ(policy.pick({}), reference.get_peer({}));
  }
}

// ---- Large fleets: the earliest-deadline-first schedule. ----

// Largest |picks_i(T) − T·w_i/W| over every prefix T, and whether every gap between two picks
// of a server stays within factor · W/w_i + 1.
struct Spacing {
  double max_lag = 0;
  double max_gap_over_ideal = 0;
  bool gaps_within_ceil_plus_one = true;
};

Spacing measure(const std::vector<uint32_t>& weights, const std::vector<ServerIndex>& picks) {
  const double total_weight = static_cast<double>(total(weights));
  std::vector<int64_t> last(weights.size(), -1);
  std::vector<uint64_t> picked(weights.size(), 0);
  Spacing spacing;
  for (size_t t = 0; t < picks.size(); ++t) {
    const ServerIndex server = picks[t];
    const double share = weights[server] / total_weight;
    // A server's lag is most negative just before its pick and most positive just after.
    spacing.max_lag = std::max(spacing.max_lag, std::fabs(picked[server] - t * share));
    ++picked[server];
    spacing.max_lag = std::max(spacing.max_lag, std::fabs(picked[server] - (t + 1) * share));
    if (last[server] >= 0) {
      const double gap = static_cast<double>(static_cast<int64_t>(t) - last[server]);
      const double ideal = 1 / share;
      spacing.max_gap_over_ideal = std::max(spacing.max_gap_over_ideal, (gap - 1) / ideal);
      spacing.gaps_within_ceil_plus_one &= gap <= std::ceil(ideal) + 1;
    }
    last[server] = static_cast<int64_t>(t);
  }
  return spacing;
}

TEST(EarliestDeadlineSchedule, ExactProportionsOverEveryCycleAndPeriodW) {
  core::Random random(29);
  for (uint32_t max_weight : {1u, 7u, 100u}) {
    const std::vector<uint32_t> weights = random_weights(random, 1000, max_weight);
    EarliestDeadlineSchedule schedule(weights);
    const std::vector<ServerIndex> first_cycle = pick_n(schedule, total(weights));
    ASSERT_EQ(counts(first_cycle, weights.size()),
              std::vector<uint64_t>(weights.begin(), weights.end()));
    for (int cycle = 1; cycle < 3; ++cycle) {
      ASSERT_EQ(pick_n(schedule, total(weights)), first_cycle) << "cycle " << cycle;
    }
  }
}

TEST(EarliestDeadlineSchedule, EqualWeightsGiveEachServerOneTurnEveryCycle) {
  const std::vector<uint32_t> weights(1000, 4);
  EarliestDeadlineSchedule schedule(weights);
  const std::vector<ServerIndex> picks = pick_n(schedule, 3 * 1000);
  for (size_t t = 1000; t < picks.size(); ++t) {
    ASSERT_EQ(picks[t], picks[t - 1000]);
  }
  const Spacing spacing = measure(weights, picks);
  EXPECT_TRUE(spacing.gaps_within_ceil_plus_one);
  EXPECT_LT(spacing.max_lag, 1.0);
}

// Webster's single phase (deadline (k + 0.5) / w for every server) fails this: the heavy
// server's first 500 picks come in a row.
TEST(EarliestDeadlineSchedule, HeavyServerAmongLightOnesIsSpreadNotBurst) {
  for (uint32_t heavy_weight : {10u, 1000u}) {
    std::vector<uint32_t> weights(1001, 1);
    weights[0] = heavy_weight;
    EarliestDeadlineSchedule schedule(weights);
    const std::vector<ServerIndex> picks = pick_n(schedule, 3 * total(weights));
    const Spacing spacing = measure(weights, picks);
    EXPECT_TRUE(spacing.gaps_within_ceil_plus_one) << heavy_weight;
    EXPECT_LE(spacing.max_lag, 1.0) << heavy_weight;
  }
}

// Neither nginx nor EDF keeps every gap within ceil(W/w_i) + 1 on mixed weights (nginx reaches
// 1.43·W/w_i on these fleets); both keep each server's count within about one pick of its
// share. Measured here: lag <= 1.09, gaps <= 1.17·W/w_i + 1.
TEST(EarliestDeadlineSchedule, MixedWeightsStayWithinAboutOnePickOfTheirShare) {
  core::Random random(31);
  for (uint32_t max_weight : {10u, 100u, 1000u}) {
    const std::vector<uint32_t> weights = random_weights(random, 1000, max_weight);
    EarliestDeadlineSchedule schedule(weights);
    const Spacing spacing = measure(weights, pick_n(schedule, 2 * total(weights)));
    EXPECT_LE(spacing.max_lag, 1.2) << max_weight;
    EXPECT_LE(spacing.max_gap_over_ideal, 1.25) << max_weight;
  }
}

TEST(EarliestDeadlineSchedule, RemovedServersShareFlowsToTheOthersInProportion) {
  core::Random random(37);
  const std::vector<uint32_t> weights = random_weights(random, 1000, 5);
  EarliestDeadlineSchedule schedule(weights);
  pick_n(schedule, total(weights) / 3);
  std::vector<uint32_t> remaining = weights;
  for (ServerIndex server = 0; server < 1000; server += 7) {
    schedule.remove(server);
    remaining[server] = 0;
  }
  const uint64_t remaining_total = total(remaining);
  for (int window = 0; window < 4; ++window) {
    const std::vector<uint64_t> picked = counts(pick_n(schedule, remaining_total), 1000);
    for (ServerIndex server = 0; server < 1000; ++server) {
      ASSERT_LE(std::abs(static_cast<int64_t>(picked[server]) - remaining[server]), 1)
          << "window " << window << " server " << server;
    }
  }
}

TEST(EarliestDeadlineSchedule, RejoiningServerNeitherBurstsNorStarves) {
  std::vector<uint32_t> weights(1000, 1);
  weights[500] = 50;
  const uint64_t cycle = total(weights);
  for (ServerIndex returning : {ServerIndex{500}, ServerIndex{501}}) {
    EarliestDeadlineSchedule schedule(weights);
    pick_n(schedule, cycle / 2);
    schedule.remove(returning);
    pick_n(schedule, 5 * cycle);  // five cycles of turns missed
    schedule.insert(returning);
    const std::vector<ServerIndex> picks = pick_n(schedule, cycle);
    const auto picked = std::count(picks.begin(), picks.end(), returning);
    EXPECT_LE(std::abs(picked - static_cast<int64_t>(weights[returning])), 1) << returning;
    const auto first = std::find(picks.begin(), picks.end(), returning) - picks.begin();
    EXPECT_LE(first, static_cast<int64_t>(cycle / weights[returning]) + 1) << returning;
  }
}

TEST(EarliestDeadlineSchedule, RemoveAndInsertWithNoPickBetweenChangeNothing) {
  core::Random random(41);
  const std::vector<uint32_t> weights = random_weights(random, 300, 20);
  EarliestDeadlineSchedule steady(weights);
  EarliestDeadlineSchedule flapping(weights);
  for (uint64_t i = 0; i < 2 * total(weights); ++i) {
    const ServerIndex server = static_cast<ServerIndex>(random.below(300));
    flapping.remove(server);
    flapping.insert(server);
    ASSERT_EQ(flapping.pick({}), steady.pick({})) << i;
  }
}

TEST(EarliestDeadlineSchedule, ExcludedServersArePassedOverAndKeepTheirTurn) {
  const std::vector<uint32_t> weights(1000, 1);
  EarliestDeadlineSchedule schedule(weights);
  EarliestDeadlineSchedule preview = schedule;
  const std::vector<ServerIndex> next = pick_n(preview, 9);
  ExcludedServers excluded;
  for (int i = 0; i < 8; ++i) {
    excluded.add(next[i]);
  }
  EXPECT_EQ(schedule.pick(excluded), next[8]);
  EXPECT_EQ(pick_n(schedule, 8), std::vector<ServerIndex>(next.begin(), next.begin() + 8));
}

TEST(EarliestDeadlineSchedule, ServerExcludedForLongOwesAtMostOnePick) {
  const std::vector<uint32_t> weights(1000, 2);
  EarliestDeadlineSchedule schedule(weights);
  const ExcludedServers excluded = excluded_set({123});
  for (uint64_t i = 0; i < 5 * total(weights); ++i) {
    ASSERT_NE(schedule.pick(excluded), 123u);
  }
  const std::vector<ServerIndex> picks = pick_n(schedule, total(weights));
  EXPECT_LE(std::count(picks.begin(), picks.end(), 123u), 3);
  EXPECT_GE(std::count(picks.begin(), picks.end(), 123u), 2);
  const auto first = std::find(picks.begin(), picks.end(), 123u) - picks.begin();
  EXPECT_LE(first, static_cast<int64_t>(total(weights) / 2));
}

TEST(EarliestDeadlineSchedule, NoServerWhenAllAreExcludedOrRemoved) {
  EarliestDeadlineSchedule empty(std::vector<uint32_t>{});
  EXPECT_EQ(empty.pick({}), kNoServer);

  EarliestDeadlineSchedule schedule(std::vector<uint32_t>{3, 1, 2});
  EXPECT_EQ(schedule.pick(excluded_set({0, 1, 2})), kNoServer);
  schedule.remove(0);
  schedule.remove(2);
  EXPECT_EQ(schedule.pick(excluded_set({1})), kNoServer);
  EXPECT_EQ(pick_n(schedule, 3), (std::vector<ServerIndex>{1, 1, 1}));
  schedule.remove(1);
  EXPECT_EQ(schedule.pick({}), kNoServer);
  EXPECT_EQ(schedule.scheduled_count(), 0u);
  schedule.insert(2);
  EXPECT_EQ(schedule.pick({}), 2u);
}

TEST(EarliestDeadlineSchedule, WeightChangeTakesEffectFromTheNextCycle) {
  std::vector<uint32_t> weights(1000, 1);
  EarliestDeadlineSchedule schedule(weights);
  pick_n(schedule, 400);
  schedule.set_weight(7, 10);
  weights[7] = 10;
  for (int window = 0; window < 3; ++window) {
    const auto picked = counts(pick_n(schedule, total(weights)), weights.size())[7];
    EXPECT_LE(std::abs(static_cast<int64_t>(picked) - 10), 1) << window;
  }
  schedule.set_weight(7, 1);
  weights[7] = 1;
  for (int window = 0; window < 3; ++window) {
    const auto picked = counts(pick_n(schedule, total(weights)), weights.size())[7];
    EXPECT_LE(picked, 2u) << window;
  }
}

TEST(EarliestDeadlineSchedule, RandomOperationsKeepEveryPickValidAndSettleToExactShares) {
  core::Random random(43);
  std::vector<uint32_t> weights = random_weights(random, 500, 12);
  EarliestDeadlineSchedule schedule(weights);
  std::vector<bool> scheduled(500, true);
  for (int step = 0; step < 200000; ++step) {
    const ServerIndex server = static_cast<ServerIndex>(random.below(500));
    switch (random.below(6)) {
      case 0:
        if (scheduled[server]) {
          schedule.remove(server);
        } else {
          schedule.insert(server);
        }
        scheduled[server] = !scheduled[server];
        break;
      case 1:
        weights[server] = 1 + static_cast<uint32_t>(random.below(12));
        schedule.set_weight(server, weights[server]);
        break;
      default:
        break;
    }
    ExcludedServers excluded;
    for (uint64_t i = random.below(4); i > 0; --i) {
      excluded.add(static_cast<ServerIndex>(random.below(500)));
    }
    const bool any_allowed = [&] {
      for (ServerIndex candidate = 0; candidate < 500; ++candidate) {
        if (scheduled[candidate] && !excluded.contains(candidate)) {
          return true;
        }
      }
      return false;
    }();
    const ServerIndex picked = schedule.pick(excluded);
    if (!any_allowed) {
      ASSERT_EQ(picked, kNoServer) << step;
      continue;
    }
    ASSERT_NE(picked, kNoServer) << step;
    ASSERT_TRUE(scheduled[picked]) << step;
    ASSERT_FALSE(excluded.contains(picked)) << step;
  }
  for (ServerIndex server = 0; server < 500; ++server) {
    if (!scheduled[server]) {
      schedule.insert(server);
    }
  }
  pick_n(schedule, total(weights));  // one cycle to settle
  for (int window = 0; window < 3; ++window) {
    const std::vector<uint64_t> picked = counts(pick_n(schedule, total(weights)), 500);
    for (ServerIndex server = 0; server < 500; ++server) {
      ASSERT_LE(std::abs(static_cast<int64_t>(picked[server]) - weights[server]), 1)
          << "window " << window << " server " << server;
    }
  }
}

// An independent reference: deadlines (k + φ_i) / w_i as exact 128-bit fractions, with the
// schedule's phases (φ_i · 2^40 = the top 40 bits of i · 2^64 / golden ratio, made odd).
// Weights near 2^32 put deadlines of different servers within 2^-40 of a cycle of each
// other every few hundred picks, where the schedule's 64-bit keys tie and its remainder
// comparison must decide.
TEST(EarliestDeadlineSchedule, PicksFollowExactDeadlineOrderBelowKeyResolution) {
  using uint128 = unsigned __int128;
  const std::vector<uint32_t> weights = {4294967295u, 4294967291u, 2147483647u, 3000000019u,
                                         1999999999u};
  EarliestDeadlineSchedule schedule(weights);
  std::vector<uint64_t> slots(weights.size(), 0);
  auto numerator = [&](ServerIndex server) {
    const uint64_t phase = ((uint64_t{server} * 0x9e3779b97f4a7c15ULL) >> 24) | 1;
    return (uint128{slots[server]} << 40) + phase;
  };
  for (int i = 0; i < 200000; ++i) {
    ServerIndex earliest = 0;
    for (ServerIndex server = 1; server < weights.size(); ++server) {
      if (numerator(server) * weights[earliest] < numerator(earliest) * weights[server]) {
        earliest = server;
      }
    }
    ++slots[earliest];
    ASSERT_EQ(schedule.pick({}), earliest) << i;
  }
}

// Keys count 2^40 per cycle modulo 2^64, so they wrap every 2^24 cycles; comparisons must not
// notice. A plain unsigned comparison would hand the server whose key wrapped every pick.
TEST(EarliestDeadlineSchedule, KeysWrapAroundUnnoticed) {
  EarliestDeadlineSchedule schedule(std::vector<uint32_t>{1, 1});
  const ServerIndex first = schedule.pick({});
  ServerIndex previous = first;
  for (uint64_t i = 1; i < (uint64_t{1} << 25) + 1000; ++i) {
    const ServerIndex picked = schedule.pick({});
    ASSERT_NE(picked, previous) << i;
    previous = picked;
  }
  schedule.remove(0);
  schedule.insert(0);
  EXPECT_EQ(pick_n(schedule, 4), (previous == 0 ? repeat({1, 0}, 2) : repeat({0, 1}, 2)));
}

// ---- The policy at fleet sizes that use the schedule. ----

TEST(SmoothWeightedRoundRobin, LargeFleetHasExactCyclesAndHonoursEligibilityAndExclusion) {
  core::Random random(47);
  std::vector<uint32_t> weights = random_weights(random, 1000, 10);
  SmoothWeightedRoundRobin policy(weights);
  EXPECT_EQ(counts(pick_n(policy, total(weights)), 1000),
            std::vector<uint64_t>(weights.begin(), weights.end()));

  for (ServerIndex server = 0; server < 1000; server += 2) {
    policy.set_eligible(server, false);
  }
  PickContext ctx;
  ctx.excluded = excluded_set({1, 3, 5, 7, 9, 11, 13, 15});
  for (int i = 0; i < 5000; ++i) {
    const ServerIndex picked = policy.pick(ctx);
    ASSERT_EQ(picked % 2, 1u);
    ASSERT_GT(picked, 15u);
  }
  policy.set_weight(999, 1000);
  const std::vector<ServerIndex> picks = pick_n(policy, 5000);
  EXPECT_GT(std::count(picks.begin(), picks.end(), 999u), 1000);

  for (ServerIndex server = 1; server < 1000; server += 2) {
    policy.set_eligible(server, false);
  }
  EXPECT_EQ(policy.pick({}), kNoServer);
  policy.set_eligible(500, true);
  EXPECT_EQ(policy.pick({}), 500u);
}

}  // namespace
}  // namespace ballast::balance
