#pragma once
// A cluster's `protocol`, `http2` and `grpc` keys: what its servers speak, and how gRPC answers
// count (docs/config.md "HTTP/2 to servers").

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// Reads the keys from `cluster_map` into `cluster`, whose upstream_tls is already read: h2
// needs it (and offers ALPN h2 through it), h2c refuses it.
void read_upstream_protocol(const MapView& cluster_map, ClusterConfig& cluster);

// A grpc-status code by its name (UNAVAILABLE, any case) or its number (0-16).
uint32_t read_grpc_code(const Node& node);

}  // namespace ballast::config
