#include "upstream/eligibility.h"

#include <algorithm>

namespace ballast::upstream {
namespace {

constexpr uint8_t kHealthReasons = kFailingChecks | kEjected;

// Serving: would be eligible but for the region and panic rules.
bool serving(uint8_t reasons) noexcept {
  return (reasons & (kHealthReasons | kBreakerOpen | kDisabled | kDraining)) == 0;
}

uint8_t admin_reason(AdminState state) noexcept {
  switch (state) {
    case AdminState::enabled:
      return 0;
    case AdminState::disabled:
      return kDisabled;
    case AdminState::draining:
      return kDraining;
  }
  return 0;
}

// The reasons that hold whatever the region and panic rules say; notes when they may end.
uint8_t own_reasons(const ServerState& server, uint32_t index,
                    const health::OutlierDetector* outliers, uint64_t now_ns,
                    uint64_t& next_change_ns) noexcept {
  uint8_t reasons = admin_reason(server.admin.load(std::memory_order_relaxed));
  if (!server.passes_checks.load(std::memory_order_relaxed)) {
    reasons |= kFailingChecks;
  }
  if (outliers != nullptr) {
    const uint64_t ejected_until = outliers->ejection_end_ns(index);
    if (ejected_until > now_ns) {
      reasons |= kEjected;
      next_change_ns = std::min(next_change_ns, ejected_until);
    }
  }
  if (server.breaker != nullptr && server.breaker->state() == health::BreakerState::open) {
    const uint64_t probe_at = server.breaker->snapshot(now_ns).half_open_at_ns;
    if (probe_at > now_ns) {
      reasons |= kBreakerOpen;
      next_change_ns = std::min(next_change_ns, probe_at);
    }
  }
  return reasons;
}

uint32_t choose_region(const ClusterState& cluster, const std::vector<uint32_t>& ranks,
                       const std::vector<uint8_t>& reasons) noexcept {
  const config::ClusterConfig& config = *cluster.config;
  if (!config.regions) {
    return 0;
  }
  const auto region_count = static_cast<uint32_t>(1 + config.regions->failover.size());
  uint32_t first_with_any = region_count;
  for (uint32_t rank = 0; rank < region_count; ++rank) {
    uint32_t total = 0;
    uint32_t serving_count = 0;
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (ranks[i] == rank && !cluster.servers[i]->config.backup) {
        ++total;
        serving_count += serving(reasons[i]) ? 1 : 0;
      }
    }
    if (serving_count != 0 &&
        static_cast<double>(serving_count) >= config.regions->min_healthy_fraction * total) {
      return rank;
    }
    if (serving_count != 0 && first_with_any == region_count) {
      first_with_any = rank;
    }
  }
  return first_with_any == region_count ? 0 : first_with_any;
}

}  // namespace

std::vector<uint32_t> region_ranks(const ClusterState& cluster) {
  std::vector<uint32_t> ranks(cluster.servers.size(), 0);
  if (!cluster.config->regions) {
    return ranks;
  }
  const auto& failover = cluster.config->regions->failover;
  for (size_t i = 0; i < cluster.servers.size(); ++i) {
    const auto found =
        std::find(failover.begin(), failover.end(), cluster.servers[i]->config.region);
    ranks[i] = found == failover.end() ? 0 : static_cast<uint32_t>(1 + (found - failover.begin()));
  }
  return ranks;
}

std::string_view region_name(const config::ClusterConfig& cluster, uint32_t rank) noexcept {
  if (!cluster.regions) {
    return {};
  }
  return rank == 0 ? std::string_view(cluster.regions->primary)
                   : std::string_view(cluster.regions->failover[rank - 1]);
}

void assess_eligibility(const ClusterState& cluster, const std::vector<uint32_t>& ranks,
                        uint64_t now_ns, ClusterEligibility& out) {
  const size_t count = cluster.servers.size();
  const health::OutlierDetector* outliers =
      cluster.health != nullptr ? cluster.health->outliers.get() : nullptr;
  out.reasons.resize(count);
  out.next_change_ns = UINT64_MAX;
  for (size_t i = 0; i < count; ++i) {
    out.reasons[i] = own_reasons(*cluster.servers[i], static_cast<uint32_t>(i), outliers, now_ns,
                                 out.next_change_ns);
  }
  out.active_region = choose_region(cluster, ranks, out.reasons);

  uint32_t total = 0;
  uint32_t serving_count = 0;
  for (size_t i = 0; i < count; ++i) {
    if (!cluster.servers[i]->config.backup && ranks[i] == out.active_region) {
      ++total;
      serving_count += serving(out.reasons[i]) ? 1 : 0;
    }
  }
  const uint32_t threshold = cluster.config->panic_threshold;
  out.serving_percent = total == 0 ? 0 : serving_count * 100 / total;
  out.panic = threshold != 0 && total != 0 && serving_count * 100 < threshold * total;

  for (size_t i = 0; i < count; ++i) {
    if (out.panic) {
      out.reasons[i] &= static_cast<uint8_t>(~kHealthReasons);
    }
    if (!cluster.servers[i]->config.backup && ranks[i] != out.active_region) {
      out.reasons[i] |= kInactiveRegion;
    }
  }
}

}  // namespace ballast::upstream
