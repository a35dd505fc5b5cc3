#include "upstream/cluster_health.h"

namespace ballast::upstream {
namespace {

uint32_t limit(const config::ClusterConfig& cluster,
               uint32_t config::CircuitBreakerConfig::*field) {
  return cluster.circuit_breaker.enabled ? cluster.circuit_breaker.*field : 0;
}

}  // namespace

ClusterLimits::ClusterLimits(const config::ClusterConfig& cluster)
    : requests(limit(cluster, &config::CircuitBreakerConfig::max_requests)),
      pending(limit(cluster, &config::CircuitBreakerConfig::max_pending_requests)),
      retries(limit(cluster, &config::CircuitBreakerConfig::max_retries)) {}

ClusterHealth::ClusterHealth(const config::ClusterConfig& cluster,
                             std::shared_ptr<ClusterLimits> carried_limits)
    : limits(carried_limits != nullptr ? std::move(carried_limits)
                                       : std::make_shared<ClusterLimits>(cluster)) {
  if (cluster.outlier_detection.enabled) {
    outliers = std::make_unique<health::OutlierDetector>(
        cluster.outlier_detection, static_cast<uint32_t>(cluster.servers.size()));
  }
}

}  // namespace ballast::upstream
