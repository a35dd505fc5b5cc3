#include "health/outlier_detector.h"

#include <algorithm>
#include <limits>

#include "core/clock.h"

namespace ballast::health {
namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// Saturating, so that an absurd configured duration means "forever" rather than wrapping.
uint64_t ms_to_ns(uint64_t ms) noexcept {
  return std::min(ms, kMaxU64 / core::kNsPerMs) * core::kNsPerMs;
}

uint64_t saturating_add(uint64_t a, uint64_t b) noexcept {
  return b > kMaxU64 - a ? kMaxU64 : a + b;
}

uint32_t max_ejected_servers(uint32_t server_count, uint32_t max_ejection_percent) noexcept {
  const uint64_t percent = std::min<uint32_t>(max_ejection_percent, 100);
  return static_cast<uint32_t>(uint64_t{server_count} * percent / 100);
}

}  // namespace

std::string_view to_string(TrafficResult result) noexcept {
  switch (result) {
    case TrafficResult::success:
      return "success";
    case TrafficResult::connect_failure:
      return "connect_failure";
    case TrafficResult::reset:
      return "reset";
    case TrafficResult::timeout:
      return "timeout";
    case TrafficResult::server_error:
      return "server_error";
  }
  return "unknown";
}

std::string_view to_string(OutlierEvent event) noexcept {
  switch (event) {
    case OutlierEvent::ejected:
      return "ejected";
    case OutlierEvent::ejection_refused:
      return "ejection refused: max_ejection_percent reached";
    case OutlierEvent::expired:
      return "returned: ejection time passed";
    case OutlierEvent::returned_by_check:
      return "returned: health check passed";
  }
  return "unknown";
}

OutlierDetector::OutlierDetector(const config::OutlierDetectionConfig& config,
                                 uint32_t server_count)
    : failure_threshold_(std::max<uint32_t>(1, config.consecutive_failures)),
      count_server_errors_(config.on_5xx),
      base_ejection_ns_(std::max<uint64_t>(1, ms_to_ns(config.base_ejection_time_ms))),
      max_ejection_ns_(std::max(base_ejection_ns_, ms_to_ns(config.max_ejection_time_ms))),
      max_multiplier_(static_cast<uint32_t>(
          std::min<uint64_t>(max_ejection_ns_ / base_ejection_ns_ +
                                 (max_ejection_ns_ % base_ejection_ns_ != 0 ? 1 : 0),
                             std::numeric_limits<uint32_t>::max()))),
      servers_(server_count),
      slots_(max_ejected_servers(server_count, config.max_ejection_percent)) {}

bool OutlierDetector::counts_as_failure(TrafficResult result) const noexcept {
  switch (result) {
    case TrafficResult::success:
      return false;
    case TrafficResult::connect_failure:
    case TrafficResult::reset:
    case TrafficResult::timeout:
      return true;
    case TrafficResult::server_error:
      return count_server_errors_;
  }
  return false;
}

std::optional<OutlierTransition> OutlierDetector::record(uint32_t server, TrafficResult result,
                                                         uint64_t now_ns) noexcept {
  ServerHealth& health = servers_[server];
  if (!counts_as_failure(result)) {
    // Load before storing: most attempts succeed, and an unconditional store from every worker
    // would bounce the server's cache line between them.
    if (health.consecutive_failures.load(std::memory_order_relaxed) != 0) {
      health.consecutive_failures.store(0, std::memory_order_relaxed);
    }
    return std::nullopt;
  }
  if (is_ejected(server, now_ns)) {
    return std::nullopt;
  }
  // Only the failure that reaches the threshold tries to eject; failures counted meanwhile by
  // other workers are dropped by the restart below. (A success restarting the run meanwhile can
  // let a second run complete during the try; hold() keeps the two apart.)
  if (health.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1 !=
      failure_threshold_) {
    return std::nullopt;
  }
  std::optional<OutlierTransition> transition;
  if (hold(health)) {
    transition = try_eject(server, result, now_ns);
    unhold(health);
  }
  health.consecutive_failures.store(0, std::memory_order_relaxed);
  return transition;
}

bool OutlierDetector::hold(ServerHealth& health) noexcept {
  return !health.changing.exchange(true, std::memory_order_acquire);
}

void OutlierDetector::unhold(ServerHealth& health) noexcept {
  health.changing.store(false, std::memory_order_release);
}

std::optional<OutlierTransition> OutlierDetector::try_eject(uint32_t server, TrafficResult failure,
                                                            uint64_t now_ns) noexcept {
  ServerHealth& health = servers_[server];
  const uint64_t previous_until_ns = health.ejected_until_ns.load(std::memory_order_relaxed);
  if (previous_until_ns > now_ns) {
    return std::nullopt;  // ejected meanwhile, through another worker
  }
  const uint64_t previous_end_ns = previous_until_ns != 0
                                       ? previous_until_ns
                                       : health.last_return_ns.load(std::memory_order_relaxed);
  const uint32_t multiplier =
      next_multiplier(health.multiplier.load(std::memory_order_relaxed), previous_end_ns, now_ns);
  // multiplier <= max_multiplier_, so base × multiplier < max + base: it only overflows when max
  // is within base of 2^64 ns (585 years), and then it saturates.
  const uint64_t ejection_ns = base_ejection_ns_ > kMaxU64 / multiplier
                                   ? max_ejection_ns_
                                   : std::min(base_ejection_ns_ * multiplier, max_ejection_ns_);
  const uint64_t until_ns = saturating_add(now_ns, ejection_ns);

  const std::optional<uint32_t> slot = claim_slot(until_ns, now_ns);
  if (!slot) {
    return OutlierTransition{server, OutlierEvent::ejection_refused, failure, 0, 0};
  }
  health.slot.store(*slot, std::memory_order_relaxed);
  health.multiplier.store(multiplier, std::memory_order_relaxed);
  // The slot first, then the server: it never counts as ejected without a slot.
  health.ejected_until_ns.store(until_ns, std::memory_order_release);
  return OutlierTransition{server, OutlierEvent::ejected, failure, multiplier,
                           ejection_ns / core::kNsPerMs};
}

