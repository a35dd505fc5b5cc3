#pragma once
// Geographic routing's plan for one configuration generation: for each route with `geo:`, and
// for each region a client may be found in (edge/geo_locator.h), the route's regions to try,
// nearest first, each with the cluster that serves it; and the route's counts by region.
//
// The plan is fixed when the generation is built (distances between regions do not change), so
// a request walks a short list: its region's own cluster if that cluster can serve, else the
// next nearest region's (the failover of docs/config.md "Geographic routing").
//
// Owned by a configuration generation (upstream::Generation), shared by every worker and the
// admin thread; immutable once built but for the counters (atomics; each worker its own shard).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "edge/geo_locator.h"

namespace ballast::edge {

struct GeoChoice {
  uint32_t region;   // index in geo.regions
  uint32_t cluster;  // index in the configuration's clusters
};

// Per worker shards of: requests served by each region's cluster (and by the route's own
// cluster, for clients of no known region), and requests whose own region could not serve.
class GeoCounters {
 public:
  GeoCounters(uint32_t workers, size_t regions);
  void served(uint32_t worker, int32_t region) noexcept;  // -1: the route's own cluster
  void failed_over(uint32_t worker, uint32_t from_region) noexcept;
  uint64_t total_served(int32_t region) const noexcept;
  uint64_t total_failed_over(uint32_t region) const noexcept;

 private:
  std::atomic<uint64_t>& at(uint32_t worker, size_t slot) noexcept {
    return counts_[worker * stride_ + slot];
  }
  const size_t regions_;
  const size_t stride_;  // slots per worker, rounded up to whole cache lines
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  uint32_t workers_;
};

struct GeoRoute {
  std::string listener, route;  // the metrics' labels
  // Per region a client may be in: the route's regions, nearest first.
  std::vector<std::vector<GeoChoice>> by_region;
  std::unique_ptr<GeoCounters> counters;
};

class GeoRoutes {
 public:
  // `cluster_index` finds a cluster's index by name. Routes without `geo:` get no plan.
  GeoRoutes(const config::Config& config, const GeoLocator& locator, uint32_t workers,
            const std::function<uint32_t(const std::string&)>& cluster_index);

  // The plan of route `route` of listener `listener` (indices in the configuration); null for a
  // route without `geo:`.
  const GeoRoute* route(size_t listener, size_t route) const noexcept {
    const uint32_t index = by_listener_[listener][route];
    return index == kNone ? nullptr : &routes_[index];
  }
  const std::vector<GeoRoute>& routes() const noexcept { return routes_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  std::vector<GeoRoute> routes_;
  std::vector<std::vector<uint32_t>> by_listener_;  // index in routes_, or kNone
};

}  // namespace ballast::edge
