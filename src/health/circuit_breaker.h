#pragma once
// One upstream server's circuit breaker: it stops sending requests to a server that keeps
// failing, waits, then lets a few probe requests through to learn whether it has recovered.
//
//   CLOSED ──(too many failures)──▶ OPEN ──(timeout elapsed, on the next request)──▶ HALF_OPEN
//   HALF_OPEN ──(success_threshold probes succeed)──▶ CLOSED
//   HALF_OPEN ──(any probe fails)──▶ OPEN, with a fresh timeout
//
// "Too many failures" depends on the mode. `consecutive`: failure_threshold failures in a row.
// `rate` (Resilience4j's semantics): once the sliding window holds at least min_requests calls
// (for a count window, capped at its size, as Resilience4j does), the failure rate reaches
// failure_threshold percent, or the share of calls slower than slow_call_duration_ms reaches
// slow_call_rate_threshold percent (100 turns the slow-call rule off, as docs/config.md says).
// `predictive` is `rate` plus one more way to open: each worker keeps a FailurePredictor per
// server (failure_predictor.h, a model of that server's failures, single-threaded, not shared)
// and, when it predicts failure, calls trip() on the server's one shared breaker. Everything
// else (the window, half-open, probes) is rate mode's. Each CLOSED period starts with an empty
// window. In rate and predictive modes a slow probe counts as a failed one while the slow-call
// rule is on.
//
// Owns: the state, in one 64-bit atomic word, and the failure window (failure_window.h).
// Threading: one breaker per server, shared by every worker thread. Asking for permission,
// recording an outcome and releasing a permit are lock-free: atomics only, O(1), no
// allocation, no system call. Time is the caller's now_ns (the loop's cached clock); nothing
// runs on a timer: OPEN becomes HALF_OPEN when a request asks after the timeout.
// Invariants: every state change is one compare-and-swap on the state word, so each happens
// exactly once and is reported to exactly one caller, and the word's generation counts them;
// a half-open period admits at most half_open_requests probes at once. Outcomes count only in
// the period (generation) that permitted them: a request that ends after the breaker moved on
// is ignored (failure_window.h states the one race left to a request ending just then).
// Cost: try_acquire while closed is one atomic load; record in consecutive mode is a load,
// plus a compare-and-swap after a failure; record in rate mode adds the window's record (see
// failure_window.h); trip (rare) reads the window's totals, then one compare-and-swap.
// Measured (scratch benchmark, one thread, 10% failures), try_acquire then record: 2 ns + 5 ns
// consecutive, 2 + 18 ns rate over a time window, 2 + 38 ns over a count window. Two threads
// doing nothing else on one breaker pay for the shared cache lines: about 40, 130 and
// 200-280 ns.
// Source: the seed's Layer 5 state machine; Resilience4j's CircuitBreaker for the rate mode.

#include <atomic>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "health/failure_window.h"

namespace ballast::health {

enum class BreakerState : uint8_t { closed, open, half_open };

std::string_view state_name(BreakerState state) noexcept;

enum class TransitionReason : uint8_t {
  none,
  consecutive_failures,
  failure_rate,
  slow_call_rate,
  timeout_elapsed,
  probe_failed,
  probes_succeeded,
  predicted_failure,  // trip(): a worker's FailurePredictor, predictive mode
};

// For logs: "failure rate reached the threshold", and so on.
std::string_view reason_text(TransitionReason reason) noexcept;

// A state change, reported once, to the caller whose call made it, for it to log and count.
struct Transition {
  BreakerState from = BreakerState::closed;
  BreakerState to = BreakerState::closed;
  TransitionReason reason = TransitionReason::none;
  uint32_t generation = 0;  // the generation it began
  WindowTotals window;      // failure_rate, slow_call_rate: the window that tripped it;
                            // predicted_failure: the window when the model tripped it

