#pragma once
// The fleet-wide ("global") mode of rate limits: every ballast instance limits requests on its
// own table (rate_table.h), and every sync interval (at most 100 ms) exchanges its counts with a
// Redis the fleet shares, so Redis is never on a request's path. Workers record their requests
// under global limits in a RateBatch (rate_batch.h) and hand it over here once per interval;
// this thread adds the batches up, sends them, and charges the table with what the other
// instances let through.
//
// The exchange, for each (limit, key) counted since the last one (c requests passed here; 0 for
// a key that was only refused, so that it still learns the fleet's count):
//   INCRBY {key_prefix}{limit name}:{key hash, 16 hex digits}:{window} c
//   PEXPIRE {that key} {2 periods, in ms}
// all pipelined in one round trip. window = the wall clock (CLOCK_REALTIME) / the limit's
// period, so the instances meet on one Redis key per period and keep no other state there
// (their clocks must agree to well within a period, as NTP keeps them). INCRBY answers the
// fleet's total T for the window. For the current window of each (limit, key) this instance
// keeps `own` (the sum of its c) and `others_seen`: others = T - own, and what the others added
// since the last answer (others - others_seen) is charged into the table (RateTable::charge) as
// requests that passed elsewhere. Past windows are forgotten; at most kMaxTracked pairs are
// followed at once (the rest are still sent, but not charged: keys_untracked()).
//
// Never two exchanges at once: counts handed over while one is in flight are merged and wait
// for the next interval. When Redis cannot be reached (connect refused or timed out, connection
// closed, no answer within timeout_ms) the limits are local only: batches handed over meanwhile
// are dropped (counted), and the log says "rate limit store unreachable" when it goes and "rate
// limit store reachable" when it is back, once per change. The link reconnects by itself
// (redis_link.h), 1 s to 5 s apart.
//
// Owns: a thread running its own EventLoop, with the Redis link and the interval timer.
// Threading: start(), stop() and destruction on the control side; submit() from any thread (a
// mutex held for a push_back, once per interval per worker, never per request); the counters
// from any thread. The table is shared with the workers (its charge() is lock-free).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/event_loop.h"
#include "core/timer_wheel.h"
#include "edge/rate_batch.h"
#include "edge/rate_table.h"
#include "edge/redis_link.h"
#include "observe/log_throttle.h"

namespace ballast::edge {

// A limit whose counts the fleet shares; its index in RateSync's list is RateCount::limit.
struct GlobalLimit {
  std::string name;  // RateLimitConfig::name: the same on every instance
  RateLimit limit;
  uint64_t period_ns = 0;
};

class RateSync final : public RedisLink::Listener, public core::Timer::Handler {
 public:
  static constexpr size_t kMaxTracked = 1'000'000;

  // `table` outlives the sync.
  RateSync(const config::RedisConfig& redis, RateTable& table, std::vector<GlobalLimit> limits);
  ~RateSync();
  RateSync(const RateSync&) = delete;
  RateSync& operator=(const RateSync&) = delete;

  // Starts the thread, which connects at once. Once; not after stop().
  void start();
  // Ends the thread within a loop iteration (nothing there blocks, but for the lookup of a
  // store given by name, hiredis's getaddrinfo); destruction does too.
  void stop();

  // A worker's counts since its last hand-over (RateBatch::drain). Dropped while the store is
  // not up (before the first connect too).
  void submit(std::vector<RateCount>&& batch);

  // Counted once the exchange's charges are all in the table.
  uint64_t exchanges_ok() const noexcept { return exchanges_ok_.load(std::memory_order_acquire); }
  uint64_t exchanges_failed() const noexcept {
    return exchanges_failed_.load(std::memory_order_relaxed);
  }
  uint64_t keys_sent() const noexcept { return keys_sent_.load(std::memory_order_relaxed); }
  uint64_t batches_dropped() const noexcept {
    return batches_dropped_.load(std::memory_order_relaxed);
  }
  uint64_t keys_untracked() const noexcept {
    return keys_untracked_.load(std::memory_order_relaxed);
  }
  bool store_up() const noexcept { return store_up_.load(std::memory_order_relaxed); }

  void on_link_state(bool up, std::string_view error) noexcept override;
  void on_exchange_done(std::span<const long long> replies,
                        std::string_view error) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;

 private:
  struct Pair {
    uint64_t key_hash;
    uint32_t limit;
    bool operator==(const Pair&) const = default;
  };
  struct PairHash {
    size_t operator()(const Pair& pair) const noexcept { return pair.key_hash ^ pair.limit; }
  };
  struct Sent {
    Pair pair;
    uint64_t count;
    uint64_t window;
  };
  struct Seen {
    uint64_t window;
    uint64_t own;          // this instance's count in the window
    uint64_t others_seen;  // the others' count at the last answer, already charged
  };
  enum class Logged : uint8_t { nothing, up, down };

  void run();
  void take_incoming();
  void drop_pending() noexcept;
  void send_pending();
  void add_commands(const Pair& pair, uint64_t count, uint64_t window);
  void learn(const Sent& sent, long long total, uint64_t now_ns);
  Seen* seen_in(const Pair& pair, uint64_t window);
  void forget_past_windows();
  void log_state(bool up, std::string_view error) noexcept;

  const std::string store_;  // host:port, for the log
  const std::string prefix_;
  const uint64_t interval_ns_;
  RateTable& table_;
  const std::vector<GlobalLimit> limits_;
  std::vector<std::string> expire_ms_;  // per limit: PEXPIRE's argument

  core::EventLoop loop_;
  RedisLink link_;
  core::Timer tick_{*this};
  std::thread thread_;

  // The sync thread's alone.
  std::vector<std::vector<RateCount>> taken_;
  std::unordered_map<Pair, uint64_t, PairHash> pending_;  // merged, not sent yet
  uint64_t pending_batches_ = 0;
  std::vector<Sent> sent_;  // the exchange in flight, two commands each
  std::unordered_map<Pair, Seen, PairHash> seen_;
  uint64_t next_sweep_ns_ = 0;
  RedisCommands commands_;
  std::string key_;  // scratch: one Redis key
  Logged logged_ = Logged::nothing;
  observe::LogThrottle refused_log_;

  std::mutex mutex_;  // guards incoming_
  std::vector<std::vector<RateCount>> incoming_;

  std::atomic<uint64_t> exchanges_ok_{0};
  std::atomic<uint64_t> exchanges_failed_{0};
  std::atomic<uint64_t> keys_sent_{0};
  std::atomic<uint64_t> batches_dropped_{0};
  std::atomic<uint64_t> keys_untracked_{0};
  std::atomic<bool> store_up_{false};
};

}  // namespace ballast::edge
