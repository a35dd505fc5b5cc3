#pragma once
// What every worker shares about one cluster beyond its servers: the eligibility version that
// tells workers to re-read their servers' health, the passive health (outlier) detector, and the
// cluster-wide request counters behind the circuit breaker's limits (ClusterLimits).
//
// Owned by the control side, which makes one per cluster and carries it across a reload while
// the cluster keeps the same servers in the same order and the same detection settings. Shared by
// all workers of every generation that uses it, through std::shared_ptr; atomics only.

#include <atomic>
#include <cstdint>
#include <memory>

#include "config/config.h"
#include "health/outlier_detector.h"

namespace ballast::upstream {

// A cluster-wide count with a limit (0 = none), taken and given back by any worker.
class BoundedCount {
 public:
  explicit BoundedCount(uint32_t limit) noexcept : limit_(limit) {}

  // Counts one more; false (and nothing counted) when the limit is reached. Without a limit it
  // counts nothing and costs nothing.
  bool try_add() noexcept {
    if (limit_ == 0) {
      return true;
    }
    if (count_.fetch_add(1, std::memory_order_relaxed) >= limit_) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }
  // Whether try_add() would succeed now (another worker may take the room first).
  bool has_room() const noexcept {
    return limit_ == 0 || count_.load(std::memory_order_relaxed) < limit_;
  }
  void remove() noexcept {
    if (limit_ != 0) {
      count_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  uint32_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  const uint32_t limit_;
  std::atomic<uint32_t> count_{0};
};

// Envoy's cluster circuit-breaker limits (config.h, CircuitBreakerConfig): what the cluster's
// requests hold, on every worker. Kept apart from ClusterHealth so that a cluster whose servers
// discovery changed counts on where it was: the requests still in flight on the cluster it
// replaced give back to the same counts.
struct ClusterLimits {
  explicit ClusterLimits(const config::ClusterConfig& cluster);

  alignas(64) BoundedCount requests;  // requests in flight to the cluster
  BoundedCount pending;               // attempts waiting for a connection to open
  BoundedCount retries;               // retries in flight
};

struct ClusterHealth {
  // `limits`: the counts of the cluster this one replaces, when its limits are the same; null
  // for new ones.
  ClusterHealth(const config::ClusterConfig& cluster, std::shared_ptr<ClusterLimits> limits);

  // Bumped (release) after any change that makes a server eligible or not: a health check's
  // verdict, an ejection or early return, a breaker opening or closing. A worker that sees a
  // new value (acquire) re-reads every server's state before its next pick.
  // Its own cache line: every pick on every worker reads it, and the limit counters below change
  // with every request.
  alignas(64) std::atomic<uint64_t> version{1};
  void changed() noexcept { version.fetch_add(1, std::memory_order_release); }

  // Null without outlier_detection. Indexed like the cluster's servers.
  std::unique_ptr<health::OutlierDetector> outliers;

  // Never null; shared with the ClusterHealth this one replaced, if any.
  const std::shared_ptr<ClusterLimits> limits;
};

}  // namespace ballast::upstream
