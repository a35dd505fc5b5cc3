#pragma once
// The monotonic clock. The event loop reads it once per iteration and everything on the data
// path uses that cached value (EventLoop::now_ns), so timing costs no extra syscall per request.

#include <time.h>

#include <cstdint>

namespace ballast::core {

inline uint64_t monotonic_now_ns() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(now.tv_nsec);
}

inline constexpr uint64_t kNsPerMs = 1'000'000;

}  // namespace ballast::core
