#include "health/health_tracker.h"

#include <algorithm>
#include <limits>

#include "core/clock.h"

namespace ballast::health {
namespace {

// Saturating, so that an absurd configured duration means "forever" rather than wrapping.
uint64_t ms_to_ns(uint64_t ms) noexcept {
  constexpr uint64_t kMaxMs = std::numeric_limits<uint64_t>::max() / core::kNsPerMs;
  return std::min(ms, kMaxMs) * core::kNsPerMs;
}

void count(uint32_t& run) noexcept {
  if (run != std::numeric_limits<uint32_t>::max()) {
    ++run;
  }
}

}  // namespace

std::string_view to_string(HealthState state) noexcept {
  switch (state) {
    case HealthState::unknown:
      return "unknown";
    case HealthState::healthy:
      return "healthy";
    case HealthState::unhealthy:
      return "unhealthy";
  }
  return "unknown";
}

HealthTracker::HealthTracker(const config::HealthCheckConfig& config) noexcept
    : healthy_threshold_(std::max<uint32_t>(1, config.healthy_threshold)),
      unhealthy_threshold_(std::max<uint32_t>(1, config.unhealthy_threshold)),
      slow_start_ns_(ms_to_ns(config.slow_start_ms)),
      state_(config.start_healthy ? HealthState::healthy : HealthState::unknown) {}

HealthTracker::HealthTracker(const config::HealthCheckConfig& config, HealthState initial) noexcept
    : HealthTracker(config) {
  state_ = initial;
}

std::optional<HealthTransition> HealthTracker::record(CheckResult result,
                                                      uint64_t now_ns) noexcept {
  if (result == CheckResult::passed) {
    consecutive_failures_ = 0;
    count(consecutive_passes_);
    if (state_ == HealthState::unknown || consecutive_passes_ >= healthy_threshold_) {
      return enter(HealthState::healthy, consecutive_passes_, now_ns);
    }
    return std::nullopt;
  }
  consecutive_passes_ = 0;
  count(consecutive_failures_);
  if (state_ == HealthState::unknown || consecutive_failures_ >= unhealthy_threshold_) {
    return enter(HealthState::unhealthy, consecutive_failures_, now_ns);
  }
  return std::nullopt;
}

std::optional<HealthTransition> HealthTracker::enter(HealthState to, uint32_t consecutive_checks,
                                                     uint64_t now_ns) noexcept {
  if (state_ == to) {
    return std::nullopt;
  }
  const HealthTransition transition{state_, to, consecutive_checks};
  state_ = to;
  if (to == HealthState::healthy) {
    healthy_since_ns_ = now_ns;
  }
  return transition;
}

double HealthTracker::weight_factor(uint64_t now_ns) const noexcept {
  if (state_ != HealthState::healthy || slow_start_ns_ == 0 || !healthy_since_ns_) {
    return 1.0;
  }
  const uint64_t elapsed_ns = now_ns > *healthy_since_ns_ ? now_ns - *healthy_since_ns_ : 0;
  if (elapsed_ns >= slow_start_ns_) {
    return 1.0;
  }
  return std::max(kSlowStartFloor,
                  static_cast<double>(elapsed_ns) / static_cast<double>(slow_start_ns_));
}

}  // namespace ballast::health
