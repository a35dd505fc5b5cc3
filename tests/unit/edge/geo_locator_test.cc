// Where a client is (edge/geo_locator.h), against a MaxMind database written for the test by
// tests/tools/make_mmdb, and the great-circle distances that rank regions.

#include "edge/geo_locator.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/address_range.h"
#include "edge/great_circle.h"

namespace ballast::edge {
namespace {

// Regions by index, in the configuration's order.
constexpr int32_t kEuWest = 0;   // Dublin
constexpr int32_t kUsEast = 1;   // Washington
constexpr int32_t kApSouth = 2;  // no location
constexpr int32_t kSaEast = 3;   // São Paulo

// What the test database says of each address.
const std::vector<std::string> kRecords = {
    "10.0.0.0/8=DE,EU,52.52,13.40",      // Berlin, but networks claims parts of it
    "127.0.0.2=US,NA,40.71,-74.01",      // New York: country US is mapped
    "127.0.0.3=CA,NA,45.42,-75.70",      // Ottawa: CA is not, continent NA is
    "127.0.0.4=IN,AS,19.07,72.88",       // Mumbai: continent AS, to a region without location
    "127.0.0.5=FR,EU,48.86,2.35",        // Paris: neither FR nor EU mapped, so the nearest
    "127.0.0.6=BR,SA,-23.55,-46.63",     // São Paulo: the nearest is sa-east
    "127.0.0.7=,,,",                     // found, and says nothing
    "2001:db8::/32=US,NA,40.71,-74.01",  // IPv6 through the database
};

core::SocketAddress address(const char* text) {
  core::SocketAddress address;
  if (inet_pton(AF_INET, text, &reinterpret_cast<sockaddr_in&>(address.storage).sin_addr) == 1) {
    address.storage.ss_family = AF_INET;
    address.length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, text,
                       &reinterpret_cast<sockaddr_in6&>(address.storage).sin6_addr) == 1) {
    address.storage.ss_family = AF_INET6;
    address.length = sizeof(sockaddr_in6);
  } else {
    throw std::invalid_argument(text);
  }
  return address;
}

config::GeoConfig make_config(const std::string& database) {
  config::GeoConfig geo;
  geo.enabled = true;
  geo.database = {database, "c.yaml:2:13: geo.database"};
  geo.regions = {{"eu-west", config::GeoPoint{53.35, -6.26}},
                 {"us-east", config::GeoPoint{38.90, -77.04}},
                 {"ap-south", std::nullopt},
                 {"sa-east", config::GeoPoint{-23.55, -46.63}}};
  for (const auto& [range, region] :
       std::vector<std::pair<const char*, const char*>>{{"10.1.0.0/16", "eu-west"},
                                                        {"10.1.2.0/24", "us-east"},
                                                        {"10.1.2.128/25", "ap-south"},
                                                        {"2001:db8:1::/48", "ap-south"}}) {
    geo.networks.push_back({*core::parse_address_range(range), region});
  }
  geo.countries = {{"DE", "eu-west"}, {"US", "us-east"}};
  geo.continents = {{"NA", "us-east"}, {"AS", "ap-south"}};
  return geo;
}

class GeoLocatorTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    // One file per process: ctest runs each test in a process of its own, several at once.
    database_ = testing::TempDir() + "geo_locator_test_" + std::to_string(getpid()) + ".mmdb";
    std::string command = "perl " BALLAST_SOURCE_DIR "/tests/tools/make_mmdb '" + database_ + "'";
    for (const std::string& record : kRecords) {
      command += " '" + record + "'";
    }
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() { std::filesystem::remove(database_); }

  void SetUp() override {
    GeoLocator::Opened opened = GeoLocator::open(make_config(database_));
    ASSERT_EQ(opened.error, "");
    locator_ = std::move(opened.locator);
  }

  GeoDecision locate(const char* client) const { return locator_->locate(address(client)); }

  static std::string database_;
  std::unique_ptr<GeoLocator> locator_;
};

std::string GeoLocatorTest::database_;

void expect(const GeoDecision& decision, int32_t region, GeoSource by) {
  EXPECT_EQ(decision.region, region);
  EXPECT_EQ(source_name(decision.by), source_name(by));
}

TEST_F(GeoLocatorTest, TheNetworkTableWinsOverTheDatabase) {
  expect(locate("10.1.9.9"), kEuWest, GeoSource::network);  // the database says DE -> eu-west too
  expect(locate("10.1.2.3"), kUsEast, GeoSource::network);  // ... but here says us-east
  expect(locate("10.2.0.1"), kEuWest, GeoSource::country);  // outside every network: DE
}

