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

bool sni_matches(std::string_view pattern, std::string_view name) noexcept {
  if (!pattern.starts_with("*.")) {
    return pattern == name;
  }
  const size_t dot = name.find('.');
  return dot != 0 && dot != std::string_view::npos && name.substr(dot) == pattern.substr(1);
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

const config::RouteConfig* find_sni_route(const config::ListenerConfig& listener,
                                          std::string_view server_name) noexcept {
  for (const config::RouteConfig& route : listener.routes) {
    if (route.sni.empty() || sni_matches(route.sni, server_name)) {
      return &route;
    }
  }
  return nullptr;
}

}  // namespace ballast::proxy
