#include "health/circuit_breaker.h"

#include <algorithm>
#include <cassert>

#include "core/clock.h"

namespace ballast::health {
namespace {

// The state word, so that every decision is one compare-and-swap:
//   bits  0-1   the state
//   bits  2-23  the generation: +1 (mod 2^22) at every state change. A permit carries the
//               generation that granted it, and its outcome counts only while that lasts.
//   bits 24-63  the state's own fields:
//               CLOSED     consecutive failures (consecutive mode)
//               OPEN       when probes may start, in whole milliseconds, rounded up (2^40 ms
//                          is 34 years of CLOCK_MONOTONIC)
//               HALF_OPEN  probes in flight (bits 24-43) and probe successes (bits 44-63)
// Relaxed ordering is enough: the word publishes no other memory, and the modification order
// of one atomic already orders every change to it.
constexpr uint64_t kStateMask = 0x3;
constexpr int kGenerationShift = 2;
constexpr uint32_t kGenerationMask = (1u << CircuitBreaker::kGenerationBits) - 1;
constexpr int kFieldsShift = 24;
constexpr uint64_t kMaxMillis = (uint64_t{1} << 40) - 1;
constexpr uint64_t kFieldsOne = uint64_t{1} << kFieldsShift;  // adds 1 to the fields' low bits
constexpr int kSuccessesShift = 20;
constexpr uint64_t kHalfOpenCountMask = CircuitBreaker::kMaxHalfOpenCount;

struct Word {
  BreakerState state;
  uint32_t generation;
  uint64_t fields;

  explicit Word(uint64_t word) noexcept
      : state(static_cast<BreakerState>(word & kStateMask)),
        generation(static_cast<uint32_t>(word >> kGenerationShift) & kGenerationMask),
        fields(word >> kFieldsShift) {}

  uint32_t probes() const noexcept { return static_cast<uint32_t>(fields & kHalfOpenCountMask); }
  uint32_t successes() const noexcept {
    return static_cast<uint32_t>((fields >> kSuccessesShift) & kHalfOpenCountMask);
  }
  uint32_t next_generation() const noexcept { return (generation + 1) & kGenerationMask; }
};

uint64_t pack(BreakerState state, uint32_t generation, uint64_t fields) noexcept {
  return static_cast<uint64_t>(state) | (static_cast<uint64_t>(generation) << kGenerationShift) |
         (fields << kFieldsShift);
}

uint64_t pack_half_open(uint32_t generation, uint32_t probes, uint32_t successes) noexcept {
  return pack(BreakerState::half_open, generation,
              probes | (static_cast<uint64_t>(successes) << kSuccessesShift));
}

uint32_t clamp_count(uint32_t count) noexcept {
  return std::clamp<uint32_t>(count, 1, CircuitBreaker::kMaxHalfOpenCount);
}

}  // namespace

std::string_view state_name(BreakerState state) noexcept {
  switch (state) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "unknown";
}

std::string_view reason_text(TransitionReason reason) noexcept {
  switch (reason) {
    case TransitionReason::none:
      return "none";
    case TransitionReason::consecutive_failures:
      return "consecutive failures reached the threshold";
    case TransitionReason::failure_rate:
      return "failure rate reached the threshold";
    case TransitionReason::slow_call_rate:
      return "slow-call rate reached the threshold";
    case TransitionReason::timeout_elapsed:
      return "open timeout elapsed";
    case TransitionReason::probe_failed:
      return "a half-open probe failed";
    case TransitionReason::probes_succeeded:
      return "half-open probes succeeded";
    case TransitionReason::predicted_failure:
      return "the failure model predicted failure";
  }
  return "unknown";
}

// `predictive` runs as `rate`; its model trips the breaker from outside (trip()).
CircuitBreaker::CircuitBreaker(const config::CircuitBreakerConfig& config) noexcept
    : rate_mode_(config.mode != config::BreakerMode::consecutive),
      failure_threshold_(std::max<uint32_t>(config.failure_threshold, 1)),
      timeout_ms_(config.timeout_ms),
      half_open_requests_(clamp_count(config.half_open_requests)),
      success_threshold_(clamp_count(config.success_threshold)),
      min_requests_(config.window_type == config::WindowType::count
                        ? std::min<uint64_t>(config.min_requests, config.window_size)
                        : config.min_requests),
      slow_call_rate_percent_(
          config.slow_call_rate_threshold < 100 ? config.slow_call_rate_threshold : 0),
      slow_call_ns_(config.slow_call_duration_ms * core::kNsPerMs),
      word_(pack(BreakerState::closed, 0, 0)),
      window_(config.window_type, config.window_size) {}

Permit CircuitBreaker::try_acquire(uint64_t now_ns) noexcept {
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    const Word current(word);
    switch (current.state) {
      case BreakerState::closed:
        return {true, false, current.generation, {}};
      case BreakerState::open: {
        if (now_ns < current.fields * core::kNsPerMs) {
          return {};
        }
        // The first request after the timeout turns the breaker half-open and is its first
        // probe, in the same compare-and-swap.
        const uint32_t generation = current.next_generation();
        if (word_.compare_exchange_weak(word, pack_half_open(generation, 1, 0),
                                        std::memory_order_relaxed)) {
          return {true,
                  true,
                  generation,
                  {BreakerState::open,
                   BreakerState::half_open,
                   TransitionReason::timeout_elapsed,
                   generation,
                   {}}};
        }
        break;
      }
      case BreakerState::half_open:
        if (current.probes() >= half_open_requests_) {
          return {};
        }
        if (word_.compare_exchange_weak(word, word + kFieldsOne, std::memory_order_relaxed)) {
          return {true, true, current.generation, {}};
        }
        break;
    }
  }
}

