#include "demo/policy_tour.h"

#include <array>
#include <deque>
#include <iomanip>
#include <string>
#include <vector>

#include "balance/algorithm.h"
#include "balance/balancer.h"

namespace ballast::demo {
namespace {

using balance::Algorithm;
using balance::Balancer;
using balance::ServerIndex;

constexpr int kShownPicks = 20;
constexpr int kTotalPicks = 10'000;
constexpr size_t kRequestsInFlight = 4;  // a request ends after this many later picks

struct DemoServer {
  const char* name;
  uint32_t weight;
  uint64_t latency_ns;  // s3 is the slow one
};
constexpr std::array<DemoServer, 3> kServers = {{
    {"s1", 5, 2'000'000},
    {"s2", 3, 2'000'000},
    {"s3", 2, 20'000'000},
}};

struct InFlight {
  ServerIndex server;
  uint64_t started_ns;
};

void tour_one(std::ostream& out, Algorithm algorithm) {
  std::vector<balance::ServerSpec> specs;
  for (const DemoServer& server : kServers) {
    specs.push_back({server.name, server.weight, false});
  }
  Balancer balancer(algorithm, specs, 1);

  std::deque<InFlight> in_flight;
  std::array<int, kServers.size()> share{};
  std::string sequence;
  uint64_t now_ns = 0;
  for (int i = 0; i < kTotalPicks; ++i) {
    now_ns += 1'000'000;
    balance::PickContext ctx;
    ctx.now_ns = now_ns;
    const std::string client = "10.0.0." + std::to_string(i % 7);
    ctx.hash_key = client;
    const ServerIndex chosen = balancer.pick(ctx);
    balancer.on_attempt_start(chosen);
    in_flight.push_back({chosen, now_ns});
    if (in_flight.size() > kRequestsInFlight) {
      const InFlight done = in_flight.front();
      in_flight.pop_front();
      balancer.on_attempt_end(done.server, {true, kServers[done.server].latency_ns, now_ns});
    }
    ++share[chosen];
    if (i < kShownPicks) {
      sequence += std::string(kServers[chosen].name) + " ";
    }
  }
  out << std::left << std::setw(29) << balance::algorithm_name(algorithm) << sequence << "  ";
  for (size_t s = 0; s < kServers.size(); ++s) {
    out << (s == 0 ? "" : " ") << kServers[s].name << '=' << std::right << std::setw(3)
        << share[s] * 100 / kTotalPicks << '%' << std::left;
  }
  out << '\n';
}

}  // namespace

void run_policy_tour(std::ostream& out) {
  out << "ballast policy tour: servers s1 (weight 5), s2 (weight 3), s3 (weight 2, 10x slower);\n"
      << "each request stays in flight for " << kRequestsInFlight << " further picks; "
      << "hash policies key on 7 client addresses.\n\n"
      << std::left << std::setw(29) << "algorithm" << std::setw(kShownPicks * 3 + 2)
      << "first 20 picks"
      << "share of " << kTotalPicks << " picks\n";
  for (const balance::AlgorithmName& entry : balance::kAlgorithmNames) {
    tour_one(out, entry.algorithm);
  }
}

}  // namespace ballast::demo
