#include "proxy/router.h"

#include <gtest/gtest.h>

namespace ballast::proxy {
namespace {

config::ListenerConfig listener_with_routes() {
  config::ListenerConfig listener;
  listener.routes = {
      {.host = "api.example.com", .path_prefix = "/v2/", .cluster = "api-v2"},
      {.host = "api.example.com", .cluster = "api"},
      {.path_prefix = "/static/", .cluster = "static"},
      {.cluster = "default"},
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
  listener.routes = {{.host = "only.example.com", .cluster = "x"}};
  EXPECT_EQ(find_route(listener, "other.example.com", "/"), nullptr);
}

std::string routed_by_sni(std::string_view server_name) {
  config::ListenerConfig listener;
  listener.routes = {
      {.sni = "db.example.com", .cluster = "db"},
      {.sni = "*.example.com", .cluster = "any-example"},
      {.sni = "*.b.test", .cluster = "b"},
  };
  const config::RouteConfig* route = find_sni_route(listener, server_name);
  return route == nullptr ? "(none)" : route->cluster;
}

TEST(Router, SniRoutesMatchExactlyOrOneLabelUnderAWildcard) {
  EXPECT_EQ(routed_by_sni("db.example.com"), "db");
  EXPECT_EQ(routed_by_sni("web.example.com"), "any-example");
  EXPECT_EQ(routed_by_sni("a.b.example.com"), "(none)");  // a wildcard covers one label
  EXPECT_EQ(routed_by_sni("example.com"), "(none)");
  EXPECT_EQ(routed_by_sni("x.b.test"), "b");
  EXPECT_EQ(routed_by_sni(".b.test"), "(none)");
  EXPECT_EQ(routed_by_sni(""), "(none)");
}

TEST(Router, AnSniRouteWithoutANameTakesEveryConnectionLeft) {
  config::ListenerConfig listener;
  listener.routes = {{.sni = "a.test", .cluster = "a"}, {.cluster = "rest"}};
  EXPECT_EQ(find_sni_route(listener, "a.test")->cluster, "a");
  EXPECT_EQ(find_sni_route(listener, "b.test")->cluster, "rest");
  EXPECT_EQ(find_sni_route(listener, "")->cluster, "rest");
}

}  // namespace
}  // namespace ballast::proxy
