#include "edge/geo_locator.h"

#include <maxminddb.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>

#include "core/hash.h"
#include "edge/great_circle.h"

namespace ballast::edge {
namespace {

constexpr std::array<std::string_view, 5> kSourceNames = {"network", "country", "continent",
                                                          "nearest", "none"};

constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

// Paths into a record for MMDB_aget_value; MMDB_get_value would calloc a copy of its variadic
// path on every call.
constexpr const char* kCountryPath[] = {"country", "iso_code", nullptr};
constexpr const char* kContinentPath[] = {"continent", "code", nullptr};
constexpr const char* kLatitudePath[] = {"location", "latitude", nullptr};
constexpr const char* kLongitudePath[] = {"location", "longitude", nullptr};

// "AA".."ZZ" -> 0..675; -1 for anything else.
int code_index(std::string_view code) noexcept {
  const auto letter = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (code.size() != 2 || !letter(code[0]) || !letter(code[1])) {
    return -1;
  }
  return (code[0] - 'A') * 26 + (code[1] - 'A');
}

std::array<uint8_t, 16> masked(const std::array<uint8_t, 16>& bytes, uint8_t bits) noexcept {
  std::array<uint8_t, 16> network{};
  const size_t whole = bits / 8;
  std::memcpy(network.data(), bytes.data(), whole);
  if (bits % 8 != 0) {
    network[whole] = static_cast<uint8_t>(bytes[whole] & (0xFF00u >> (bits % 8)));
  }
  return network;
}

size_t slot_hash(const std::array<uint8_t, 16>& network, uint8_t bits, bool ipv6) noexcept {
  std::array<char, 18> key{};
  std::memcpy(key.data(), network.data(), network.size());
  key[16] = static_cast<char>(bits);
  key[17] = ipv6 ? 1 : 0;
  return static_cast<size_t>(core::hash64({key.data(), key.size()}));
}

// The value at `path` in `entry`, when it is there with the type asked for.
bool read_value(MMDB_entry_s entry, const char* const* path, uint32_t type,
                MMDB_entry_data_s& data) noexcept {
  return MMDB_aget_value(&entry, &data, path) == MMDB_SUCCESS && data.has_data && data.type == type;
}

}  // namespace

std::string_view source_name(GeoSource source) noexcept {
  return kSourceNames[static_cast<size_t>(source)];
}

void GeoLocator::DatabaseCloser::operator()(MMDB_s* database) const noexcept {
  MMDB_close(database);
  delete database;
}

GeoLocator::Opened GeoLocator::open(const config::GeoConfig& config) {
  std::unique_ptr<GeoLocator> locator(new GeoLocator(config));
  if (config.database.path.empty()) {
    return {std::move(locator), {}};
  }
  auto database = std::make_unique<MMDB_s>();
  const int status = MMDB_open(config.database.path.c_str(), MMDB_MODE_MMAP, database.get());
  if (status != MMDB_SUCCESS) {
    // MMDB_open has released what it took; only the struct is left, and `database` frees it.
    std::string problem = MMDB_strerror(status);
    if (status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR) {
      problem += std::string(" (") + std::strerror(errno) + ")";
    }
    return {nullptr, config.database.where + ": " + config.database.path +
                         ": not a MaxMind database it can read: " + problem};
  }
  locator->database_.reset(database.release());
  return {std::move(locator), {}};
}

GeoLocator::GeoLocator(const config::GeoConfig& config) {
  for (const config::GeoRegionConfig& region : config.regions) {
    names_.push_back(region.name);
    locations_.push_back(region.location);
  }
  // A name that is not a region (read_geo() refuses those) maps nowhere rather than out of range.
  const auto index_of = [this](const std::string& name) {
    const auto it = std::find(names_.begin(), names_.end(), name);
    return it == names_.end() ? -1 : static_cast<int32_t>(it - names_.begin());
  };

  if (!config.networks.empty()) {
    slots_.resize(std::bit_ceil(config.networks.size() * 2));
  }
  for (const config::GeoNetworkConfig& network : config.networks) {
    add_network(network.range, index_of(network.region));
  }
  for (std::vector<uint8_t>* lengths : {&ipv4_lengths_, &ipv6_lengths_}) {
    std::sort(lengths->begin(), lengths->end(), std::greater<>());
    lengths->erase(std::unique(lengths->begin(), lengths->end()), lengths->end());
  }

  country_regions_.fill(-1);
  continent_regions_.fill(-1);
  for (const auto& [code, region] : config.countries) {
    if (const int index = code_index(code); index >= 0) {
      country_regions_[index] = index_of(region);
    }
  }
  for (const auto& [code, region] : config.continents) {
    if (const int index = code_index(code); index >= 0) {
      continent_regions_[index] = index_of(region);
    }
  }

  const auto count = static_cast<uint32_t>(names_.size());
  for (uint32_t from = 0; from < count; ++from) {
    std::vector<uint32_t> located;
    std::vector<uint32_t> unlocated;
    for (uint32_t to = 0; to < count; ++to) {
      if (to != from) {
        (locations_[from] && locations_[to] ? located : unlocated).push_back(to);
      }
    }
    std::stable_sort(located.begin(), located.end(), [&](uint32_t a, uint32_t b) {
      return great_circle_km(*locations_[from], *locations_[a]) <
             great_circle_km(*locations_[from], *locations_[b]);
    });
    std::vector<uint32_t>& order = nearest_order_.emplace_back();
    order.push_back(from);
    order.insert(order.end(), located.begin(), located.end());
    order.insert(order.end(), unlocated.begin(), unlocated.end());
  }
}

void GeoLocator::add_network(const core::AddressRange& range, int32_t region) {
  if (region < 0) {
    return;
  }
  Slot entry;
  entry.network = masked(range.bytes, range.prefix_bits);
  entry.bits = range.prefix_bits;
  entry.ipv6 = range.ipv6;
  entry.region = region;
  const size_t mask = slots_.size() - 1;
  for (size_t i = slot_hash(entry.network, entry.bits, entry.ipv6) & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.region < 0) {
      slot = entry;
      break;
    }
    if (slot.bits == entry.bits && slot.ipv6 == entry.ipv6 && slot.network == entry.network) {
      return;  // the same network twice (read_geo() refuses it): the first stands
    }
  }
  (range.ipv6 ? ipv6_lengths_ : ipv4_lengths_).push_back(range.prefix_bits);
}

