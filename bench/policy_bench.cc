// Micro-benchmarks of the balancing policies: ns per pick for every algorithm at 10, 1,000 and
// 10,000 servers, as cases named pick/<algorithm>/<servers>.
//
// One iteration is what the proxy does per request: pick, on_attempt_start, on_attempt_end. Before
// timing, each policy is given a realistic state (every server has answered once with its own
// latency, and 2 × servers attempts are left in flight), so heaps and EWMAs are not trivially flat.
// Weights cycle 1..4 so weighted schedules do real work. Hash policies hash a rotating set of
// client addresses.
//
// The counter bytes_per_server is the heap the policy holds per server: the net bytes allocated
// while it is built, counted by the replaced operator new/delete below. (glibc's mallinfo2 would
// miss small blocks recycled through its thread cache.)

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "balance/algorithm.h"
#include "balance/make_policy.h"
#include "core/random.h"

namespace {
// Net bytes allocated through operator new; the benchmarks run on one thread.
size_t g_allocated_bytes = 0;
}  // namespace

void* operator new(size_t size) {
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) {
    throw std::bad_alloc();
  }
  g_allocated_bytes += malloc_usable_size(block);
  return block;
}

void operator delete(void* block) noexcept {
  if (block != nullptr) {
    g_allocated_bytes -= malloc_usable_size(block);
    std::free(block);
  }
}

void operator delete(void* block, size_t /*size*/) noexcept {
  operator delete(block);
}

namespace ballast::balance {
namespace {

constexpr uint64_t kLatencyBaseNs = 1'000'000;

std::vector<balance::ServerSpec> make_fleet(uint32_t servers) {
  std::vector<balance::ServerSpec> fleet(servers);
  for (uint32_t i = 0; i < servers; ++i) {
    fleet[i].name = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                    std::to_string(i % 256) + ":8080";
    fleet[i].weight = i % 4 + 1;
  }
  return fleet;
}

std::vector<std::string> make_client_keys() {
  std::vector<std::string> keys(4096);
  for (size_t i = 0; i < keys.size(); ++i) {
    keys[i] = "192.168." + std::to_string(i / 256) + "." + std::to_string(i % 256);
  }
  return keys;
}

void prime(Policy& policy, const std::vector<uint64_t>& latency_ns, core::Random& random) {
  const uint32_t servers = policy.size();
  for (ServerIndex s = 0; s < servers; ++s) {
    policy.on_attempt_start(s);
    policy.on_attempt_end(s, {true, latency_ns[s], latency_ns[s]});
  }
  for (uint32_t i = 0; i < 2 * servers; ++i) {
    policy.on_attempt_start(static_cast<ServerIndex>(random.below(servers)));
  }
}

void pick_benchmark(benchmark::State& state, Algorithm algorithm, uint32_t servers) {
  const std::vector<balance::ServerSpec> fleet = make_fleet(servers);
  const size_t heap_before = g_allocated_bytes;
  const std::unique_ptr<Policy> policy = make_policy(algorithm, fleet, 1);
  const size_t policy_bytes = g_allocated_bytes - heap_before;

  core::Random random(2);
  std::vector<uint64_t> latency_ns(servers);
  for (uint64_t& latency : latency_ns) {
    latency = kLatencyBaseNs + random.below(4 * kLatencyBaseNs);
  }
  prime(*policy, latency_ns, random);
  const std::vector<std::string> keys = make_client_keys();

  PickContext ctx;
  ctx.now_ns = 10 * kLatencyBaseNs;
  size_t key_index = 0;
  for (auto _ : state) {
    ctx.now_ns += 1000;
    ctx.hash_key = keys[key_index++ % keys.size()];
    const ServerIndex chosen = policy->pick(ctx);
    policy->on_attempt_start(chosen);
    policy->on_attempt_end(chosen, {true, latency_ns[chosen], ctx.now_ns});
    benchmark::DoNotOptimize(chosen);
  }
  state.counters["bytes_per_server"] = static_cast<double>(policy_bytes) / servers;
}

void register_all() {
  for (const AlgorithmName& entry : kAlgorithmNames) {
    for (const uint32_t servers : {10u, 1'000u, 10'000u}) {
      const std::string name = "pick/" + std::string(entry.name) + "/" + std::to_string(servers);
      benchmark::RegisterBenchmark(name.c_str(), pick_benchmark, entry.algorithm, servers);
    }
  }
}

}  // namespace
}  // namespace ballast::balance

// Defaults for a trustworthy median: five repetitions, aggregates only. They come first, so flags
// given on the command line override them. Setting them per case instead would append
// "/repeats:5" to every case name, and tools rely on the names pick/<algorithm>/<servers>.
int main(int argc, char** argv) {
  std::vector<char*> args = {argv[0]};
  std::string repetitions = "--benchmark_repetitions=5";
  std::string aggregates_only = "--benchmark_report_aggregates_only=true";
  std::string min_time = "--benchmark_min_time=0.1";
  args.insert(args.end(), {repetitions.data(), aggregates_only.data(), min_time.data()});
  args.insert(args.end(), argv + 1, argv + argc);
  int arg_count = static_cast<int>(args.size());
  benchmark::Initialize(&arg_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(arg_count, args.data())) {
    return 1;
  }
  ballast::balance::register_all();
  const size_t cases_run = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return cases_run > 0 ? 0 : 1;  // a filter that matches nothing is an error, not a pass
}
