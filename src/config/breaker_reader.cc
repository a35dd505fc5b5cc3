#include "config/breaker_reader.h"

#include <algorithm>
#include <array>
#include <string>

namespace ballast::config {
namespace {

constexpr std::array<Named<BreakerMode>, 3> kModes = {{
    {"consecutive", BreakerMode::consecutive},
    {"rate", BreakerMode::rate},
    {"predictive", BreakerMode::predictive},
}};

constexpr std::array<Named<WindowType>, 2> kWindowTypes = {{
    {"count", WindowType::count},
    {"time", WindowType::time},
}};

std::string_view mode_name(BreakerMode mode) {
  const auto it =
      std::find_if(kModes.begin(), kModes.end(),
                   [mode](const Named<BreakerMode>& named) { return named.value == mode; });
  return it->name;
}

}  // namespace

void apply_breaker_block(const MapView& block, BreakerLayers& layers) {
  CircuitBreakerConfig& config = layers.config;
  const std::optional<Node> enabled = block.find("enabled");
  config.enabled = enabled ? enabled->as_bool() : true;
  if (const std::optional<Node> mode = block.find("mode")) {
    config.mode = mode->as_enum(kModes);
    layers.mode_given = true;
  }
  if (std::optional<Node> threshold = block.find("failure_threshold")) {
    config.failure_threshold = threshold->as_uint<uint32_t>(1);
    layers.failure_threshold = std::move(threshold);
  }
  if (const std::optional<Node> timeout = block.find("timeout")) {
    config.timeout_ms = timeout->as_positive_duration_ms();
  }
  if (const std::optional<Node> requests = block.find("half_open_requests")) {
    config.half_open_requests = requests->as_uint<uint32_t>(1, kMaxHalfOpenCount);
  }
  if (const std::optional<Node> successes = block.find("success_threshold")) {
    config.success_threshold = successes->as_uint<uint32_t>(1, kMaxHalfOpenCount);
  }
  if (const std::optional<Node> type = block.find("window_type")) {
    config.window_type = type->as_enum(kWindowTypes);
    layers.rate_fields_given = true;
  }
  if (std::optional<Node> size = block.find("window_size")) {
    // Checked against the window type in resolve_breaker(); here only that it is a count or a
    // duration at all.
    if (!size->is_integer()) {
      size->as_positive_duration_ms();
    }
    layers.window_size = std::move(size);
    layers.rate_fields_given = true;
  }
  if (const std::optional<Node> requests = block.find("min_requests")) {
    config.min_requests = requests->as_uint<uint32_t>(1);
    layers.rate_fields_given = true;
  }
  if (const std::optional<Node> rate = block.find("slow_call_rate_threshold")) {
    config.slow_call_rate_threshold = rate->as_percent(1);
  }
  if (const std::optional<Node> duration = block.find("slow_call_duration")) {
    config.slow_call_duration_ms = duration->as_positive_duration_ms();
  }
  if (const std::optional<Node> threshold = block.find("prediction_threshold")) {
    config.prediction_threshold = threshold->as_double(0, 1);
  }
  if (const std::optional<Node> pending = block.find("max_pending_requests")) {
    config.max_pending_requests = pending->as_uint<uint32_t>();
  }
  if (const std::optional<Node> requests = block.find("max_requests")) {
    config.max_requests = requests->as_uint<uint32_t>();
  }
  if (const std::optional<Node> retries = block.find("max_retries")) {
    config.max_retries = retries->as_uint<uint32_t>();
  }
}

CircuitBreakerConfig resolve_breaker(const BreakerLayers& layers) {
  CircuitBreakerConfig config = layers.config;
  if (!layers.mode_given) {
    config.mode = layers.rate_fields_given ? BreakerMode::rate : BreakerMode::consecutive;
  }
  const bool percent = config.mode != BreakerMode::consecutive;
  if (!layers.failure_threshold) {
    config.failure_threshold = percent ? kDefaultFailureRatePercent : config.failure_threshold;
  } else if (percent && config.failure_threshold > 100) {
    layers.failure_threshold->fail("is a percentage in " + std::string(mode_name(config.mode)) +
                                   " mode: must be between 1 and 100, got " +
                                   std::to_string(config.failure_threshold));
  }
  if (!layers.window_size) {
    config.window_size =
        config.window_type == WindowType::count ? kDefaultCountWindowCalls : config.window_size;
  } else if (config.window_type == WindowType::count) {
    if (!layers.window_size->is_integer()) {
      layers.window_size->fail("a count window's size is a number of calls, such as 100");
    }
    config.window_size = layers.window_size->as_uint<uint64_t>(1, kMaxCountWindowCalls);
  } else {
    if (layers.window_size->is_integer()) {
      layers.window_size->fail(
          "a time window's size is a duration such as 10s (for a number of calls, set "
          "window_type: count)");
    }
    config.window_size = layers.window_size->as_positive_duration_ms();
  }
  return config;
}

}  // namespace ballast::config
