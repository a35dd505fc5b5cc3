#pragma once
// Which Host a request that changes something must name (DNS rebinding defence).
//
// A web page can make the operator's browser send requests to the admin API on loopback by
// pointing a name of its own at 127.0.0.1; it chooses Origin and everything else it sends, but
// the browser's Host is still the page's name. So a write is accepted only when Host names the
// admin API itself: its listen address (host, or host:port), `localhost`, a loopback literal
// (127.x.y.z, [::1]) with the admin port, or an entry of admin.allowed_hosts (a name, matching
// any port, or name:port, matching that port only). Names compare case-insensitively.
//
// Threading: a pure function.

#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace ballast::admin {

bool is_admin_host(std::string_view host, const config::Endpoint& listen,
                   const std::vector<std::string>& allowed_hosts) noexcept;

}  // namespace ballast::admin