Transition CircuitBreaker::record(const Permit& permit, bool success, uint64_t latency_ns,
                                  uint64_t now_ns) noexcept {
  if (!permit.allowed) {
    return {};
  }
  const bool slow = latency_ns > slow_call_ns_;
  if (permit.probe) {
    const bool slow_fails = rate_mode_ && slow_call_rate_percent_ != 0 && slow;
    return record_probe(permit, !success || slow_fails, now_ns);
  }
  return record_closed(permit, !success, slow, now_ns);
}

Transition CircuitBreaker::record_closed(const Permit& permit, bool failed, bool slow,
                                         uint64_t now_ns) noexcept {
  uint64_t word = word_.load(std::memory_order_relaxed);
  const uint32_t generation = permit.generation;
  const uint32_t next_generation = (generation + 1) & kGenerationMask;
  if (rate_mode_) {
    if (word != pack(BreakerState::closed, generation, 0)) {
      return {};  // the breaker has moved on since this request was permitted
    }
    const WindowTotals totals = window_.record(generation, now_ns, failed, slow);
    const TransitionReason reason = rate_exceeded(totals);
    // Only a state change alters a closed word in rate mode, so if this fails, another
    // caller has already moved the breaker.
    if (reason == TransitionReason::none ||
        !word_.compare_exchange_strong(word, open_word(next_generation, now_ns),
                                       std::memory_order_relaxed)) {
      return {};
    }
    return {BreakerState::closed, BreakerState::open, reason, next_generation, totals};
  }
  for (;;) {
    const Word current(word);
    if (current.state != BreakerState::closed || current.generation != generation) {
      return {};
    }
    uint64_t desired = 0;
    Transition transition;
    if (!failed) {
      if (current.fields == 0) {
        return {};  // the common case writes nothing, keeping the word's cache line shared
      }
      desired = pack(BreakerState::closed, generation, 0);
    } else if (current.fields + 1 >= failure_threshold_) {
      desired = open_word(next_generation, now_ns);
      transition = {BreakerState::closed,
                    BreakerState::open,
                    TransitionReason::consecutive_failures,
                    next_generation,
                    {}};
    } else {
      desired = word + kFieldsOne;  // one more failure
    }
    if (word_.compare_exchange_weak(word, desired, std::memory_order_relaxed)) {
      return transition;
    }
  }
}