int32_t GeoLocator::network_region(const Address& address) const noexcept {
  const size_t mask = slots_.size() - 1;
  for (const uint8_t bits : address.ipv6 ? ipv6_lengths_ : ipv4_lengths_) {
    const std::array<uint8_t, 16> network = masked(address.bytes, bits);
    for (size_t i = slot_hash(network, bits, address.ipv6) & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.region < 0) {
        break;
      }
      if (slot.bits == bits && slot.ipv6 == address.ipv6 && slot.network == network) {
        return slot.region;
      }
    }
  }
  return -1;
}

GeoDecision GeoLocator::database_region(const Address& address) const noexcept {
  sockaddr_in ipv4{};
  sockaddr_in6 ipv6{};
  const sockaddr* socket_address = nullptr;
  if (address.ipv6) {
    ipv6.sin6_family = AF_INET6;
    std::memcpy(ipv6.sin6_addr.s6_addr, address.bytes.data(), 16);
    socket_address = reinterpret_cast<const sockaddr*>(&ipv6);
  } else {
    ipv4.sin_family = AF_INET;
    std::memcpy(&ipv4.sin_addr, address.bytes.data(), 4);
    socket_address = reinterpret_cast<const sockaddr*>(&ipv4);
  }
  int error = MMDB_SUCCESS;
  const MMDB_lookup_result_s result = MMDB_lookup_sockaddr(database_.get(), socket_address, &error);
  if (error != MMDB_SUCCESS || !result.found_entry) {
    return {};
  }
  MMDB_entry_data_s data{};
  if (read_value(result.entry, kCountryPath, MMDB_DATA_TYPE_UTF8_STRING, data)) {
    const int index = code_index({data.utf8_string, data.data_size});
    if (index >= 0 && country_regions_[index] >= 0) {
      return {country_regions_[index], GeoSource::country};
    }
  }
  if (read_value(result.entry, kContinentPath, MMDB_DATA_TYPE_UTF8_STRING, data)) {
    const int index = code_index({data.utf8_string, data.data_size});
    if (index >= 0 && continent_regions_[index] >= 0) {
      return {continent_regions_[index], GeoSource::continent};
    }
  }
  MMDB_entry_data_s latitude{};
  MMDB_entry_data_s longitude{};
  if (read_value(result.entry, kLatitudePath, MMDB_DATA_TYPE_DOUBLE, latitude) &&
      read_value(result.entry, kLongitudePath, MMDB_DATA_TYPE_DOUBLE, longitude)) {
    const int32_t region = nearest_region({latitude.double_value, longitude.double_value});
    if (region >= 0) {
      return {region, GeoSource::nearest};
    }
  }
  return {};
}

int32_t GeoLocator::nearest_region(const config::GeoPoint& point) const noexcept {
  int32_t nearest = -1;
  double nearest_km = 0;
  for (size_t i = 0; i < locations_.size(); ++i) {
    if (!locations_[i]) {
      continue;
    }
    const double km = great_circle_km(point, *locations_[i]);
    if (nearest < 0 || km < nearest_km) {
      nearest = static_cast<int32_t>(i);
      nearest_km = km;
    }
  }
  return nearest;
}

GeoDecision GeoLocator::locate(const core::SocketAddress& client) const noexcept {
  Address address;
  if (client.storage.ss_family == AF_INET) {
    const auto& ipv4 = reinterpret_cast<const sockaddr_in&>(client.storage);
    std::memcpy(address.bytes.data(), &ipv4.sin_addr, 4);
  } else if (client.storage.ss_family == AF_INET6) {
    const uint8_t* bytes = reinterpret_cast<const sockaddr_in6&>(client.storage).sin6_addr.s6_addr;
    if (std::memcmp(bytes, kMappedPrefix.data(), kMappedPrefix.size()) == 0) {
      std::memcpy(address.bytes.data(), bytes + kMappedPrefix.size(), 4);
    } else {
      address.ipv6 = true;
      std::memcpy(address.bytes.data(), bytes, 16);
    }
  } else {
    return {};
  }
  if (const int32_t region = network_region(address); region >= 0) {
    return {region, GeoSource::network};
  }
  return database_ ? database_region(address) : GeoDecision{};
}

}  // namespace ballast::edge
