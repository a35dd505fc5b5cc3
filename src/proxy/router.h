#pragma once
// Routing: which cluster a request on a listener goes to, by host and path prefix — or, on a tcp
// listener, a connection by its TLS server name. The first matching route wins, in configuration
// order (as nginx's prefix locations would if listed longest first, which the configuration
// guide advises).

#include <string_view>

#include "config/config.h"

namespace ballast::proxy {

// The matching route, or nullptr. `host` may carry a port (ignored); matching is
// case-insensitive on the host, exact on the path prefix.
const config::RouteConfig* find_route(const config::ListenerConfig& listener, std::string_view host,
                                      std::string_view target) noexcept;

// The first route of a tcp listener whose sni matches `server_name` (lowercase; empty when the
// client sent none): exactly, or for "*.rest" when the name is one label and ".rest". nullptr
// when none does.
const config::RouteConfig* find_sni_route(const config::ListenerConfig& listener,
                                          std::string_view server_name) noexcept;

}  // namespace ballast::proxy