Transition CircuitBreaker::record_probe(const Permit& permit, bool failed,
                                        uint64_t now_ns) noexcept {
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    const Word current(word);
    if (current.state != BreakerState::half_open || current.generation != permit.generation) {
      return {};  // this probe's half-open period is over, and its slot with it
    }
    assert(current.probes() > 0);
    uint64_t desired = 0;
    Transition transition;
    if (failed) {
      desired = open_word(current.next_generation(), now_ns);
      transition = {BreakerState::half_open,
                    BreakerState::open,
                    TransitionReason::probe_failed,
                    current.next_generation(),
                    {}};
    } else if (current.successes() + 1 >= success_threshold_) {
      // A new generation: the closed period's window starts empty.
      desired = pack(BreakerState::closed, current.next_generation(), 0);
      transition = {BreakerState::half_open,
                    BreakerState::closed,
                    TransitionReason::probes_succeeded,
                    current.next_generation(),
                    {}};
    } else {
      desired = pack_half_open(current.generation, current.probes() - 1, current.successes() + 1);
    }
    if (word_.compare_exchange_weak(word, desired, std::memory_order_relaxed)) {
      return transition;
    }
  }
}

Transition CircuitBreaker::trip(uint64_t now_ns, TransitionReason reason) noexcept {
  assert(reason != TransitionReason::none);
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    const Word current(word);
    if (current.state != BreakerState::closed) {
      return {};
    }
    const WindowTotals totals =
        rate_mode_ ? window_.totals(current.generation, now_ns) : WindowTotals{};
    if (word_.compare_exchange_weak(word, open_word(current.next_generation(), now_ns),
                                    std::memory_order_relaxed)) {
      return {BreakerState::closed, BreakerState::open, reason, current.next_generation(), totals};
    }
  }
}

void CircuitBreaker::resume_open(uint64_t half_open_at_ns) noexcept {
  const Word current(word_.load(std::memory_order_relaxed));
  const uint64_t probe_at_ms = half_open_at_ns / core::kNsPerMs;
  word_.store(
      pack(BreakerState::open, current.next_generation(), std::min(probe_at_ms, kMaxMillis)),
      std::memory_order_relaxed);
}

void CircuitBreaker::release(const Permit& permit) noexcept {
  if (!permit.allowed || !permit.probe) {
    return;
  }
  uint64_t word = word_.load(std::memory_order_relaxed);
  for (;;) {
    const Word current(word);
    if (current.state != BreakerState::half_open || current.generation != permit.generation) {
      return;
    }
    assert(current.probes() > 0);
    if (word_.compare_exchange_weak(word, word - kFieldsOne, std::memory_order_relaxed)) {
      return;
    }
  }
}

BreakerState CircuitBreaker::state() const noexcept {
  return Word(word_.load(std::memory_order_relaxed)).state;
}

BreakerSnapshot CircuitBreaker::snapshot(uint64_t now_ns) const noexcept {
  const Word current(word_.load(std::memory_order_relaxed));
  BreakerSnapshot snapshot;
  snapshot.state = current.state;
  snapshot.generation = current.generation;
  switch (current.state) {
    case BreakerState::closed:
      if (rate_mode_) {
        snapshot.window = window_.totals(current.generation, now_ns);
      } else {
        snapshot.consecutive_failures = current.fields;
      }
      break;
    case BreakerState::open:
      snapshot.half_open_at_ns = current.fields * core::kNsPerMs;
      break;
    case BreakerState::half_open:
      snapshot.probes_in_flight = current.probes();
      snapshot.probe_successes = current.successes();
      break;
  }
  return snapshot;
}

TransitionReason CircuitBreaker::rate_exceeded(const WindowTotals& totals) const noexcept {
  if (totals.calls < min_requests_) {
    return TransitionReason::none;
  }
  if (totals.failures * 100 >= failure_threshold_ * totals.calls) {
    return TransitionReason::failure_rate;
  }
  if (slow_call_rate_percent_ != 0 &&
      totals.slow_calls * 100 >= slow_call_rate_percent_ * totals.calls) {
    return TransitionReason::slow_call_rate;
  }
  return TransitionReason::none;
}

// OPEN, probes allowed from now + timeout: rounded up to a whole millisecond, so never early.
uint64_t CircuitBreaker::open_word(uint32_t generation, uint64_t now_ns) const noexcept {
  const uint64_t probe_at_ms =
      now_ns / core::kNsPerMs + (now_ns % core::kNsPerMs != 0 ? 1 : 0) + timeout_ms_;
  return pack(BreakerState::open, generation, std::min(probe_at_ms, kMaxMillis));
}

}  // namespace ballast::health