TEST_F(GeoLocatorTest, TheLongestPrefixWins) {
  expect(locate("10.1.2.127"), kUsEast, GeoSource::network);   // /24
  expect(locate("10.1.2.128"), kApSouth, GeoSource::network);  // /25
  expect(locate("10.1.3.0"), kEuWest, GeoSource::network);     // /16
  expect(locate("2001:db8:1::5"), kApSouth, GeoSource::network);
}

TEST_F(GeoLocatorTest, AMappedCountryNamesTheRegion) {
  expect(locate("127.0.0.2"), kUsEast, GeoSource::country);
  expect(locate("2001:db8:2::1"), kUsEast, GeoSource::country);
}

TEST_F(GeoLocatorTest, TheContinentAnswersWhenTheCountryIsNotMapped) {
  expect(locate("127.0.0.3"), kUsEast, GeoSource::continent);
  // Mumbai is nearer Dublin than Washington, but continent AS comes first: ap-south.
  expect(locate("127.0.0.4"), kApSouth, GeoSource::continent);
}

TEST_F(GeoLocatorTest, CoordinatesGoToTheNearestRegionWithALocation) {
  expect(locate("127.0.0.5"), kEuWest, GeoSource::nearest);  // Paris: Dublin, not Washington
  expect(locate("127.0.0.6"), kSaEast, GeoSource::nearest);  // São Paulo
}

TEST_F(GeoLocatorTest, AnAddressNoOneKnowsIsNone) {
  expect(locate("127.0.0.7"), -1, GeoSource::none);  // a record with nothing in it
  expect(locate("127.0.0.8"), -1, GeoSource::none);  // no record
  expect(locate("192.0.2.1"), -1, GeoSource::none);
  expect(locate("2001:db9::1"), -1, GeoSource::none);
  core::SocketAddress unix_socket;
  unix_socket.storage.ss_family = AF_UNIX;
  expect(locator_->locate(unix_socket), -1, GeoSource::none);
}

TEST_F(GeoLocatorTest, IPv4MappedAddressesAreLookedUpAsIPv4) {
  expect(locate("::ffff:10.1.2.200"), kApSouth, GeoSource::network);
  expect(locate("::ffff:127.0.0.2"), kUsEast, GeoSource::country);
  expect(locate("::ffff:127.0.0.5"), kEuWest, GeoSource::nearest);
}

TEST_F(GeoLocatorTest, NearestOrderOfEveryRegion) {
  using Order = std::vector<uint32_t>;
  // Dublin-Washington 5,443 km, Washington-São Paulo 7,631, Dublin-São Paulo 9,393.
  EXPECT_EQ(locator_->nearest_order(kEuWest), (Order{0, 1, 3, 2}));
  EXPECT_EQ(locator_->nearest_order(kUsEast), (Order{1, 0, 3, 2}));
  EXPECT_EQ(locator_->nearest_order(kApSouth), (Order{2, 0, 1, 3}));  // no location: in order
  EXPECT_EQ(locator_->nearest_order(kSaEast), (Order{3, 1, 0, 2}));
}

TEST_F(GeoLocatorTest, NamesRegionsAndSources) {
  ASSERT_EQ(locator_->region_count(), 4u);
  EXPECT_EQ(locator_->region_name(kEuWest), "eu-west");
  EXPECT_EQ(locator_->region_name(kSaEast), "sa-east");
  EXPECT_EQ(source_name(GeoSource::network), "network");
  EXPECT_EQ(source_name(GeoSource::country), "country");
  EXPECT_EQ(source_name(GeoSource::continent), "continent");
  EXPECT_EQ(source_name(GeoSource::nearest), "nearest");
  EXPECT_EQ(source_name(GeoSource::none), "none");
}

TEST(GeoLocator, WithoutADatabaseOnlyNetworksPlaceClients) {
  config::GeoConfig geo = make_config("");
  geo.countries.clear();
  geo.continents.clear();
  const GeoLocator::Opened opened = GeoLocator::open(geo);
  ASSERT_EQ(opened.error, "");
  expect(opened.locator->locate(address("10.1.2.3")), kUsEast, GeoSource::network);
  expect(opened.locator->locate(address("127.0.0.2")), -1, GeoSource::none);
}

