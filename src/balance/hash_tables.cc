#include "balance/hash_tables.h"

namespace ballast::balance {

std::vector<ServerSpec> tier_servers(std::span<const ServerSpec> servers, bool backup) {
  std::vector<ServerSpec> tier;
  for (const ServerSpec& server : servers) {
    if (server.backup == backup) {
      tier.push_back(server);
    }
  }
  return tier;
}

std::shared_ptr<const HashTables> build_hash_tables(Algorithm algorithm,
                                                    std::span<const ServerSpec> servers) {
  const bool ring = algorithm == Algorithm::ip_hash || algorithm == Algorithm::consistent_hash;
  if (!ring && algorithm != Algorithm::maglev) {
    return nullptr;
  }
  auto tables = std::make_shared<HashTables>();
  for (const bool backup : {false, true}) {
    const std::vector<ServerSpec> tier = tier_servers(servers, backup);
    if (tier.empty()) {
      continue;
    }
    TierTables& built = tables->tiers[backup ? 1 : 0];
    if (ring) {
      built.ring = std::make_shared<const RingHash::Ring>(tier);
    } else {
      built.maglev = std::make_shared<const Maglev::Table>(build_maglev_table(tier));
    }
  }
  return tables;
}

}  // namespace ballast::balance
