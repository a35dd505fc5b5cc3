#pragma once
// Reads the process-wide blocks that are not about traffic: `admin:`, `monitoring:` and
// `tracing:`.
//
// Threading: start-up only.

#include <optional>
#include <string>
#include <string_view>

#include "config/address_book.h"
#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// Both read a null `node` (the block not written) as all defaults, and claim their addresses in
// `addresses`: the admin API's, then the metrics endpoint's (on every address of its port).
AdminConfig read_admin(const Node& node, AddressBook& addresses);

MonitoringConfig read_monitoring(const Node& node, AddressBook& addresses);

// `tracing:` at the top level, or the same block as `monitoring.tracing` (the design document's
// place for it).
TracingConfig read_tracing(const Node& node);
std::optional<Node> nested_tracing(const Node& monitoring);

// The OTLP/HTTP URL Jaeger (1.35 and later) takes spans at, from a `jaeger_endpoint`: the same
// host, port 4318, path /v1/traces. Empty when `jaeger_endpoint` is no http:// URL.
std::string jaeger_otlp_url(std::string_view jaeger_endpoint);

}  // namespace ballast::config
