#pragma once
// Reads circuit_breaker blocks. A cluster's breaker comes in layers, most general first: the
// top-level `circuit_breaker:` (every cluster), then either its `circuit_breaker.services.<name>`
// entry or the cluster's own `circuit_breaker:`. Each layer overrides the fields it sets. Which
// mode a breaker runs in, and so what failure_threshold and window_size mean, is known only once
// every layer is read; BreakerLayers keeps where those two were set so that a value that does
// not fit the final mode is reported where it was written.
//
// Threading: start-up only.

#include <array>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

struct BreakerLayers {
  CircuitBreakerConfig config;
  bool mode_given = false;
  // A layer set window_size, window_type or min_requests: unless a mode is given, it is rate.
  bool rate_fields_given = false;
  std::optional<Node> failure_threshold;  // the last layer's, when one set it
  std::optional<Node> window_size;
};

inline constexpr std::array<std::string_view, 15> kBreakerKeys = {
    "enabled",
    "mode",
    "failure_threshold",
    "timeout",
    "half_open_requests",
    "success_threshold",
    "window_type",
    "window_size",
    "min_requests",
    "slow_call_rate_threshold",
    "slow_call_duration",
    "prediction_threshold",
    "max_pending_requests",
    "max_requests",
    "max_retries",
};

// Applies one block, read with (at least) kBreakerKeys, over `layers`. A block that is present
// turns the breaker on unless it says `enabled: false`.
void apply_breaker_block(const MapView& block, BreakerLayers& layers);

// The breaker the layers describe, after checking what depends on the final mode.
CircuitBreakerConfig resolve_breaker(const BreakerLayers& layers);

}  // namespace ballast::config
