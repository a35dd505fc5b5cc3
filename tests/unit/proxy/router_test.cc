#include "proxy/router.h"

#include <gtest/gtest.h>

namespace ballast::proxy {
namespace {

config::ListenerConfig listener_with_routes() {
  config::ListenerConfig listener;
  listener.routes = {
      {"api.example.com", "/v2/", "api-v2"},
      {"api.example.com", "", "api"},
      {"", "/static/", "static"},
      {"", "", "default"},
  };
  return listener;
}

std::string routed(std::string_view host, std::string_view target) {
  const config::ListenerConfig listener = listener_with_routes();
  const config::RouteConfig* route = find_route(listener, host, target);
  return route == nullptr ? "(none)" : route->cluster;
}

TEST(Router, FirstMatchingRouteWins) {
  EXPECT_EQ(routed("api.example.com", "/v2/users"), "api-v2");
  EXPECT_EQ(routed("api.example.com", "/v1/users"), "api");
  EXPECT_EQ(routed("www.example.com", "/static/a.css"), "static");
  EXPECT_EQ(routed("www.example.com", "/"), "default");
}

TEST(Router, HostMatchIgnoresCaseAndPort) {
  EXPECT_EQ(routed("API.Example.COM:8080", "/v2/x"), "api-v2");
  EXPECT_EQ(routed("[::1]:8080", "/static/x"), "static");
}

TEST(Router, NoRouteWhenNothingMatches) {
  config::ListenerConfig listener;
  listener.routes = {{"only.example.com", "", "x"}};
  EXPECT_EQ(find_route(listener, "other.example.com", "/"), nullptr);
}

}  // namespace
}  // namespace ballast::proxy
