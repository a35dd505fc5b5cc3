#pragma once
// The balancing algorithms by name, as the configuration spells them.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ballast::balance {

enum class Algorithm : uint8_t {
  round_robin,
  weighted_round_robin,
  smooth_weighted_round_robin,
  least_connections,
  weighted_least_connections,
  random,
  p2c,
  adaptive,
  ip_hash,
  consistent_hash,
  maglev,
};

struct AlgorithmName {
  Algorithm algorithm;
  std::string_view name;
};

inline constexpr std::array<AlgorithmName, 11> kAlgorithmNames = {{
    {Algorithm::round_robin, "round_robin"},
    {Algorithm::weighted_round_robin, "weighted_round_robin"},
    {Algorithm::smooth_weighted_round_robin, "smooth_weighted_round_robin"},
    {Algorithm::least_connections, "least_connections"},
    {Algorithm::weighted_least_connections, "weighted_least_connections"},
    {Algorithm::random, "random"},
    {Algorithm::p2c, "p2c"},
    {Algorithm::adaptive, "adaptive"},
    {Algorithm::ip_hash, "ip_hash"},
    {Algorithm::consistent_hash, "consistent_hash"},
    {Algorithm::maglev, "maglev"},
}};

constexpr std::string_view algorithm_name(Algorithm algorithm) {
  for (const AlgorithmName& entry : kAlgorithmNames) {
    if (entry.algorithm == algorithm) {
      return entry.name;
    }
  }
  return "unknown";
}

constexpr std::optional<Algorithm> parse_algorithm(std::string_view name) {
  for (const AlgorithmName& entry : kAlgorithmNames) {
    if (entry.name == name) {
      return entry.algorithm;
    }
  }
  return std::nullopt;
}

}  // namespace ballast::balance