uint32_t OutlierDetector::next_multiplier(uint32_t previous, uint64_t previous_end_ns,
                                          uint64_t now_ns) const noexcept {
  const uint64_t back_ns = now_ns > previous_end_ns ? now_ns - previous_end_ns : 0;
  const uint64_t decay_steps = back_ns / base_ejection_ns_;
  const uint32_t decayed =
      decay_steps >= previous ? 0 : previous - static_cast<uint32_t>(decay_steps);
  return std::min(decayed + 1, max_multiplier_);
}

void OutlierDetector::carry_over(const OutlierDetector& previous,
                                 std::span<const uint32_t> previous_index,
                                 uint64_t now_ns) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  for (size_t i = 0; i < servers_.size() && i < previous_index.size(); ++i) {
    if (previous_index[i] >= previous.servers_.size()) {
      continue;
    }
    const ServerHealth& from = previous.servers_[previous_index[i]];
    ServerHealth& to = servers_[i];
    to.consecutive_failures.store(from.consecutive_failures.load(relaxed), relaxed);
    to.multiplier.store(from.multiplier.load(relaxed), relaxed);
    to.last_return_ns.store(from.last_return_ns.load(relaxed), relaxed);
    const uint64_t until_ns = from.ejected_until_ns.load(std::memory_order_acquire);
    if (until_ns <= now_ns) {
      to.ejected_until_ns.store(until_ns, relaxed);  // a return still to report, or 0
    } else if (const std::optional<uint32_t> slot = claim_slot(until_ns, now_ns)) {
      to.slot.store(*slot, relaxed);
      to.ejected_until_ns.store(until_ns, relaxed);
    }
  }
}

std::optional<uint32_t> OutlierDetector::claim_slot(uint64_t until_ns, uint64_t now_ns) noexcept {
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    uint64_t held_until_ns = slots_[slot].load(std::memory_order_relaxed);
    while (held_until_ns <= now_ns) {
      if (slots_[slot].compare_exchange_weak(held_until_ns, until_ns, std::memory_order_acq_rel)) {
        return slot;
      }
    }
  }
  return std::nullopt;
}

std::optional<OutlierTransition> OutlierDetector::return_server(uint32_t server,
                                                                uint64_t now_ns) noexcept {
  ServerHealth& health = servers_[server];
  if (!is_ejected(server, now_ns) || !hold(health)) {
    return std::nullopt;  // not ejected, or another thread is changing it
  }
  const uint64_t until_ns = health.ejected_until_ns.load(std::memory_order_relaxed);
  std::optional<OutlierTransition> transition;
  if (until_ns > now_ns) {
    health.last_return_ns.store(now_ns, std::memory_order_relaxed);
    // The server first, then its slot: it never counts as ejected without a slot.
    health.ejected_until_ns.store(0, std::memory_order_release);
    // Free the slot if it is still this ejection's. Another ejection takes it only once until_ns
    // has passed by its clock, and then writes a later end, so the value identifies the holder.
    uint64_t expected = until_ns;
    slots_[health.slot.load(std::memory_order_relaxed)].compare_exchange_strong(
        expected, 0, std::memory_order_acq_rel);
    transition = OutlierTransition{server, OutlierEvent::returned_by_check, TrafficResult::success,
                                   health.multiplier.load(std::memory_order_relaxed), 0};
  }
  unhold(health);
  return transition;
}

std::vector<OutlierTransition> OutlierDetector::collect_returns(uint64_t now_ns) {
  std::vector<OutlierTransition> returns;
  for (uint32_t server = 0; server < size(); ++server) {
    ServerHealth& health = servers_[server];
    const uint64_t seen_until_ns = health.ejected_until_ns.load(std::memory_order_relaxed);
    if (seen_until_ns == 0 || seen_until_ns > now_ns || !hold(health)) {
      continue;  // nothing to report, or another thread is changing it: the next tick sees it
    }
    const uint64_t until_ns = health.ejected_until_ns.load(std::memory_order_relaxed);
    if (until_ns != 0 && until_ns <= now_ns) {
      // Its slot freed itself at until_ns; only the report and the decay's reference remain.
      health.last_return_ns.store(until_ns, std::memory_order_relaxed);
      health.ejected_until_ns.store(0, std::memory_order_relaxed);
      returns.push_back({server, OutlierEvent::expired, TrafficResult::success,
                         health.multiplier.load(std::memory_order_relaxed), 0});
    }
    unhold(health);
  }
  return returns;
}

uint32_t OutlierDetector::ejected_count(uint64_t now_ns) const noexcept {
  uint32_t ejected = 0;
  for (uint32_t server = 0; server < size(); ++server) {
    ejected += is_ejected(server, now_ns) ? 1 : 0;
  }
  return ejected;
}

}  // namespace ballast::health