  bool happened() const noexcept { return reason != TransitionReason::none; }
};

// The answer to try_acquire(). A permit that is allowed must be given back exactly once:
// through record() when the request ran, or release() when it never did.
struct Permit {
  bool allowed = false;
  bool probe = false;       // a half-open probe, holding one of half_open_requests slots
  uint32_t generation = 0;  // the breaker's generation when it was granted
  Transition transition;    // OPEN -> HALF_OPEN when this call made that change
};

// What the breaker holds, for metrics and the status page. Read without a lock, so while
// others record it may lag them by the calls in flight.
struct BreakerSnapshot {
  BreakerState state = BreakerState::closed;
  uint32_t generation = 0;            // state changes so far, modulo 2^22
  uint64_t consecutive_failures = 0;  // consecutive mode, closed
  uint32_t probes_in_flight = 0;      // half-open
  uint32_t probe_successes = 0;       // half-open
  uint64_t half_open_at_ns = 0;       // open: when a request may probe (whole milliseconds)
  WindowTotals window;                // rate mode, closed: the window as of now_ns
};

class CircuitBreaker {
 public:
  // half_open_requests and success_threshold are clamped to this (20 bits of the state word).
  static constexpr uint32_t kMaxHalfOpenCount = config::kMaxHalfOpenCount;
  // The generation counts state changes modulo 2^kGenerationBits.
  static constexpr int kGenerationBits = 22;

  // Made only for an enabled breaker; its fields as loaded (config.h).
  explicit CircuitBreaker(const config::CircuitBreakerConfig& config) noexcept;
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // May a request go to this server now? Denied while open (until the timeout has passed) and
  // while half-open with every probe slot taken.
  Permit try_acquire(uint64_t now_ns) noexcept;

  // The request the permit allowed has ended. success is the caller's verdict (connect
  // failure, reset, timeout or a 5xx counted as failure make it false); latency_ns decides
  // whether it was slow. Returns the state change it caused, if any.
  Transition record(const Permit& permit, bool success, uint64_t latency_ns,
                    uint64_t now_ns) noexcept;

  // Opens a closed breaker now, for a reason decided outside it (predicted_failure), with the
  // same timeout as any opening. One compare-and-swap (retried only if a concurrent record
  // changed the closed word); an empty Transition when the breaker is not closed, so of several
  // workers tripping it at once exactly one is told it did. The Transition's window is the rate
  // window as it stood.
  Transition trip(uint64_t now_ns, TransitionReason reason) noexcept;

  // Opens the breaker until half_open_at_ns (CLOCK_MONOTONIC, which every process on the host
  // shares): a binary upgrade's new process taking over a breaker its predecessor had open, so
  // the server gets no request before its timeout ends there. Before any request (no race).
  void resume_open(uint64_t half_open_at_ns) noexcept;

  // The request the permit allowed never ran (another check refused it, the client left):
  // gives back its probe slot. Nothing to do for a permit that is not a probe.
  void release(const Permit& permit) noexcept;

  // The state as last changed: OPEN stays OPEN after its timeout until a request asks.
  BreakerState state() const noexcept;
  BreakerSnapshot snapshot(uint64_t now_ns) const noexcept;

 private:
  Transition record_closed(const Permit& permit, bool failed, bool slow, uint64_t now_ns) noexcept;
  Transition record_probe(const Permit& permit, bool failed, uint64_t now_ns) noexcept;
  TransitionReason rate_exceeded(const WindowTotals& totals) const noexcept;
  uint64_t open_word(uint32_t generation, uint64_t now_ns) const noexcept;

  const bool rate_mode_;
  const uint64_t failure_threshold_;  // failures in a row, or percent in rate mode
  const uint64_t timeout_ms_;
  const uint32_t half_open_requests_;
  const uint32_t success_threshold_;
  const uint64_t min_requests_;
  const uint64_t slow_call_rate_percent_;  // 0 = slow calls never open it
  const uint64_t slow_call_ns_;
  // The state machine: state, generation and the state's own fields (see circuit_breaker.cc).
  // Written by any worker, only by compare-and-swap.
  std::atomic<uint64_t> word_;
  // Rate mode only. Its counters are written on every call, so it starts a cache line of its
  // own, away from the word every request reads.
  alignas(64) FailureWindow window_;
};

}  // namespace ballast::health
