#include "balance/maglev.h"

#include <algorithm>
#include <bit>

#include "core/hash.h"

namespace ballast::balance {
namespace {

// The paper's two independent hashes of a server's name: one places its first slot, the other
// sets the stride of its permutation.
constexpr uint64_t kOffsetSeed = 0;
constexpr uint64_t kSkipSeed = 1;

bool is_prime(uint64_t number) {
  if (number < 2) {
    return false;
  }
  for (uint64_t divisor = 2; divisor * divisor <= number; ++divisor) {
    if (number % divisor == 0) {
      return false;
    }
  }
  return true;
}

// One server's walk through the table (the paper's permutation[i]) and its weighted turn.
struct Permutation {
  uint64_t next_slot;      // (offset + j * skip) % M for the next unused j
  uint64_t skip;           // in [1, M - 1]; M is prime, so the walk visits every slot
  uint64_t weight;         // the server's weight
  uint64_t target_weight;  // the server takes a turn once round * weight reaches this
};

}  // namespace

uint64_t maglev_table_size(uint64_t server_count) {
  uint64_t size =
      std::bit_ceil(std::max(Maglev::kMinTableSlots, Maglev::kSlotsPerServer * server_count));
  while (!is_prime(size)) {
    ++size;
  }
  return size;
}

std::vector<ServerIndex> build_maglev_table(std::span<const ServerSpec> servers) {
  if (servers.empty()) {
    return {};
  }
  const uint64_t table_size = maglev_table_size(servers.size());
  std::vector<Permutation> permutations;
  permutations.reserve(servers.size());
  uint64_t max_weight = 0;
  for (const ServerSpec& server : servers) {
    const uint64_t offset = core::hash64(server.name, kOffsetSeed) % table_size;
    const uint64_t skip = core::hash64(server.name, kSkipSeed) % (table_size - 1) + 1;
    permutations.push_back({offset, skip, server.weight, 0});
    max_weight = std::max<uint64_t>(max_weight, server.weight);
  }

  // Pseudocode 1 of the paper, with Envoy's weighting: on round r a server takes a turn while
  // r * weight >= target_weight, and each turn raises the target by max_weight, so a server of
  // weight w takes w / max_weight of the turns. A turn claims the server's next unclaimed slot.
  std::vector<ServerIndex> table(table_size, kNoServer);
  uint64_t filled = 0;
  for (uint64_t round = 0; filled < table_size; ++round) {
    for (ServerIndex server = 0; server < servers.size() && filled < table_size; ++server) {
      Permutation& permutation = permutations[server];
      if (round * permutation.weight < permutation.target_weight) {
        continue;
      }
      permutation.target_weight += max_weight;
      while (table[permutation.next_slot] != kNoServer) {
        permutation.next_slot = (permutation.next_slot + permutation.skip) % table_size;
      }
      table[permutation.next_slot] = server;
      permutation.next_slot = (permutation.next_slot + permutation.skip) % table_size;
      ++filled;
    }
  }
  return table;
}

Maglev::Maglev(std::span<const ServerSpec> servers)
    : Maglev(servers, std::make_shared<const Table>(build_maglev_table(servers))) {}

Maglev::Maglev(std::span<const ServerSpec> servers, std::shared_ptr<const Table> table)
    : Policy(weights_of(servers)), table_(std::move(table)) {}

ServerIndex Maglev::pick(const PickContext& ctx) noexcept {
  if (eligible_count() == 0) {
    return kNoServer;
  }
  const uint64_t hash = core::hash64(ctx.hash_key);
  const Table& table = *table_;
  uint64_t slot = hash % table.size();
  for (uint32_t probe = 0; probe < kMaxProbes; ++probe) {
    const ServerIndex server = table[slot];
    if (can_choose(server, ctx.excluded)) {
      return server;
    }
    if (++slot == table.size()) {
      slot = 0;
    }
  }
  // Past the bound most of the table is unusable; spread those keys by their hash.
  return first_choosable_from(static_cast<uint32_t>(hash % size()), ctx.excluded);
}

}  // namespace ballast::balance
