// The `geo:` block (config/geo_reader.h): the shape it loads to, and the errors that name file,
// line and key. Read through read_geo() directly, as the loader reads the top-level key.

#include "config/geo_reader.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>

#include "config/config_error.h"
#include "config/yaml_document.h"

namespace ballast::config {
namespace {

GeoConfig read(const std::string& yaml, const std::string& source = "c.yaml") {
  static constexpr std::array<std::string_view, 1> kTopLevel = {"geo"};
  Document document(source, yaml.size());
  const Node root(parse_single_document(yaml, source), "", YAML::Mark(), document);
  return read_geo(root.as_map(kTopLevel).get("geo"));
}

std::string error_of(const std::string& yaml) {
  try {
    read(yaml);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(loaded)";
}

constexpr const char* kDatabase = "  database: geo.mmdb\n";
constexpr const char* kRegions =
    "  regions:\n"
    "    eu-west: {location: [53.35, -6.26]}\n"
    "    us-east: {location: [38.90, -77.04]}\n"
    "    ap-south: {}\n";

// geo: with a database, `keys` (from line 3), then the three regions.
std::string geo_with(const std::string& keys) {
  return std::string("geo:\n") + kDatabase + keys + kRegions;
}

// Codes are read without case and kept in upper case; NO is Norway (YAML 1.1 would read false).
TEST(GeoReader, TheWholeBlockLoads) {
  const GeoConfig geo = read(
      "geo:\n"
      "  database: GeoLite2-City.mmdb\n"
      "  networks:\n"
      "    10.1.0.0/16: eu-west\n"
      "    192.0.2.0/24: us-east\n"
      "    2001:db8::/32: ap-south\n"
      "  countries: {DE: eu-west, fr: eu-west, NO: eu-west, US: us-east}\n"
      "  continents: {EU: eu-west, na: us-east, AS: ap-south}\n" +
          std::string(kRegions),
      "/etc/ballast/ballast.yaml");
  EXPECT_TRUE(geo.enabled);
  EXPECT_EQ(geo.database.path, "/etc/ballast/GeoLite2-City.mmdb");
  EXPECT_EQ(geo.database.where, "/etc/ballast/ballast.yaml:2:13: geo.database");
  ASSERT_EQ(geo.networks.size(), 3u);
  EXPECT_EQ(geo.networks[0].range, *core::parse_address_range("10.1.0.0/16"));
  EXPECT_EQ(geo.networks[0].region, "eu-west");
  EXPECT_EQ(geo.networks[1].region, "us-east");
  EXPECT_EQ(geo.networks[2].range, *core::parse_address_range("2001:db8::/32"));
  using Codes = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(geo.countries,
            (Codes{{"DE", "eu-west"}, {"FR", "eu-west"}, {"NO", "eu-west"}, {"US", "us-east"}}));
  EXPECT_EQ(geo.continents, (Codes{{"EU", "eu-west"}, {"NA", "us-east"}, {"AS", "ap-south"}}));
  ASSERT_EQ(geo.regions.size(), 3u);
  EXPECT_EQ(geo.regions[0].name, "eu-west");
  EXPECT_EQ(geo.regions[0].location, (GeoPoint{53.35, -6.26}));
  EXPECT_EQ(geo.regions[1].location, (GeoPoint{38.90, -77.04}));
  EXPECT_EQ(geo.regions[2].name, "ap-south");
  EXPECT_FALSE(geo.regions[2].location.has_value());
}

TEST(GeoReader, NotWrittenIsOff) {
  EXPECT_FALSE(read("").enabled);
  EXPECT_FALSE(read("geo:\n").enabled);
}

TEST(GeoReader, NetworksAloneNeedNoDatabase) {
  const GeoConfig geo = read("geo:\n  networks: {10.0.0.0/8: a}\n  regions: {a: {}}\n");
  EXPECT_TRUE(geo.database.path.empty());
  EXPECT_EQ(geo.networks.size(), 1u);
}

// The limits load at their bound and are refused, located, one past it; nothing else (the
// file's size, the walk's node budget) stops a table of the most networks first.
TEST(GeoReader, NetworksLoadAtTheirLimitAndNotOnePast) {
  std::string networks = "  networks:\n";
  for (size_t i = 0; i < kMaxGeoNetworks; ++i) {
    networks += "    10." + std::to_string(i >> 16) + "." + std::to_string(i >> 8 & 0xFF) + "." +
                std::to_string(i & 0xFF) + ": r" + std::to_string(i % 2) + "\n";
  }
  const std::string regions = "  regions: {r0: {}, r1: {}}\n";
  EXPECT_EQ(read("geo:\n" + networks + regions).networks.size(), kMaxGeoNetworks);
  EXPECT_EQ(error_of("geo:\n" + networks + "    11.0.0.0/8: r0\n" + regions),
            "c.yaml:3:5: geo.networks: at most 100000 networks (a limit, see Limits in "
            "docs/config.md), got 100001");
}

TEST(GeoReader, RegionsLoadAtTheirLimitAndNotOnePast) {
  std::string regions = "  regions:\n";
  for (size_t i = 0; i < kMaxGeoRegions; ++i) {
    regions += "    r" + std::to_string(i) + ": {location: [" + std::to_string(i) + ", 0]}\n";
  }
  const std::string networks = "geo:\n  networks: {10.0.0.0/8: r0}\n";
  EXPECT_EQ(read(networks + regions).regions.size(), kMaxGeoRegions);
  EXPECT_EQ(error_of(networks + regions + "    r64: {}\n"),
            "c.yaml:4:5: geo.regions: at most 64 regions (a limit, see Limits in "
            "docs/config.md), got 65");
}

struct Case {
  const char* name;
  std::string yaml;
  std::string message;
};

class GeoReaderErrors : public testing::TestWithParam<Case> {};

TEST_P(GeoReaderErrors, SayWhereWhichKeyAndWhat) {
  EXPECT_EQ(error_of(GetParam().yaml), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, GeoReaderErrors,
    testing::Values(
        Case{"UnknownKey", geo_with("  network: {10.0.0.0/8: eu-west}\n"),
             "c.yaml:3:3: geo.network: unknown key (did you mean networks?); allowed here: "
             "database, networks, countries, continents, regions"},
        Case{"NetworkToAnUnknownRegion", geo_with("  networks: {10.1.0.0/16: eu-wst}\n"),
             "c.yaml:3:27: geo.networks.10.1.0.0/16: region eu-wst is not under geo.regions "
             "(5:5)"},
        Case{"CountryToAnUnknownRegion", geo_with("  countries: {DE: eu-wst}\n"),
             "c.yaml:3:19: geo.countries.DE: region eu-wst is not under geo.regions (5:5)"},
        Case{"ContinentToAnUnknownRegion", geo_with("  continents: {EU: eu-wst}\n"),
             "c.yaml:3:20: geo.continents.EU: region eu-wst is not under geo.regions (5:5)"},
        Case{"RegionThatIsNoName", geo_with("  networks: {10.1.0.0/16: eu west}\n"),
             "c.yaml:3:27: geo.networks.10.1.0.0/16: a region name is 1-64 letters, digits, "
             "'-' and '_'; got \"eu west\""},
        Case{"BadCidr", geo_with("  networks: {10.1.0.0/33: eu-west}\n"),
             "c.yaml:3:14: geo.networks.10.1.0.0/33: expected a CIDR range (10.1.0.0/16, "
             "2001:db8::/32) or an address, got \"10.1.0.0/33\""},
        Case{"NotAnAddress", geo_with("  networks: {office: eu-west}\n"),
             "c.yaml:3:14: geo.networks.office: expected a CIDR range (10.1.0.0/16, "
             "2001:db8::/32) or an address, got \"office\""},
        Case{"IPv4MappedRange", geo_with("  networks: {\"::ffff:10.0.0.0/104\": eu-west}\n"),
             "c.yaml:3:14: geo.networks.::ffff:10.0.0.0/104: an IPv4-mapped range; write it as "
             "IPv4 (a.b.c.d/n), as clients are matched"},
        Case{"OneNetworkSpelledTwice",
             geo_with("  networks:\n    10.1.0.0/16: eu-west\n    10.1.9.9/16: us-east\n"),
             "c.yaml:5:5: geo.networks.10.1.9.9/16: the same network as 10.1.0.0/16 (4:5)"},
        Case{"CountryOfThreeLetters", geo_with("  countries: {DEU: eu-west}\n"),
             "c.yaml:3:15: geo.countries.DEU: expected a country's two-letter ISO 3166-1 code, "
             "such as DE; got \"DEU\""},
        Case{"CountryWithADigit", geo_with("  countries: {D1: eu-west}\n"),
             "c.yaml:3:15: geo.countries.D1: expected a country's two-letter ISO 3166-1 code, "
             "such as DE; got \"D1\""},
        Case{"CountryTwiceInTwoCases", geo_with("  countries: {de: eu-west, DE: us-east}\n"),
             "c.yaml:3:28: geo.countries.DE: DE is already mapped at 3:15"},
        Case{"UnknownContinent", geo_with("  continents: {EA: eu-west}\n"),
             "c.yaml:3:16: geo.continents.EA: expected one of AF, AN, AS, EU, NA, OC, SA; got "
             "\"EA\""},
        Case{"CountriesWithoutADatabase",
             "geo:\n  networks: {10.0.0.0/8: a}\n  countries: {DE: a}\n  regions: {a: {}}\n",
             "c.yaml:3:14: geo.countries: codes are looked up in a MaxMind database; set "
             "geo.database"},
        Case{"NothingPlacesAClient", "geo:\n  regions: {a: {}}\n",
             "c.yaml:2:3: geo: nothing places a client in a region: set networks, database or "
             "both"},
        Case{"LatitudeOutOfRange",
             "geo:\n  database: g.mmdb\n  regions:\n    a: {location: [90.5, 0]}\n",
             "c.yaml:4:20: geo.regions.a.location[0]: must be between -90 and 90, got 90.5"},
        Case{"LongitudeOutOfRange",
             "geo:\n  database: g.mmdb\n  regions:\n    a: {location: [0, -180.01]}\n",
             "c.yaml:4:23: geo.regions.a.location[1]: must be between -180 and 180, got "
             "-180.01"},
        Case{"LocationOfOneNumber",
             "geo:\n  database: g.mmdb\n  regions:\n    a: {location: [1]}\n",
             "c.yaml:4:19: geo.regions.a.location: expected [latitude, longitude] in degrees, "
             "such as [53.35, -6.26]"},
        Case{"LocationAsText",
             "geo:\n  database: g.mmdb\n  regions:\n    a: {location: \"53.35,-6.26\"}\n",
             "c.yaml:4:19: geo.regions.a.location: expected a list, got the string "
             "\"53.35,-6.26\""},
        Case{"UnknownRegionKey", "geo:\n  database: g.mmdb\n  regions:\n    a: {loc: [1, 2]}\n",
             "c.yaml:4:9: geo.regions.a.loc: unknown key; allowed here: location"},
        Case{"RegionNameThatIsNoName", "geo:\n  database: g.mmdb\n  regions: {\"a.b\": {}}\n",
             "c.yaml:3:13: geo.regions.a.b: a region name is 1-64 letters, digits, '-' and '_'; "
             "got the string \"a.b\""},
        Case{"NoRegions", "geo:\n  database: g.mmdb\n  regions: {}\n",
             "c.yaml:3:12: geo.regions: name at least one region, such as eu-west: {location: "
             "[53.35, -6.26]}"},
        Case{"RegionsMissing", "geo:\n  database: g.mmdb\n",
             "c.yaml:1:1: geo.regions: missing; the regions clients are sorted into, such as "
             "eu-west: {}"}),
    [](const testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ballast::config
