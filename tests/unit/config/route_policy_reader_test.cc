// A route's name, request_headers, response_headers, rewrite_prefix and redirect
// (docs/config.md "Header rules, rewrites and redirects").

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_error_of.h"

namespace ballast::config {
namespace {

using test_support::error_of;

std::string with_route(const std::string& route) {
  return "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:8080\n"
         "    routes:\n"
         "      - " +
         route +
         "\n"
         "clusters:\n"
         "  app: {servers: [{host: 10.0.0.7, port: 80}]}\n";
}

TEST(RoutePolicyReader, ReadsHeaderRulesRewriteAndNames) {
  const Config config = parse_config(
      with_route("{path_prefix: /api/, cluster: app, rewrite_prefix: /, request_headers: "
                 "{set: {X-Env: prod}, add: {X-Client: '${client_ip}'}, remove: [X-Debug]}, "
                 "response_headers: {add: {X-Served-By: '${server}'}}}"),
      "c.yaml");
  const RouteConfig& route = config.listeners.front().routes.front();
  EXPECT_EQ(route.name, "app");  // the cluster's, unless named
  EXPECT_EQ(route.rewrite_prefix, "/");
  ASSERT_EQ(route.request_headers.set.size(), 1u);
  EXPECT_EQ(route.request_headers.set[0].name, "X-Env");
  EXPECT_EQ(route.request_headers.remove, std::vector<std::string>{"x-debug"});
  EXPECT_TRUE(route.request_headers.add[0].value.uses(http::TemplateVariable::client_ip));
  EXPECT_TRUE(route.response_headers.add[0].value.uses(http::TemplateVariable::server));
  EXPECT_FALSE(route.redirect.enabled);
}

TEST(RoutePolicyReader, ARedirectNeedsNoCluster) {
  const Config config = parse_config(
      with_route("{redirect: {location: 'https://example.com${path}', status: 301}}"), "c.yaml");
  const RouteConfig& route = config.listeners.front().routes.front();
  EXPECT_TRUE(route.redirect.enabled);
  EXPECT_EQ(route.redirect.status, 301);
  EXPECT_EQ(route.name, "redirect");
  EXPECT_EQ(route.cluster, "");
}

TEST(RoutePolicyReader, RefusesWhatCannotWork) {
  EXPECT_EQ(error_of(with_route("{cluster: app, request_headers: {set: {Content-Length: 1}}}")),
            "c.yaml:5:48: listeners[0].routes[0].request_headers.set.Content-Length: "
            "Content-Length is ballast's to write (framing, hop-by-hop or forwarding; see "
            "forwarding:)");
  EXPECT_EQ(error_of(with_route("{cluster: app, response_headers: {add: {X-A: '${path}'}}}")),
            "c.yaml:5:54: listeners[0].routes[0].response_headers.add.X-A: unknown variable "
            "${path}; known here: ${client_ip}, ${request_id}, ${route}, ${scheme}, ${server}");
  EXPECT_EQ(error_of(with_route("{cluster: app, request_headers: {remove: ['bad name']}}")),
            "c.yaml:5:51: listeners[0].routes[0].request_headers.remove[0]: expected a header "
            "field name (letters, digits, - and the like), got the string \"bad name\"");
  EXPECT_EQ(error_of(with_route("{cluster: app, request_headers: {add: {host: a}}}")),
            "c.yaml:5:48: listeners[0].routes[0].request_headers.add.host: a request has exactly "
            "one Host: set it, do not add or remove it");
  EXPECT_EQ(error_of(with_route("{cluster: app, rewrite_prefix: /v2/}")),
            "c.yaml:5:40: listeners[0].routes[0].rewrite_prefix: rewrite_prefix replaces the "
            "route's path_prefix: set one");
  EXPECT_EQ(error_of(with_route("{cluster: app, redirect: {location: /x}}")),
            "c.yaml:5:19: listeners[0].routes[0].cluster: a redirect route answers the client "
            "itself: no cluster");
  EXPECT_EQ(error_of(with_route("{redirect: {location: '${path}/'}}")),
            "c.yaml:5:31: listeners[0].routes[0].redirect.location: begin with a scheme and host "
            "or a /, not ${path}: a path such as //other.example/ would send clients to another "
            "site");
  EXPECT_EQ(error_of(with_route("{redirect: {location: /x, status: 304}}")),
            "c.yaml:5:43: listeners[0].routes[0].redirect.status: a redirect is 301, 302, 303, "
            "307 or 308");
}

}  // namespace
}  // namespace ballast::config
