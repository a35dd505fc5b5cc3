#pragma once
// Which servers of a cluster may take new requests now, and why the others may not: the one
// statement of the rules of docs/resilience.md, used by every worker to set its balancer's
// eligibility (WorkerCluster::refresh) and by the admin API to explain it (/status).
//
// A server is eligible when it is enabled by the operator, its breaker is not open (or is due
// for a probe), it is in the active region (backups: any region), and it passes its health
// checks and is not ejected — the last two ignored in panic mode. The active region is the
// first, in order (primary, then regions.failover), with at least min_healthy_fraction of its
// non-backup servers "serving" (passing, not ejected, enabled, breaker not open); else the first
// with any serving; else the primary. Panic: fewer than panic_threshold percent of the active
// region's non-backup servers serving.
//
// Threading: reads the shared servers' atomics (relaxed), from any thread. Cost: O(servers ×
// regions); run when something changed, not per request. With `out` reused, no allocation.

#include <cstdint>
#include <string_view>
#include <vector>

#include "upstream/generation.h"

namespace ballast::upstream {

// Why a server takes no new requests, as bits.
enum EligibilityReason : uint8_t {
  kFailingChecks = 1 << 0,   // not yet passed its active checks, or failed them
  kEjected = 1 << 1,         // outlier detection took it out for a while
  kBreakerOpen = 1 << 2,     // its breaker is open and not yet due for a probe
  kDisabled = 1 << 3,        // by the admin API
  kDraining = 1 << 4,        // by the admin API
  kInactiveRegion = 1 << 5,  // its region is not the one serving
};

struct ClusterEligibility {
  std::vector<uint8_t> reasons;  // per server: EligibilityReason bits; 0 = eligible
  uint32_t active_region = 0;    // 0 = primary, k = regions.failover[k - 1]
  bool panic = false;            // health and ejection are being ignored
  uint32_t serving_percent = 0;  // of the active region's non-backup servers
  // The earliest moment a timed state (an ejection, an open breaker's wait) ends: the verdict
  // may change then without anything else happening. UINT64_MAX when none is pending.
  uint64_t next_change_ns = UINT64_MAX;

  bool eligible(size_t server) const noexcept { return reasons[server] == 0; }
};

// Each server's position in the region order: 0 for the primary region (or no region), k for
// regions.failover[k - 1].
std::vector<uint32_t> region_ranks(const ClusterState& cluster);
std::string_view region_name(const config::ClusterConfig& cluster, uint32_t rank) noexcept;

// The verdict at now_ns (the monotonic clock), into `out`; `ranks` from region_ranks().
void assess_eligibility(const ClusterState& cluster, const std::vector<uint32_t>& ranks,
                        uint64_t now_ns, ClusterEligibility& out);

}  // namespace ballast::upstream
