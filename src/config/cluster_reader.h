#pragma once
// Reads one cluster: its servers, how it balances, checks and protects them, and its timeouts.
// The same keys make up the short shape's `load_balancer:` block and each entry of `clusters:`.
//
// Threading: start-up only.

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "config/breaker_reader.h"
#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// What every cluster inherits from the top level of the file.
struct ClusterDefaults {
  TimeoutsConfig timeouts;  // from `timeouts:`
  BreakerLayers breaker;    // from `circuit_breaker:`
};

inline constexpr std::array<std::string_view, 18> kClusterKeys = {
    "algorithm",    "servers",           "hash_on",
    "health_check", "outlier_detection", "circuit_breaker",
    "retry",        "timeouts",          "session_affinity",
    "pool",         "regions",           "panic_threshold",
    "upstream_tls", "protocol",          "http2",
    "grpc",         "discovery",         "send_proxy_protocol",
};

inline constexpr std::array<std::string_view, 8> kTimeoutKeys = {
    "connect",     "client",      "server",    "client_header",
    "client_body", "client_send", "keepalive", "tunnel",
};

// Overrides the fields `block` (opened with kTimeoutKeys) sets.
void apply_timeouts(const MapView& block, TimeoutsConfig& timeouts);

// Reads the cluster keys of `map`, which was opened with kClusterKeys and possibly more (the
// short shape's listener keys). `service_breaker` is the cluster's entry under
// `circuit_breaker.services`, if it has one.
ClusterConfig read_cluster(std::string name, const MapView& map, const ClusterDefaults& defaults,
                           const std::optional<Node>& service_breaker);

}  // namespace ballast::config
