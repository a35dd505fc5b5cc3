#pragma once
// The active-health-check state of one server, decided from the results of its checks, and the
// slow-start weight factor of a server that has just become healthy.
//
// Owns: the state (unknown, healthy, unhealthy), the current run of passed or failed checks, and
// when the server last became healthy.
// Threading: pure and single-threaded. The one owner that runs a server's checks feeds it the
// results and publishes what it decides (eligibility, weight) to the workers.
// Invariant: the state changes only on the result that completes a run of consecutive results:
// unhealthy_threshold failed checks in a row make a server unhealthy, healthy_threshold passed
// checks in a row make it healthy, and a result of the other kind ends the run. Results that
// alternate therefore never change the state.
//
// A new server is `unknown`, which is not eligible, and its first result decides at once: a pass
// makes it healthy, a failure unhealthy (after which it needs healthy_threshold passes). This is
// Envoy's rule ("during startup, only a single successful health check is required to mark a host
// healthy"; a new host starts failed, so a failure keeps it out): a fleet starting together takes
// traffic after one check rather than healthy_threshold intervals, and a server that answers
// nothing never takes any. With start_healthy the server starts healthy, at full weight.
//
// Slow start (HAProxy's `slowstart`; Envoy's slow start with aggression 1 and its default 10%
// minimum weight): for slow_start_ms after each time the server becomes healthy (from unknown or
// unhealthy), its weight factor is max(kSlowStartFloor, elapsed / slow_start), so it takes 10% of
// its weight at first, half at half time and all of it at the end. Applying it to a server's first
// pass too ramps a server added at reload into a running fleet; at start-up the whole fleet ramps
// together, which leaves the shares unchanged.
//
// Cost: O(1) per result and per factor, a few comparisons; no allocation.
// Source: the seed's Layer 2 (3 failures → out, a later success → in), generalised to HAProxy's
// rise/fall and Envoy's healthy/unhealthy thresholds.

#include <cstdint>
#include <optional>
#include <string_view>

#include "config/config.h"

namespace ballast::health {

enum class HealthState : uint8_t { unknown, healthy, unhealthy };

enum class CheckResult : uint8_t { passed, failed };

// A change of state, for the owner to log once. The reason is the run that completed it:
// `consecutive_checks` passes when `to` is healthy, failures when it is unhealthy; `from` unknown
// means it was the server's first check.
struct HealthTransition {
  HealthState from = HealthState::unknown;
  HealthState to = HealthState::unknown;
  uint32_t consecutive_checks = 0;
};

std::string_view to_string(HealthState state) noexcept;

class HealthTracker {
 public:
  static constexpr double kSlowStartFloor = 0.1;

  // Thresholds of 0 act as 1 (the loader accepts only >= 1).
  explicit HealthTracker(const config::HealthCheckConfig& config) noexcept;
  // Starts in `initial` rather than as the config says: for a server whose settings changed at
  // a reload, which keeps its verdict (healthy, at full weight, or not yet known) instead of
  // waiting for a first check again.
  HealthTracker(const config::HealthCheckConfig& config, HealthState initial) noexcept;

  // Counts one check that ended at now_ns; returns the transition when the state changed.
  std::optional<HealthTransition> record(CheckResult result, uint64_t now_ns) noexcept;

  HealthState state() const noexcept { return state_; }
  bool eligible() const noexcept { return state_ == HealthState::healthy; }
  uint32_t consecutive_passes() const noexcept { return consecutive_passes_; }
  uint32_t consecutive_failures() const noexcept { return consecutive_failures_; }

  // The share of its configured weight the server should take at now_ns: below 1.0 only while it
  // is healthy and within slow_start of becoming so. The owner re-publishes the weight while this
  // is below 1.0.
  double weight_factor(uint64_t now_ns) const noexcept;

 private:
  std::optional<HealthTransition> enter(HealthState to, uint32_t consecutive_checks,
                                        uint64_t now_ns) noexcept;

  const uint32_t healthy_threshold_;
  const uint32_t unhealthy_threshold_;
  const uint64_t slow_start_ns_;
  HealthState state_;
  uint32_t consecutive_passes_ = 0;
  uint32_t consecutive_failures_ = 0;
  // When the server last became healthy; unset when it started healthy (no ramp).
  std::optional<uint64_t> healthy_since_ns_;
};

}  // namespace ballast::health
