#pragma once
// At most one log line per interval about one subject (a server), whichever worker asks; the
// occurrences in between are counted, and the next line says how many it stands for. So a dead
// server that fails 20,000 attempts a second costs one line a second, not 20,000 writes, and the
// failure path never waits on the log writer's lock more than once a second per server.
//
// Owns: two atomics. Threading: any thread; admit() is one load on the common (suppressed)
// path plus one fetch_add, never a lock.

#include <atomic>
#include <cstdint>

namespace ballast::observe {

class LogThrottle {
 public:
  static constexpr uint64_t kIntervalNs = 1'000'000'000;

  // 0: suppress this occurrence (it is counted). Otherwise log it: the value is how many
  // occurrences the line stands for, this one included.
  uint64_t admit(uint64_t now_ns) noexcept {
    uint64_t next = next_ns_.load(std::memory_order_relaxed);
    if (now_ns < next ||
        !next_ns_.compare_exchange_strong(next, now_ns + kIntervalNs, std::memory_order_relaxed)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    return suppressed_.exchange(0, std::memory_order_relaxed) + 1;
  }

 private:
  std::atomic<uint64_t> next_ns_{0};
  std::atomic<uint64_t> suppressed_{0};
};

}  // namespace ballast::observe
