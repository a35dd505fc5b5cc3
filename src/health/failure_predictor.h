#pragma once
// The model behind `mode: predictive`: an online logistic regression that, from how one server
// has been answering, predicts the chance that its next call fails. When that chance exceeds
// prediction_threshold the worker trips the server's circuit breaker
// (CircuitBreaker::trip, reason predicted_failure); otherwise the breaker acts in rate mode.
//
// Features, each computed before the outcome it is trained on (x0 = 1 is the bias):
//   x1  recent failure rate: an EWMA of failures over about the last 16 calls (alpha 1/16).
//   x2  latency level: how much slower the server is than its usual, in doublings:
//       log2(fast latency EWMA / slow baseline), clamped to [-1, 4]. Both are EWMAs of
//       log2(latency) (geometric means, so one spike moves them less than an arithmetic mean
//       would); alpha 1/8 and 1/1024. A ratio, so it means the same for a 1 ms and a 1 s backend.
//   x3  latency trend: log2(fast EWMA / medium EWMA, alpha 1/32), clamped to [-1, 2]: positive
//       while latency is climbing, about 24 x the climb per call, back to 0 once it levels off.
//   x4  in-flight level: log2(in_flight + 1), fast EWMA over slow baseline, clamped to [-1, 4].
//       At a steady arrival rate it rises with latency (Little's law), and with load.
//   x5  error recency, the "time since the last error": 1 right after a failure, halving every
//       8 calls. Counted in calls, not seconds, so that it is scale-free in traffic as well;
//       wall time enters through the idle reset below.
// Latency features are fed by successful calls only: a failed call's latency says how it failed
// (a refused connection takes microseconds, a timeout takes the timeout), not how slow the server
// is; the failure features carry the failures.
//
// The model: p = 1 / (1 + e^-(w . x)). The prior weights make an untrained model on a steady
// healthy server predict 2% (bias -3.9); failures, rising latency and load push it up. Alone, a
// 20x slowdown cannot open it (p peaks near 0.16): a server that is merely slow is
// slow_call_rate's business. Latency lowers the failure evidence it needs: with latency flat,
// half of the recent calls failing does not open it (the line is near 5 in 8); with latency 4x its
// usual, half does.
//
// Training: one SGD step on the log loss per outcome, learning rate 0.001, plus a pull of
// 0.005 x (prior - w) per step, each weight then clipped to a range: the bias to [-8, 0], every
// other weight to [0, 3 x its prior]. The rate is small on purpose: the features carry the last
// seconds, the weights summarise minutes. A faster learner calibrates away the warning in a
// latency climb during the climb itself (no failure has come yet), and then, when failures do
// come, opens no earlier than one without latency features (measured: at 0.01 the climb in the
// comparison test gained ~0.6 s on average, at 0.001 ~1.6 s). One burst moves it little (10,000
// failures in a row move no weight by 0.5: the log loss's gradient fades as p nears the label).
// The pull keeps a long healthy stretch, where latency noise does not predict the rare failures,
// from erasing the latency weights; non-negative weights keep the model monotone (more
// failures, more latency never predict fewer failures), whatever the server teaches it.
//
// Warm-up and periods: it predicts failure only after min_requests calls (as the rate window
// needs min_requests before it judges) since it started, restarted, or last saw a new breaker
// generation. A new generation (the breaker opened, probed, closed) or an idle gap longer than
// the rate window (10 s for a count window) restarts it: the short-term evidence (failure EWMA,
// error recency, fast and medium EWMAs) is dropped and warm-up begins again, as the rate breaker
// starts each closed period with an empty window. The learned weights and the slow baselines
// (what is usual for this server) are kept.
//
// Owns: the weights, the features' EWMAs, the counters above: 224 bytes, nothing allocated.
// Threading: single-threaded and not shared: each worker keeps one per server and feeds it the
// outcomes it sees (so it learns from 1/workers of the traffic). The breaker is the one shared
// thing; tripping it is one compare-and-swap.
// Cost: record is O(1): two log2 approximations (bit tricks, no libm), about 60 flops, one exp
// and one division. Measured (scratch benchmark, -O2, one thread, 64 predictors in turn): about
// 30 ns per record, of which the benchmark's own loop is ~5 and exp ~6.
// Measured (failure_predictor_test.cc, simulated): a backend that slows 20x over 10 s, then fails
// more and more: opened 3.6 s after failures began (5.2 s with latency flat), the rate breaker
// (short config) 9.9 s after; means of 100 seeds. False opens: a healthy noisy backend (1% random
// failures, lognormal latency with spikes and slow spells): 0 in 1,000,000 calls, highest p 0.49.
// With random failures alone: 0 per million calls at 5%, 1 at 10%, 6 at 20%. Source: textbook
// online logistic regression (stochastic gradient descent on the log loss, with an L2 pull toward
// the prior); the features and the prior weights are ours.

