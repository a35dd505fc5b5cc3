#pragma once
// The distance between two points on the Earth's surface along it (the haversine formula on a
// sphere of radius 6,371 km, the mean radius). The Earth is not a sphere: the error is up to
// about 0.5%, which is nothing beside how far apart data centres are — and it ranks regions, it
// does not bill anyone.
//
// Threading: a pure function.

#include "config/config.h"

namespace ballast::edge {

inline constexpr double kEarthRadiusKm = 6'371.0;

double great_circle_km(const config::GeoPoint& a, const config::GeoPoint& b) noexcept;

}  // namespace ballast::edge
