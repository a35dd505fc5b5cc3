#include "health/failure_predictor.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/clock.h"
#include "health/circuit_breaker.h"

namespace ballast::health {
namespace {

constexpr double kLearningRate = 0.001;
constexpr double kPullToPrior = 0.005;  // per step, times the learning rate
constexpr double kFailureAlpha = 1.0 / 16;
// The latency and in-flight EWMAs, by their span in calls: alpha = 1 / span.
constexpr double kFastSpan = 8;
constexpr double kMediumSpan = 32;
constexpr double kSlowSpan = 1024;
// Error recency halves every 8 calls: 2^(-1/8).
constexpr double kRecencyDecay = 0.917'004'043'204'671'2;
// Without a time window to follow, evidence older than this is dropped.
constexpr uint64_t kDefaultIdleResetNs = 10'000 * core::kNsPerMs;

// log2(x) for x >= 1 to within 0.008 (0.5% in x), from the double's exponent and mantissa: the
// mantissa's log2(1 + f) is approximated by f + 0.3466 f (1 - f). Exact at powers of two, so
// scaling every latency by 2^k moves every log by exactly k and leaves the ratios alone.
double log2_approx(double x) noexcept {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  const auto exponent = static_cast<int64_t>((bits >> 52) & 0x7ff) - 1023;
  const double fraction =
      static_cast<double>(bits & ((uint64_t{1} << 52) - 1)) * 0x1.0p-52;  // f in [0, 1)
  return static_cast<double>(exponent) + fraction + 0.3466 * fraction * (1.0 - fraction);
}

// An EWMA whose first samples are averaged plainly (alpha 1/n until 1/n falls to alpha), so that
// a fresh baseline is the mean of what it has seen rather than biased toward its first value.
// (Divides only while young: 1 / span is a constant once inlined.)
double ewma(double average, double sample, double span, uint64_t samples) noexcept {
  const auto count = static_cast<double>(samples);
  const double step = count < span ? 1.0 / count : 1.0 / span;
  return average + step * (sample - average);
}

// Is generation a later one than seen, on the breaker's wrapping counter?
bool later_generation(uint32_t generation, uint32_t seen) noexcept {
  constexpr uint32_t kMask = (1u << CircuitBreaker::kGenerationBits) - 1;
  const uint32_t ahead = (generation - seen) & kMask;
  return ahead != 0 && ahead < (1u << (CircuitBreaker::kGenerationBits - 1));
}

}  // namespace

FailurePredictor::FailurePredictor(const config::CircuitBreakerConfig& config) noexcept
    : threshold_(config.prediction_threshold),
      warm_up_calls_(std::max<uint64_t>(config.min_requests, 1)),
      idle_reset_ns_(config.window_type == config::WindowType::time
                         ? std::max<uint64_t>(config.window_size, 1) * core::kNsPerMs
                         : kDefaultIdleResetNs) {
  predict();
}

double FailurePredictor::record(bool failed, uint64_t latency_ns, uint32_t in_flight,
                                uint32_t generation, uint64_t now_ns) noexcept {
  const bool new_period = later_generation(generation, generation_);
  const bool idle = calls_seen_ != 0 && now_ns > last_call_ns_ + idle_reset_ns_;
  if (new_period || idle) {
    generation_ = new_period ? generation : generation_;
    restart();  // before learning: what it predicted for this call is what a restart leaves
  }
  last_call_ns_ = std::max(last_call_ns_, now_ns);
  learn(failed ? 1.0 : 0.0);
  observe(failed, latency_ns, in_flight);
  predict();
  return probability_;
}

bool FailurePredictor::predicts_failure() const noexcept {
  return calls_since_restart_ >= warm_up_calls_ && probability_ > threshold_;
}

void FailurePredictor::restart() noexcept {
  failure_rate_ = 0.0;
  error_recency_ = 0.0;
  latency_fast_ = latency_slow_;
  latency_medium_ = latency_slow_;
  in_flight_fast_ = in_flight_slow_;
  calls_since_restart_ = 0;
  predict();
}

// One SGD step on the log loss -[y log p + (1 - y) log(1 - p)], whose gradient in w is
// (p - y) x, at the features and probability predicted for this call.
void FailurePredictor::learn(double label) noexcept {
  const double error = label - probability_;
  for (int i = 0; i < kFeatureCount; ++i) {
    const double pull = kPullToPrior * (kPriorWeights[i] - weights_[i]);
    weights_[i] = std::clamp(weights_[i] + kLearningRate * (error * features_[i] + pull),
                             kMinWeights[i], kMaxWeights[i]);
  }
}

void FailurePredictor::observe(bool failed, uint64_t latency_ns, uint32_t in_flight) noexcept {
  ++calls_seen_;
  ++calls_since_restart_;
  failure_rate_ += kFailureAlpha * ((failed ? 1.0 : 0.0) - failure_rate_);
  error_recency_ = failed ? 1.0 : error_recency_ * kRecencyDecay;
  const double load = log2_approx(static_cast<double>(in_flight) + 1.0);
  in_flight_fast_ = ewma(in_flight_fast_, load, kFastSpan, calls_seen_);
  in_flight_slow_ = ewma(in_flight_slow_, load, kSlowSpan, calls_seen_);
  if (!failed) {
    ++latency_samples_;
    // 1 ns at least: a zero latency (a fake clock, a cached one) is as fast as it gets.
    const double latency = log2_approx(static_cast<double>(std::max<uint64_t>(latency_ns, 1)));
    latency_fast_ = ewma(latency_fast_, latency, kFastSpan, latency_samples_);
    latency_medium_ = ewma(latency_medium_, latency, kMediumSpan, latency_samples_);
    latency_slow_ = ewma(latency_slow_, latency, kSlowSpan, latency_samples_);
  }
}

void FailurePredictor::predict() noexcept {
  features_[kBias] = 1.0;
  features_[kFailureRate] = failure_rate_;
  features_[kLatencyLevel] = std::clamp(latency_fast_ - latency_slow_, -1.0, 4.0);
  features_[kLatencyTrend] = std::clamp(latency_fast_ - latency_medium_, -1.0, 2.0);
  features_[kInFlightLevel] = std::clamp(in_flight_fast_ - in_flight_slow_, -1.0, 4.0);
  features_[kErrorRecency] = error_recency_;
  // Summed in pairs, not in one chain: the sum's latency is on every record's critical path.
  const Vector& w = weights_;
  const Vector& x = features_;
  const double z =
      (w[0] * x[0] + w[1] * x[1]) + (w[2] * x[2] + w[3] * x[3]) + (w[4] * x[4] + w[5] * x[5]);
  static_assert(kFeatureCount == 6);
  probability_ = 1.0 / (1.0 + std::exp(-z));
}

}  // namespace ballast::health
