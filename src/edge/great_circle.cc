#include "edge/great_circle.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ballast::edge {

double great_circle_km(const config::GeoPoint& a, const config::GeoPoint& b) noexcept {
  constexpr double kRadiansPerDegree = std::numbers::pi / 180;
  const double latitude_a = a.latitude * kRadiansPerDegree;
  const double latitude_b = b.latitude * kRadiansPerDegree;
  const double half_dlat = (latitude_b - latitude_a) / 2;
  const double half_dlon = (b.longitude - a.longitude) * kRadiansPerDegree / 2;
  const double h =
      std::sin(half_dlat) * std::sin(half_dlat) +
      std::cos(latitude_a) * std::cos(latitude_b) * std::sin(half_dlon) * std::sin(half_dlon);
  // Rounding can take h a hair above 1 for antipodal points, where asin would return NaN.
  return 2 * kEarthRadiusKm * std::asin(std::sqrt(std::min(h, 1.0)));
}

}  // namespace ballast::edge
