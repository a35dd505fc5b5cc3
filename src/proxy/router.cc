#include "proxy/router.h"

#include <algorithm>
#include <cctype>

namespace ballast::proxy {
namespace {

std::string_view without_port(std::string_view host) noexcept {
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    const size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool same_host(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

const config::RouteConfig* find_route(const config::ListenerConfig& listener, std::string_view host,
                                      std::string_view target) noexcept {
  const std::string_view bare_host = without_port(host);
  for (const config::RouteConfig& route : listener.routes) {
    if (!route.host.empty() && !same_host(route.host, bare_host)) {
      continue;
    }
    if (!route.path_prefix.empty() && !target.starts_with(route.path_prefix)) {
      continue;
    }
    return &route;
  }
  return nullptr;
}

}  // namespace ballast::proxy
