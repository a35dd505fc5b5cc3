#pragma once
// The one 64-bit hash ballast uses for keys and server identities (xxHash's XXH3).
// Stable across runs and machines, so a key maps to the same server after a restart.

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace ballast::core {

inline uint64_t hash64(std::string_view bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

inline uint64_t hash64(std::string_view bytes, uint64_t seed) noexcept {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

}  // namespace ballast::core
