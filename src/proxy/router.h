#pragma once
// Routing: which cluster a request on a listener goes to, by host and path prefix. The first
// matching route wins, in configuration order (as nginx's prefix locations would if listed
// longest first, which the configuration guide advises).

#include <string_view>

#include "config/config.h"

namespace ballast::proxy {

// The matching route, or nullptr. `host` may carry a port (ignored); matching is
// case-insensitive on the host, exact on the path prefix.
const config::RouteConfig* find_route(const config::ListenerConfig& listener, std::string_view host,
                                      std::string_view target) noexcept;

}  // namespace ballast::proxy
