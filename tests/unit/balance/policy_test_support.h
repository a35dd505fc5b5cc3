#pragma once
// Helpers shared by the balance policy tests: picking in bulk, building exclusions, the
// chi-square check for random policies, and for the key-hashing policies (RingHash, Maglev) a
// named fleet, random keys, and the checks both must pass in the same way. Test-only code.

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "balance/policy.h"
#include "balance/server_spec.h"
#include "core/random.h"

namespace ballast::balance::test_support {

// ---- Picking in bulk and excluding servers. ----

// `count` picks, all with the same context.
inline std::vector<ServerIndex> pick_n(Policy& policy, uint64_t count,
                                       const PickContext& ctx = {}) {
  std::vector<ServerIndex> picks;
  for (uint64_t i = 0; i < count; ++i) {
    picks.push_back(policy.pick(ctx));
  }
  return picks;
}

inline ExcludedServers excluded_set(std::initializer_list<ServerIndex> servers) {
  ExcludedServers excluded;
  for (ServerIndex server : servers) {
    excluded.add(server);
  }
  return excluded;
}

// A context that excludes `servers`.
inline PickContext excluding(std::initializer_list<ServerIndex> servers) {
  PickContext ctx;
  ctx.excluded = excluded_set(servers);
  return ctx;
}

// ---- Distributions. ----

// Pearson's statistic of observed counts against expected probabilities.
inline double chi_square(const std::vector<uint64_t>& observed,
                         const std::vector<double>& probability) {
  uint64_t draws = 0;
  for (const uint64_t count : observed) {
    draws += count;
  }
  double statistic = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double expected = probability[i] * static_cast<double>(draws);
    const double difference = static_cast<double>(observed[i]) - expected;
    statistic += difference * difference / expected;
  }
  return statistic;
}

// Upper 0.1% points of the chi-square distribution, by degrees of freedom.
inline constexpr double kChiSquare999Df1 = 10.83;
inline constexpr double kChiSquare999Df2 = 13.82;
inline constexpr double kChiSquare999Df3 = 16.27;
inline constexpr double kChiSquare999Df5 = 20.52;
inline constexpr double kChiSquare999Df11 = 31.26;

// ---- Key-hashing policies. ----

inline constexpr int kKeys = 100'000;

// `servers` servers of weight 1, named like real backends.
inline std::vector<balance::ServerSpec> fleet(uint32_t servers) {
  std::vector<balance::ServerSpec> specs;
  for (uint32_t i = 0; i < servers; ++i) {
    specs.push_back({"backend-" + std::to_string(i) + ".example:8080", 1, false});
  }
  return specs;
}

// kKeys client keys, the same for the same seed.
inline std::vector<std::string> random_keys(uint64_t seed) {
  core::Random random(seed);
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back("client-" + std::to_string(random.next()));
  }
  return keys;
}

inline ServerIndex pick_key(Policy& policy, const std::string& key, const PickContext& base = {}) {
  PickContext ctx = base;
  ctx.hash_key = key;
  return policy.pick(ctx);
}

// The server chosen for each key, in order.
inline std::vector<ServerIndex> pick_all(Policy& policy, const std::vector<std::string>& keys) {
  std::vector<ServerIndex> chosen;
  for (const std::string& key : keys) {
    chosen.push_back(pick_key(policy, key));
  }
  return chosen;
}

// How many of `chosen` went to each of `servers` servers.
inline std::vector<int> count_per_server(const std::vector<ServerIndex>& chosen, uint32_t servers) {
  std::vector<int> counts(servers);
  for (const ServerIndex server : chosen) {
    ++counts.at(server);
  }
  return counts;
}

// The checks below are the same test for RingHash and Maglev; each policy's test file runs
// them under its own test name, with its own key seed.

// Picks repeat, and a second instance built from the same servers agrees.
template <typename HashPolicy>
void expect_the_same_key_always_maps_to_the_same_server(uint64_t key_seed) {
  const std::vector<balance::ServerSpec> specs = fleet(10);
  HashPolicy policy(specs);
  HashPolicy rebuilt(specs);
  const std::vector<std::string> keys = random_keys(key_seed);
  const std::vector<ServerIndex> first = pick_all(policy, keys);
  EXPECT_EQ(pick_all(policy, keys), first);
  EXPECT_EQ(pick_all(rebuilt, keys), first);
}

