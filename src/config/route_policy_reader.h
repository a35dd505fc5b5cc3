#pragma once
// Reads what an http route does besides choosing a cluster: its name, request_headers and
// response_headers (http/header_rules.h), rewrite_prefix, and redirect.
//
// Threading: start-up only.

#include <array>
#include <string_view>

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

inline constexpr std::array<std::string_view, 5> kRoutePolicyKeys = {
    "name", "request_headers", "response_headers", "rewrite_prefix", "redirect"};

// The kRoutePolicyKeys of `fields` into `route` (whose path_prefix is already read). `tcp`: the
// listener is in tcp mode, where none of them applies.
void read_route_policy(const MapView& fields, bool tcp, RouteConfig& route);

}  // namespace ballast::config
