#pragma once
// Reads the top-level `geo:` block (docs/config.md "Geographic routing"): the regions clients
// are sorted into, and how a client's address names one — networks first, then the MaxMind
// database's country, continent and coordinates (edge/geo_locator.h does the looking up).
//
// Country and continent codes are read without case and kept in upper case, as MaxMind writes
// them, so `de` and `DE` are the same key (and writing both is a duplicate).
//
// Threading: start-up and reload, on the control side.

#include <cstddef>

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// Regions are few by nature (each is a cluster to route to, and every region's nearest order is
// kept, regions² entries). Networks are an operator's own table, not a copy of a GeoIP
// database: that is what `database` is for.
inline constexpr size_t kMaxGeoRegions = 64;
inline constexpr size_t kMaxGeoNetworks = 100'000;

// A null `block` (the key not written, or `geo:` alone) reads as geo routing off.
GeoConfig read_geo(const Node& block);

}  // namespace ballast::config
