#pragma once
// Where a client is: which of the configured regions (config::GeoConfig, `geo:`) its address
// belongs to, and what said so. Looked up in order:
//   1. networks, the operator's own table: the longest prefix that holds the address;
//   2. the MaxMind database (GeoIP2/GeoLite2 City or Country, memory-mapped): the record's
//      country.iso_code if `countries` maps it, else its continent.code if `continents` does,
//      else its location.{latitude, longitude}: the region nearest it that has a location.
// A client arriving as ::ffff:a.b.c.d is looked up as the IPv4 address it is, in both.
//
// The network table is one open-addressing hash table keyed by (family, prefix length,
// network), at most half full, and per family the prefix lengths present, longest first: a
// lookup masks the address to each length in turn and probes once — at most 33 probes for IPv4
// and 129 for IPv6 however many networks, and as many as there are distinct lengths in
// practice. 48 to 96 bytes a network.
//
// Threading and lifetime: built on the control side from one configuration generation, then
// immutable, and called from every worker at once (libmaxminddb's lookups only read the mapped
// file). A lookup allocates nothing and takes no lock. Owns the open database: closed (and
// unmapped) when the locator is destroyed, so the generation that made it keeps it alive.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/socket.h"

struct MMDB_s;  // <maxminddb.h>, which only geo_locator.cc includes

namespace ballast::edge {

enum class GeoSource : uint8_t { network, country, continent, nearest, none };

// "network", "country", "continent", "nearest", "none": for logs and metric labels.
std::string_view source_name(GeoSource source) noexcept;

struct GeoDecision {
  int32_t region = -1;  // index into GeoConfig::regions; -1: no region known
  GeoSource by = GeoSource::none;
};

class GeoLocator {
 public:
  struct Opened {
    std::unique_ptr<GeoLocator> locator;  // null when error is set
    std::string error;                    // "FILE:LINE:COL: geo.database: PATH: what is wrong"
  };

  // `config` as config::read_geo() checks it (every region named is under regions). Fails only
  // when the database cannot be opened as a MaxMind database.
  static Opened open(const config::GeoConfig& config);

  GeoLocator(const GeoLocator&) = delete;
  GeoLocator& operator=(const GeoLocator&) = delete;

  GeoDecision locate(const core::SocketAddress& client) const noexcept;

  // Every region, `region` first, then those with a location by great-circle distance from
  // its own (ties in configuration order), then those without one in configuration order; a
  // region without a location is followed by the others in configuration order. Where to turn
  // when a region's own cluster cannot serve. Made once, when the locator is.
  const std::vector<uint32_t>& nearest_order(uint32_t region) const noexcept {
    return nearest_order_[region];
  }
  std::string_view region_name(uint32_t region) const noexcept { return names_[region]; }
  size_t region_count() const noexcept { return names_.size(); }

 private:
  struct DatabaseCloser {
    void operator()(MMDB_s* database) const noexcept;
  };

  // An address as the tables hold it: IPv4 in the first four bytes, the rest zero.
  struct Address {
    bool ipv6 = false;
    std::array<uint8_t, 16> bytes{};
  };

  struct Slot {
    std::array<uint8_t, 16> network{};  // masked to bits
    uint8_t bits = 0;
    bool ipv6 = false;
    int32_t region = -1;  // -1: empty
  };

  explicit GeoLocator(const config::GeoConfig& config);

  void add_network(const core::AddressRange& range, int32_t region);
  int32_t network_region(const Address& address) const noexcept;
  GeoDecision database_region(const Address& address) const noexcept;
  int32_t nearest_region(const config::GeoPoint& point) const noexcept;

  std::unique_ptr<MMDB_s, DatabaseCloser> database_;
  std::vector<std::string> names_;
  std::vector<std::optional<config::GeoPoint>> locations_;
  std::vector<std::vector<uint32_t>> nearest_order_;
  std::vector<Slot> slots_;
  std::vector<uint8_t> ipv4_lengths_;  // longest first
  std::vector<uint8_t> ipv6_lengths_;
  // Two-letter codes (AA..ZZ, 26 * 26) -> region, -1 where none is mapped.
  std::array<int32_t, 26 * 26> country_regions_;
  std::array<int32_t, 26 * 26> continent_regions_;
};

}  // namespace ballast::edge
