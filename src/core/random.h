#pragma once
// A small, fast pseudo-random generator (xoshiro256**, Blackman & Vigna) for the hot path.
//
// Threading: an instance belongs to one worker; it holds no shared state. Seeded explicitly so
// that tests reproduce exact sequences and each worker gets its own stream.

#include <cstdint>

namespace ballast::core {

class Random {
 public:
  explicit Random(uint64_t seed) noexcept {
    // splitmix64 expands one seed into the four state words, as the xoshiro authors advise.
    for (uint64_t& word : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = z ^ (z >> 31);
    }
  }

  uint64_t next() noexcept {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound) for bound > 0. Lemire's multiply-shift: no division, and the bias
  // (at most bound / 2^64) is far below anything a load balancer could observe.
  uint64_t below(uint64_t bound) noexcept {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

  // Uniform in [0, 1).
  double unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

  uint64_t state_[4];
};

}  // namespace ballast::core
