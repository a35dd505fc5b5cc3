#include "admin/admin_host.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace ballast::admin {
namespace {

bool same_name(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

struct HostPort {
  std::string_view name;  // an IPv6 literal keeps its brackets
  std::string_view port;  // empty when absent
};

HostPort split(std::string_view host) noexcept {
  const size_t close = host.starts_with('[') ? host.find(']') : std::string_view::npos;
  const size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || (close != std::string_view::npos && colon < close)) {
    return {host, {}};
  }
  return {host.substr(0, colon), host.substr(colon + 1)};
}

// localhost, [::1] or an IPv4 literal in 127.0.0.0/8 (a name like 127.0.0.1.example is not).
bool is_loopback_name(std::string_view name) noexcept {
  if (same_name(name, "localhost") || name == "[::1]") {
    return true;
  }
  in_addr address{};
  return inet_pton(AF_INET, std::string(name).c_str(), &address) == 1 &&
         (ntohl(address.s_addr) >> 24) == 127;
}

}  // namespace

bool is_admin_host(std::string_view host, const config::Endpoint& listen,
                   const std::vector<std::string>& allowed_hosts) noexcept {
  const HostPort given = split(host);
  if (given.name.empty()) {
    return false;
  }
  for (const std::string& entry : allowed_hosts) {
    const HostPort allowed = split(entry);
    if (same_name(given.name, allowed.name) &&
        (allowed.port.empty() || allowed.port == given.port)) {
      return true;
    }
  }
  const std::string port = std::to_string(listen.port);
  if (!given.port.empty() && given.port != port) {
    return false;
  }
  const bool ipv6 = listen.host.find(':') != std::string::npos;
  const std::string listen_name = ipv6 ? "[" + listen.host + "]" : listen.host;
  return is_loopback_name(given.name) || same_name(given.name, listen_name);
}

}  // namespace ballast::admin