#include <array>
#include <cstdint>

#include "config/config.h"

namespace ballast::health {

class FailurePredictor {
 public:
  enum Feature : uint8_t {
    kBias,
    kFailureRate,
    kLatencyLevel,
    kLatencyTrend,
    kInFlightLevel,
    kErrorRecency,
    kFeatureCount,
  };
  using Vector = std::array<double, kFeatureCount>;

  // Weights of an untrained model, and the range training keeps each weight in.
  static constexpr Vector kPriorWeights = {-3.9, 6.0, 0.6, 0.8, 0.3, 1.0};
  static constexpr Vector kMinWeights = {-8.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  static constexpr Vector kMaxWeights = {0.0, 18.0, 1.8, 2.4, 0.9, 3.0};

  // Uses prediction_threshold, min_requests and the rate window's length (the idle reset).
  explicit FailurePredictor(const config::CircuitBreakerConfig& config) noexcept;

  // One call to this server ended (not a cancelled one: it never ran). failed: the breaker's
  // verdict; latency_ns: how long it took; in_flight: the server's attempts in flight now;
  // generation: the breaker generation of the call's permit (Permit::generation); now_ns: the
  // loop's clock. Trains on this outcome against the features as they were before it, updates
  // the features with it, and returns the predicted failure probability of the next call.
  double record(bool failed, uint64_t latency_ns, uint32_t in_flight, uint32_t generation,
                uint64_t now_ns) noexcept;

  // Whether the last record() predicts failure: its probability exceeds prediction_threshold
  // and warm-up is over. The caller then trips the breaker.
  bool predicts_failure() const noexcept;

  // Drops the short-term evidence and starts warm-up again (see "Warm-up and periods"). record()
  // does this itself on a new generation or an idle gap.
  void restart() noexcept;

  // For tests and the status page.
  double probability() const noexcept { return probability_; }
  const Vector& features() const noexcept { return features_; }
  const Vector& weights() const noexcept { return weights_; }
  uint64_t calls_since_restart() const noexcept { return calls_since_restart_; }
  uint64_t warm_up_calls() const noexcept { return warm_up_calls_; }

 private:
  void learn(double label) noexcept;
  void observe(bool failed, uint64_t latency_ns, uint32_t in_flight) noexcept;
  void predict() noexcept;  // features_ and probability_ from the EWMAs

  double threshold_;
  uint64_t warm_up_calls_;
  uint64_t idle_reset_ns_;

  Vector weights_ = kPriorWeights;
  Vector features_{};         // x for the next call, as predicted
  double probability_ = 0.0;  // p for the next call
  // The EWMAs behind the features; latency and in-flight in log2 units.
  double failure_rate_ = 0.0;
  double error_recency_ = 0.0;
  double latency_fast_ = 0.0;
  double latency_medium_ = 0.0;
  double latency_slow_ = 0.0;
  double in_flight_fast_ = 0.0;
  double in_flight_slow_ = 0.0;
  uint64_t latency_samples_ = 0;  // successes seen, for the baselines' start (then alpha 1/n)
  uint64_t calls_seen_ = 0;       // every outcome, for the in-flight baseline's start
  uint64_t calls_since_restart_ = 0;
  uint64_t last_call_ns_ = 0;
  uint32_t generation_ = 0;
};

}  // namespace ballast::health
