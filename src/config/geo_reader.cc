#include "config/geo_reader.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/scalars.h"
#include "core/address_range.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 5> kGeoKeys = {"database", "networks", "countries",
                                                      "continents", "regions"};
constexpr std::array<std::string_view, 1> kRegionKeys = {"location"};

// The codes MaxMind databases give continent.code (GeoNames'): Africa, Antarctica, Asia,
// Europe, North America, Oceania, South America.
constexpr std::array<std::string_view, 7> kContinents = {"AF", "AN", "AS", "EU", "NA", "OC", "SA"};

// ::ffff:0:0/96, where IPv4 addresses appear on IPv6 sockets.
constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

using CodeMap = std::vector<std::pair<std::string, std::string>>;

GeoPoint read_location(const Node& node) {
  const std::vector<Node> items = node.as_list();
  if (items.size() != 2) {
    node.fail("expected [latitude, longitude] in degrees, such as [53.35, -6.26]");
  }
  return {items[0].as_double(-90, 90), items[1].as_double(-180, 180)};
}

std::vector<GeoRegionConfig> read_regions(const Node& node) {
  const std::vector<std::pair<Node, Node>> entries = node.as_named_map();
  if (entries.empty()) {
    node.fail("name at least one region, such as eu-west: {location: [53.35, -6.26]}");
  }
  node.check_count(entries.size(), kMaxGeoRegions, "regions");
  std::vector<GeoRegionConfig> regions;
  for (const auto& [key, value] : entries) {
    GeoRegionConfig region;
    region.name = key.as_name("region");
    if (const std::optional<Node> location = value.as_map(kRegionKeys).find("location")) {
      region.location = read_location(*location);
    }
    regions.push_back(std::move(region));
  }
  return regions;
}

// The region `node` names, which must be one under `regions:` (at `regions_node`).
std::string read_region_of(const Node& node, const std::vector<GeoRegionConfig>& regions,
                           const Node& regions_node) {
  std::string name = node.as_name("region");
  const bool known =
      std::any_of(regions.begin(), regions.end(),
                  [&](const GeoRegionConfig& region) { return region.name == name; });
  if (!known) {
    node.fail("region " + name + " is not under " + regions_node.path() + " (" +
              regions_node.position() + ")");
  }
  return name;
}

// Two spellings of one network (10.1.0.0/16 and 10.1.9.9/16, or IPv6 written two ways) would
// leave which region wins to the table's insertion order: refused where the second is written.
void check_distinct(const std::vector<GeoNetworkConfig>& networks,
                    const std::vector<std::pair<Node, Node>>& entries) {
  // (family, network with its host bits cleared, prefix length), and the entry's index.
  using Network = std::tuple<bool, std::array<uint8_t, 16>, uint8_t>;
  std::vector<std::pair<Network, size_t>> keys;
  keys.reserve(networks.size());
  for (size_t i = 0; i < networks.size(); ++i) {
    const core::AddressRange& range = networks[i].range;
    std::array<uint8_t, 16> network{};
    for (unsigned bit = 0; bit < range.prefix_bits; bit += 8) {
      const unsigned kept = std::min(8u, range.prefix_bits - bit);
      network[bit / 8] = static_cast<uint8_t>(range.bytes[bit / 8] & (0xFF00u >> kept));
    }
    keys.push_back({{range.ipv6, network, range.prefix_bits}, i});
  }
  std::sort(keys.begin(), keys.end());
  for (size_t i = 1; i < keys.size(); ++i) {
    if (keys[i].first == keys[i - 1].first) {
      const Node& first = entries[keys[i - 1].second].first;
      entries[keys[i].second].first.fail("the same network as " + first.as_string() + " (" +
                                         first.position() + ")");
    }
  }
}

std::vector<GeoNetworkConfig> read_networks(const Node& node,
                                            const std::vector<GeoRegionConfig>& regions,
                                            const Node& regions_node) {
  const std::vector<std::pair<Node, Node>> entries = node.as_named_map();
  node.check_count(entries.size(), kMaxGeoNetworks, "networks");
  std::vector<GeoNetworkConfig> networks;
  networks.reserve(entries.size());
  for (const auto& [key, value] : entries) {
    const std::optional<core::AddressRange> range = core::parse_address_range(key.as_string());
    if (!range) {
      key.fail("expected a CIDR range (10.1.0.0/16, 2001:db8::/32) or an address, got " +
               key.describe());
    }
    // A client arriving as ::ffff:a.b.c.d is matched as the IPv4 address it is, so such a range
    // would never match anyone.
    if (range->ipv6 && range->prefix_bits >= 96 &&
        std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), range->bytes.begin())) {
      key.fail("an IPv4-mapped range; write it as IPv4 (a.b.c.d/n), as clients are matched");
    }
    networks.push_back({*range, read_region_of(value, regions, regions_node)});
  }
  check_distinct(networks, entries);
  return networks;
}

std::string uppercase(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return text;
}

// An ISO 3166-1 alpha-2 code in upper case; `de` reads as DE.
std::string read_country(const Node& key) {
  std::string code = uppercase(key.as_string());
  if (code.size() != 2 ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    key.fail("expected a country's two-letter ISO 3166-1 code, such as DE; got " + key.describe());
  }
  return code;
}

std::string read_continent(const Node& key) {
  return std::string(kContinents[key.choose(kContinents, true)]);
}

// countries or continents: code -> region, each code once whatever its case. Codes are what a
// database says of an address, so they need one.
CodeMap read_codes(const Node& node, std::string (*read_code)(const Node&), const GeoConfig& geo,
                   const Node& regions_node) {
  if (geo.database.path.empty()) {
    node.fail("codes are looked up in a MaxMind database; set geo.database");
  }
  CodeMap codes;
  std::unordered_map<std::string, std::string> first_at;
  for (const auto& [key, value] : node.as_named_map()) {
    std::string code = read_code(key);
    const auto [first, inserted] = first_at.emplace(code, key.position());
    if (!inserted) {
      key.fail(code + " is already mapped at " + first->second);
    }
    codes.emplace_back(std::move(code), read_region_of(value, geo.regions, regions_node));
  }
  return codes;
}

}  // namespace

GeoConfig read_geo(const Node& block) {
  GeoConfig geo;
  if (block.is_null()) {
    return geo;
  }
  const MapView fields = block.as_map(kGeoKeys);
  geo.enabled = true;
  const Node regions_node =
      fields.require("regions", "the regions clients are sorted into, such as eu-west: {}");
  geo.regions = read_regions(regions_node);
  if (const std::optional<Node> database = fields.find("database")) {
    geo.database = database->as_file();
  }
  if (const std::optional<Node> networks = fields.find("networks")) {
    geo.networks = read_networks(*networks, geo.regions, regions_node);
  }
  if (const std::optional<Node> countries = fields.find("countries")) {
    geo.countries = read_codes(*countries, read_country, geo, regions_node);
  }
  if (const std::optional<Node> continents = fields.find("continents")) {
    geo.continents = read_codes(*continents, read_continent, geo, regions_node);
  }
  if (geo.networks.empty() && geo.database.path.empty()) {
    block.fail("nothing places a client in a region: set networks, database or both");
  }
  return geo;
}

}  // namespace ballast::config
