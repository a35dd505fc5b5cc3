// Geographic routing's plan (edge/geo_routes.h): for each route with `geo:` and each region a
// client may be in, the route's regions nearest first with their clusters; and its counters.

#include "edge/geo_routes.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/loader.h"

namespace ballast::edge {
namespace {

constexpr uint32_t kWorkers = 3;

// Regions by index, in the configuration's order.
constexpr uint32_t kEuWest = 0;   // Dublin
constexpr uint32_t kUsEast = 1;   // Washington
constexpr uint32_t kApSouth = 2;  // Mumbai: nearer Dublin than Washington

// Clusters by index, in the configuration's order.
constexpr uint32_t kWebEu = 0;
constexpr uint32_t kWebUs = 1;

// Listener web: a route without geo, then one mapping us-east and eu-west (not ap-south);
// listener other: one route without geo.
const std::string kConfig =
    "geo:\n"
    "  networks: {10.1.0.0/16: eu-west, 10.2.0.0/16: us-east, 10.3.0.0/16: ap-south}\n"
    "  regions:\n"
    "    eu-west: {location: [53.35, -6.26]}\n"
    "    us-east: {location: [38.90, -77.04]}\n"
    "    ap-south: {location: [19.07, 72.88]}\n"
    "listeners:\n"
    "  - name: web\n"
    "    listen: 127.0.0.1:8080\n"
    "    routes:\n"
    "      - {path_prefix: /static/, cluster: web-eu}\n"
    "      - {name: site, cluster: web-us, geo: {us-east: web-us, eu-west: web-eu}}\n"
    "  - name: other\n"
    "    listen: 127.0.0.1:8081\n"
    "    routes: [{cluster: web-us}]\n"
    "clusters:\n"
    "  web-eu: {servers: [{host: 10.0.0.7, port: 80}]}\n"
    "  web-us: {servers: [{host: 10.0.0.8, port: 80}]}\n";

class GeoRoutesTest : public testing::Test {
 protected:
  GeoRoutesTest()
      : config_(config::parse_config(kConfig, "c.yaml")),
        locator_(GeoLocator::open(config_.geo).locator),
        routes_(config_, *locator_, kWorkers,
                [this](const std::string& name) { return cluster_index(name); }) {}

  uint32_t cluster_index(const std::string& name) const {
    for (uint32_t i = 0; i < config_.clusters.size(); ++i) {
      if (config_.clusters[i].name == name) {
        return i;
      }
    }
    ADD_FAILURE() << "no cluster " << name;
    return UINT32_MAX;
  }

  config::Config config_;
  std::unique_ptr<GeoLocator> locator_;
  GeoRoutes routes_;
};

using Pairs = std::vector<std::pair<uint32_t, uint32_t>>;

// GeoChoice has no operator==: compared as (region, cluster) pairs.
Pairs pairs(const std::vector<GeoChoice>& choices) {
  Pairs out;
  for (const GeoChoice& choice : choices) {
    out.emplace_back(choice.region, choice.cluster);
  }
  return out;
}

TEST_F(GeoRoutesTest, OnlyARouteWithGeoHasAPlan) {
  ASSERT_EQ(routes_.routes().size(), 1u);
  EXPECT_EQ(routes_.route(0, 0), nullptr);
  EXPECT_EQ(routes_.route(1, 0), nullptr);
  const GeoRoute* site = routes_.route(0, 1);
  ASSERT_NE(site, nullptr);
  EXPECT_EQ(site, &routes_.routes().front());
  EXPECT_EQ(site->listener, "web");
  EXPECT_EQ(site->route, "site");
  ASSERT_NE(site->counters, nullptr);
}

TEST_F(GeoRoutesTest, EachClientRegionTriesTheRoutesRegionsNearestFirst) {
  const GeoRoute& site = *routes_.route(0, 1);
  ASSERT_EQ(site.by_region.size(), 3u);  // one per region a client may be in
  EXPECT_EQ(pairs(site.by_region[kEuWest]), (Pairs{{kEuWest, kWebEu}, {kUsEast, kWebUs}}));
  EXPECT_EQ(pairs(site.by_region[kUsEast]), (Pairs{{kUsEast, kWebUs}, {kEuWest, kWebEu}}));
  // ap-south is not mapped: its clients go to the nearest region the route maps.
  EXPECT_EQ(pairs(site.by_region[kApSouth]), (Pairs{{kEuWest, kWebEu}, {kUsEast, kWebUs}}));
}

TEST_F(GeoRoutesTest, TheRoutesCountersAddUpOverWorkers) {
  GeoCounters& counters = *routes_.route(0, 1)->counters;
  counters.served(0, kEuWest);
  counters.served(2, kEuWest);
  counters.served(1, kUsEast);
  counters.served(1, -1);  // the route's own cluster
  counters.failed_over(0, kApSouth);
  counters.failed_over(2, kApSouth);
  EXPECT_EQ(counters.total_served(kEuWest), 2u);
  EXPECT_EQ(counters.total_served(kUsEast), 1u);
  EXPECT_EQ(counters.total_served(kApSouth), 0u);
  EXPECT_EQ(counters.total_served(-1), 1u);
  EXPECT_EQ(counters.total_failed_over(kApSouth), 2u);
  EXPECT_EQ(counters.total_failed_over(kEuWest), 0u);
}

// With enough regions a worker's counts span cache lines; no count lands in another's slot.
TEST(GeoCounters, EveryWorkerAndRegionCountsApart) {
  constexpr uint32_t kRegions = 10;
  GeoCounters counters(kWorkers, kRegions);
  for (uint32_t worker = 0; worker < kWorkers; ++worker) {
    for (uint32_t region = 0; region < kRegions; ++region) {
      for (uint32_t n = 0; n < region + 1; ++n) {
        counters.served(worker, static_cast<int32_t>(region));
      }
      for (uint32_t n = 0; n < 2 * region; ++n) {
        counters.failed_over(worker, region);
      }
    }
    counters.served(worker, -1);
  }
  for (uint32_t region = 0; region < kRegions; ++region) {
    EXPECT_EQ(counters.total_served(static_cast<int32_t>(region)), kWorkers * (region + 1));
    EXPECT_EQ(counters.total_failed_over(region), kWorkers * 2 * region);
  }
  EXPECT_EQ(counters.total_served(-1), kWorkers);
}

}  // namespace
}  // namespace ballast::edge