// `policy` is built from fleet(10).
inline void expect_ten_equal_servers_each_take_a_tenth(Policy& policy, uint64_t key_seed) {
  const std::vector<int> load = count_per_server(pick_all(policy, random_keys(key_seed)), 10);
  for (uint32_t server = 0; server < 10; ++server) {
    EXPECT_NEAR(load[server], kKeys / 10, kKeys / 100) << "server " << server;
  }
}

// Six servers, the even ones of weight 2: each gets its weight's share of 9 within 10%.
template <typename HashPolicy>
void expect_weights_are_honoured(uint64_t key_seed) {
  std::vector<balance::ServerSpec> specs = fleet(6);
  for (uint32_t i = 0; i < 6; i += 2) {
    specs[i].weight = 2;
  }
  HashPolicy policy(specs);
  const std::vector<int> load = count_per_server(pick_all(policy, random_keys(key_seed)), 6);
  for (uint32_t server = 0; server < 6; ++server) {
    const double ideal = kKeys * (server % 2 == 0 ? 2.0 : 1.0) / 9.0;
    EXPECT_NEAR(load[server], ideal, ideal * 0.1) << "server " << server;
  }
}

// Excluding 2 and 7 sends every key where a twin with 2 and 7 ineligible sends it.
template <typename HashPolicy>
void expect_excluded_servers_are_skipped_like_ineligible_ones(uint64_t key_seed) {
  HashPolicy policy(fleet(10));
  HashPolicy twin(fleet(10));
  twin.set_eligible(2, false);
  twin.set_eligible(7, false);
  PickContext ctx;
  ctx.excluded.add(2);
  ctx.excluded.add(7);
  for (const std::string& key : random_keys(key_seed)) {
    const ServerIndex chosen = pick_key(policy, key, ctx);
    ASSERT_NE(chosen, 2u);
    ASSERT_NE(chosen, 7u);
    ASSERT_EQ(chosen, pick_key(twin, key));
  }
}

template <typename HashPolicy>
void expect_no_server_when_nothing_qualifies() {
  HashPolicy empty(fleet(0));
  EXPECT_EQ(pick_key(empty, "k"), kNoServer);

  HashPolicy policy(fleet(3));
  policy.set_eligible(0, false);
  policy.set_eligible(2, false);
  PickContext ctx;
  ctx.excluded.add(1);
  EXPECT_EQ(pick_key(policy, "k", ctx), kNoServer);
  EXPECT_EQ(pick_key(policy, "k"), 1u);
  policy.set_eligible(1, false);
  EXPECT_EQ(pick_key(policy, "k"), kNoServer);
}

// With 990 of 1,000 servers out (and 0 and 100 of the other ten excluded), most lookups pass
// the policy's bound and take the fallback: every key still reaches a qualifying server, the
// same one each time, and the eight that qualify share the keys.
template <typename HashPolicy>
void expect_lookups_past_the_bound_fall_back_to_a_qualifying_server(uint64_t key_seed) {
  HashPolicy policy(fleet(1'000));
  for (ServerIndex server = 0; server < 1'000; ++server) {
    policy.set_eligible(server, server % 100 == 0);
  }
  PickContext ctx;
  ctx.excluded.add(0);
  ctx.excluded.add(100);
  const std::vector<std::string> keys = random_keys(key_seed);
  std::vector<int> load(1'000);
  for (int i = 0; i < 10'000; ++i) {
    const ServerIndex chosen = pick_key(policy, keys[i], ctx);
    ASSERT_NE(chosen, kNoServer);
    ASSERT_EQ(chosen % 100, 0u);
    ASSERT_GE(chosen, 200u);
    ASSERT_EQ(pick_key(policy, keys[i], ctx), chosen);
    ++load[chosen];
  }
  for (ServerIndex server = 200; server < 1'000; server += 100) {
    EXPECT_GT(load[server], 10'000 / 8 / 2) << "server " << server;
  }
}

// `policy` is built from fleet(1'000): 100 keys each on average, every server within 50..150.
inline void expect_thousand_servers_each_take_between_50_and_150_keys(Policy& policy,
                                                                      uint64_t key_seed) {
  const std::vector<int> load = count_per_server(pick_all(policy, random_keys(key_seed)), 1'000);
  for (ServerIndex server = 0; server < 1'000; ++server) {
    EXPECT_GT(load[server], 50) << "server " << server;
    EXPECT_LT(load[server], 150) << "server " << server;
  }
}

}  // namespace ballast::balance::test_support