TEST(GeoLocator, AMissingDatabaseIsAnErrorNamingTheFile) {
  const GeoLocator::Opened opened = GeoLocator::open(make_config("/nonexistent/geo.mmdb"));
  EXPECT_EQ(opened.locator, nullptr);
  EXPECT_EQ(opened.error,
            "c.yaml:2:13: geo.database: /nonexistent/geo.mmdb: not a MaxMind database it can "
            "read: Error opening the specified MaxMind DB file (No such file or directory)");
}

TEST(GeoLocator, AFileThatIsNoDatabaseIsAnError) {
  const std::string path = testing::TempDir() + "geo_garbage_" + std::to_string(getpid());
  std::ofstream(path) << "this is not a MaxMind database\n";
  const GeoLocator::Opened opened = GeoLocator::open(make_config(path));
  std::filesystem::remove(path);
  EXPECT_EQ(opened.locator, nullptr);
  EXPECT_EQ(opened.error, "c.yaml:2:13: geo.database: " + path +
                              ": not a MaxMind database it can read: The MaxMind DB file "
                              "contains invalid metadata");
}

// "A.B.C." for the i-th /24 from 10.0.0.0.
std::string network_of(uint32_t i) {
  return std::to_string(10 + (i >> 16)) + "." + std::to_string(i >> 8 & 0xFF) + "." +
         std::to_string(i & 0xFF) + ".";
}

// The largest table the configuration allows: every network found, in a build that stays
// quick, and lookups that miss every one of them still end.
TEST(GeoLocator, AHundredThousandNetworks) {
  config::GeoConfig geo;
  geo.regions = {{"a", std::nullopt}, {"b", std::nullopt}, {"c", std::nullopt}};
  for (uint32_t i = 0; i < 100'000; ++i) {
    const std::string range = network_of(i) + "0/" + (i % 2 == 0 ? "24" : "25");
    geo.networks.push_back({*core::parse_address_range(range), geo.regions[i % 3].name});
  }
  const GeoLocator::Opened opened = GeoLocator::open(geo);
  ASSERT_EQ(opened.error, "");
  for (uint32_t i = 0; i < 100'000; i += 997) {
    const std::string client = network_of(i) + "7";
    expect(opened.locator->locate(address(client.c_str())), static_cast<int32_t>(i % 3),
           GeoSource::network);
  }
  expect(opened.locator->locate(address("10.0.1.200")), -1, GeoSource::none);  // past the /25
  expect(opened.locator->locate(address("12.0.0.1")), -1, GeoSource::none);
}

TEST(GreatCircle, KnownDistancesWithinAKilometre) {
  const config::GeoPoint london{51.5074, -0.1278};
  const config::GeoPoint paris{48.8566, 2.3522};
  const config::GeoPoint new_york{40.7128, -74.0060};
  const config::GeoPoint los_angeles{34.0522, -118.2437};
  const config::GeoPoint tokyo{35.6762, 139.6503};
  const config::GeoPoint sydney{-33.8688, 151.2093};
  // Rosetta Code's haversine task (Nashville BNA to Los Angeles LAX): 2,887.26 km at radius
  // 6,372.8 km, 2,886.44 at 6,371.
  const config::GeoPoint nashville{36.12, -86.67};
  const config::GeoPoint lax{33.94, -118.40};
  EXPECT_NEAR(great_circle_km(nashville, lax), 2'886.44, 1);
  EXPECT_NEAR(great_circle_km(london, paris), 343.6, 1);
  EXPECT_NEAR(great_circle_km(new_york, los_angeles), 3'935.7, 1);
  EXPECT_NEAR(great_circle_km(tokyo, sydney), 7'825.8, 1);
  EXPECT_NEAR(great_circle_km(paris, london), great_circle_km(london, paris), 1e-9);
  EXPECT_EQ(great_circle_km(paris, paris), 0);
}

TEST(GreatCircle, AQuarterAndHalfTheWayRound) {
  EXPECT_NEAR(great_circle_km({0, 0}, {90, 0}), 10'007.54, 0.01);   // pole
  EXPECT_NEAR(great_circle_km({0, 0}, {0, 180}), 20'015.09, 0.01);  // antipode
  EXPECT_NEAR(great_circle_km({45, 10}, {-45, -170}), 20'015.09, 0.01);
  EXPECT_NEAR(great_circle_km({10, 179.5}, {10, -179.5}), 109.5, 0.1);  // across 180°
}

}  // namespace
}  // namespace ballast::edge
