// Micro-benchmark of the rate limit table (edge/rate_table.h): ns per check as cases named
// rate_check/<keys>, for 10, 1,000 and 1,000,000 distinct keys, in a table of 2^21 slots (16 MiB,
// room for the million with the buckets half full). One iteration is what a request costs: hash
// its key (a client address as text) and check it. Keys are drawn at random among the set, at a
// limit loose enough that most pass (the common case: the table is written on each).

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/hash.h"
#include "core/random.h"
#include "edge/rate_table.h"

namespace {

void rate_check(benchmark::State& state) {
  const auto keys = static_cast<size_t>(state.range(0));
  std::vector<std::string> addresses;
  addresses.reserve(keys);
  for (size_t i = 0; i < keys; ++i) {
    addresses.push_back("10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) +
                        "." + std::to_string(i & 255));
  }
  const uint64_t start = ballast::core::monotonic_now_ns();
  ballast::edge::RateTable table(size_t{1} << 21, start);
  const ballast::edge::RateLimit limit =
      ballast::edge::make_rate_limit(1'000'000, 1'000'000'000, 1'000);
  ballast::core::Random random(7);
  uint64_t now = start;
  uint64_t allowed = 0;
  for (auto _ : state) {
    const std::string& key = addresses[random.below(keys)];
    now += 100;  // 10 M checks a second of simulated time
    allowed += table.check(ballast::core::hash64(key), limit, now).allowed ? 1 : 0;
  }
  benchmark::DoNotOptimize(allowed);
  state.counters["table_MiB"] = static_cast<double>(table.memory_bytes()) / (1 << 20);
  state.counters["allowed_share"] =
      static_cast<double>(allowed) / static_cast<double>(state.iterations());
}
BENCHMARK(rate_check)->Arg(10)->Arg(1'000)->Arg(1'000'000);

}  // namespace
