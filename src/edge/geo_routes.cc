#include "edge/geo_routes.h"

namespace ballast::edge {
namespace {

constexpr size_t kCountsPerLine = 64 / sizeof(uint64_t);

// The region's index in geo.regions (the reader checked that every name is there).
uint32_t region_index(const GeoLocator& locator, const std::string& name) {
  for (uint32_t i = 0; i < locator.region_count(); ++i) {
    if (locator.region_name(i) == name) {
      return i;
    }
  }
  return 0;
}

// For a client in `from`: the route's regions by distance from it.
std::vector<GeoChoice> choices_for(const GeoLocator& locator, uint32_t from,
                                   const std::vector<GeoChoice>& mapped) {
  std::vector<GeoChoice> ordered;
  for (const uint32_t region : locator.nearest_order(from)) {
    for (const GeoChoice& choice : mapped) {
      if (choice.region == region) {
        ordered.push_back(choice);
      }
    }
  }
  return ordered;
}

}  // namespace

GeoCounters::GeoCounters(uint32_t workers, size_t regions)
    : regions_(regions),
      stride_((2 * regions + 1 + kCountsPerLine - 1) / kCountsPerLine * kCountsPerLine),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(workers * stride_)),
      workers_(workers) {
  for (size_t i = 0; i < workers * stride_; ++i) {
    counts_[i].store(0, std::memory_order_relaxed);
  }
}

void GeoCounters::served(uint32_t worker, int32_t region) noexcept {
  const size_t slot = region < 0 ? regions_ : static_cast<size_t>(region);
  at(worker, slot).fetch_add(1, std::memory_order_relaxed);
}

void GeoCounters::failed_over(uint32_t worker, uint32_t from_region) noexcept {
  at(worker, regions_ + 1 + from_region).fetch_add(1, std::memory_order_relaxed);
}

uint64_t GeoCounters::total_served(int32_t region) const noexcept {
  const size_t slot = region < 0 ? regions_ : static_cast<size_t>(region);
  uint64_t total = 0;
  for (uint32_t worker = 0; worker < workers_; ++worker) {
    total += counts_[worker * stride_ + slot].load(std::memory_order_relaxed);
  }
  return total;
}

uint64_t GeoCounters::total_failed_over(uint32_t region) const noexcept {
  uint64_t total = 0;
  for (uint32_t worker = 0; worker < workers_; ++worker) {
    total += counts_[worker * stride_ + regions_ + 1 + region].load(std::memory_order_relaxed);
  }
  return total;
}

GeoRoutes::GeoRoutes(const config::Config& config, const GeoLocator& locator, uint32_t workers,
                     const std::function<uint32_t(const std::string&)>& cluster_index) {
  by_listener_.resize(config.listeners.size());
  for (size_t l = 0; l < config.listeners.size(); ++l) {
    const config::ListenerConfig& listener = config.listeners[l];
    by_listener_[l].assign(listener.routes.size(), kNone);
    for (size_t r = 0; r < listener.routes.size(); ++r) {
      const config::RouteConfig& route = listener.routes[r];
      if (route.geo_clusters.empty()) {
        continue;
      }
      std::vector<GeoChoice> mapped;
      for (const auto& [region, cluster] : route.geo_clusters) {
        mapped.push_back({region_index(locator, region), cluster_index(cluster)});
      }
      GeoRoute& plan = routes_.emplace_back();
      plan.listener = listener.name;
      plan.route = route.name;
      for (uint32_t from = 0; from < locator.region_count(); ++from) {
        plan.by_region.push_back(choices_for(locator, from, mapped));
      }
      plan.counters = std::make_unique<GeoCounters>(workers, locator.region_count());
      by_listener_[l][r] = static_cast<uint32_t>(routes_.size() - 1);
    }
  }
}

}  // namespace ballast::edge
