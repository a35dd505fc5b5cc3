// A route's `geo:` (docs/config.md "Geographic routing"): region name -> cluster, read with the
// route and checked against the top-level geo.regions once both are read.

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "config_error_of.h"
#include "listener_yaml.h"

namespace ballast::config {
namespace {

using test_support::error_of;
using GeoClusters = std::vector<std::pair<std::string, std::string>>;

const std::string kGeo =
    "geo:\n"
    "  networks: {10.1.0.0/16: eu-west, 10.2.0.0/16: us-east}\n"
    "  regions: {eu-west: {location: [53.35, -6.26]}, us-east: {location: [38.90, -77.04]}}\n";

const std::string kClusters =
    "clusters:\n"
    "  web-eu: {servers: [{host: 10.0.0.7, port: 80}]}\n"
    "  web-us: {servers: [{host: 10.0.0.8, port: 80}]}\n";

// Listener web with `routes`, one a line from line 5, and the clusters; `top` is added after.
std::string with_routes(const std::vector<std::string>& routes, const std::string& top = kGeo) {
  return test_support::web_listener(routes) + kClusters + top;
}

TEST(GeoRoutesConfig, ARoutesGeoLoadsInTheOrderWritten) {
  const Config config =
      parse_config(with_routes({"{path_prefix: /static/, cluster: web-eu}",
                                "{cluster: web-us, geo: {us-east: web-us, eu-west: web-eu}}"}),
                   "c.yaml");
  const std::vector<RouteConfig>& routes = config.listeners.front().routes;
  EXPECT_TRUE(routes[0].geo_clusters.empty());
  EXPECT_EQ(routes[1].geo_clusters, (GeoClusters{{"us-east", "web-us"}, {"eu-west", "web-eu"}}));
  EXPECT_EQ(routes[1].cluster, "web-us");  // clients of no known region
}

TEST(GeoRoutesConfig, ARouteMayMapSomeRegionsOnly) {
  const Config config =
      parse_config(with_routes({"{cluster: web-us, geo: {eu-west: web-eu}}"}), "c.yaml");
  EXPECT_EQ(config.listeners.front().routes.front().geo_clusters,
            (GeoClusters{{"eu-west", "web-eu"}}));
}

TEST(GeoRoutesConfig, ARegionNotUnderGeoRegionsIsRefused) {
  EXPECT_EQ(error_of(with_routes({"{cluster: web-us, geo: {ap-south: web-eu}}"})),
            "c.yaml:1:1: geo.regions: route web-us of listener web sends region ap-south to "
            "cluster web-eu: define the region under geo.regions");
  // Without a geo: block no region is defined.
  EXPECT_EQ(error_of(with_routes({"{cluster: web-us, geo: {eu-west: web-eu}}"}, "")),
            "c.yaml:1:1: geo.regions: route web-us of listener web sends region eu-west to "
            "cluster web-eu: define the region under geo.regions");
}

TEST(GeoRoutesConfig, GeoOnARedirectRouteIsRefused) {
  EXPECT_EQ(error_of(with_routes({"{redirect: {location: /x}, geo: {eu-west: web-eu}}"})),
            "c.yaml:5:41: listeners[0].routes[0].geo: a redirect route answers the client "
            "itself: no geo clusters");
}

TEST(GeoRoutesConfig, EachRegionGoesToAClusterThatExists) {
  EXPECT_EQ(error_of(with_routes({"{cluster: web-us, geo: {eu-west: web-ap}}"})),
            "c.yaml:5:42: listeners[0].routes[0].geo.eu-west: no cluster named \"web-ap\"");
  EXPECT_EQ(error_of(with_routes({"{cluster: web-us, geo: {}}"})),
            "c.yaml:5:32: listeners[0].routes[0].geo: map at least one region to a cluster");
}

}  // namespace
}  // namespace ballast::config
