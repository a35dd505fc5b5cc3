#include "edge/rate_sync.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>

#include "core/clock.h"
#include "observe/log.h"

namespace ballast::edge {
namespace {

using config::LogLevel;

// How often the windows of keys no longer counted are looked for and forgotten.
constexpr uint64_t kSweepNs = 1'000'000'000;

uint64_t wall_now_ns() noexcept {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(now.tv_nsec);
}

std::string store_name(const config::RedisConfig& redis) {
  const bool v6 = redis.host.find(':') != std::string::npos;
  return (v6 ? "[" + redis.host + "]" : redis.host) + ":" + std::to_string(redis.port);
}

std::vector<GlobalLimit> with_periods(std::vector<GlobalLimit> limits) {
  for (GlobalLimit& limit : limits) {
    limit.period_ns = std::max<uint64_t>(limit.period_ns, 1);  // a window is period_ns long
  }
  return limits;
}

// PEXPIRE's argument: two periods, so a window's key outlives the window by one whole period
// whatever the instances' clocks disagree by.
std::string expire_ms(const GlobalLimit& limit) {
  return std::to_string(std::max<uint64_t>(2 * limit.period_ns / core::kNsPerMs, 1));
}

// hiredis writes with write(2): a store that went away would raise SIGPIPE. The proxy process
// ignores it; blocked on this thread as well, the link is safe in any process (tests, tools),
// and the write fails with EPIPE instead.
void block_sigpipe() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace

RateSync::RateSync(const config::RedisConfig& redis, RateTable& table,
                   std::vector<GlobalLimit> limits)
    : store_(store_name(redis)),
      prefix_(redis.key_prefix),
      interval_ns_(std::max<uint64_t>(redis.sync_interval_ms, 1) * core::kNsPerMs),
      table_(table),
      limits_(with_periods(std::move(limits))),
      link_(loop_, redis.host, redis.port, std::max<uint64_t>(redis.timeout_ms, 1) * core::kNsPerMs,
            *this) {
  for (const GlobalLimit& limit : limits_) {
    expire_ms_.push_back(expire_ms(limit));
  }
}

RateSync::~RateSync() {
  stop();
}

void RateSync::start() {
  thread_ = std::thread([this] { run(); });
}

void RateSync::stop() {
  loop_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
  store_up_.store(false, std::memory_order_relaxed);  // later batches are dropped, not queued
}

void RateSync::run() {
  block_sigpipe();
  link_.start();
  tick_.arm(loop_.timers(), loop_.now_ns() + interval_ns_);
  loop_.run();
}

void RateSync::submit(std::vector<RateCount>&& batch) {
  if (batch.empty()) {
    return;
  }
  if (!store_up()) {
    batches_dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::lock_guard<std::mutex> lock(mutex_);
  incoming_.push_back(std::move(batch));
}

void RateSync::on_timer(core::Timer& /*timer*/) noexcept {
  tick_.arm(loop_.timers(), loop_.now_ns() + interval_ns_);
  take_incoming();
  if (!link_.up()) {
    drop_pending();
    return;
  }
  if (loop_.now_ns() >= next_sweep_ns_) {
    forget_past_windows();
    next_sweep_ns_ = loop_.now_ns() + kSweepNs;
  }
  if (!link_.busy() && !pending_.empty()) {
    send_pending();
  }
}

void RateSync::take_incoming() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    taken_.swap(incoming_);
  }
  for (const std::vector<RateCount>& batch : taken_) {
    for (const RateCount& count : batch) {
      if (count.limit < limits_.size()) {  // else a count for another configuration's limits
        pending_[{count.key_hash, count.limit}] += count.count;
      }
    }
  }
  pending_batches_ += taken_.size();
  taken_.clear();
}

void RateSync::drop_pending() noexcept {
  batches_dropped_.fetch_add(pending_batches_, std::memory_order_relaxed);
  pending_.clear();
  pending_batches_ = 0;
}

void RateSync::send_pending() {
  const uint64_t now_ns = wall_now_ns();
  commands_.clear();
  sent_.clear();
  for (const auto& [pair, count] : pending_) {
    const uint64_t window = now_ns / limits_[pair.limit].period_ns;
    add_commands(pair, count, window);
    sent_.push_back({pair, count, window});
  }
  keys_sent_.fetch_add(sent_.size(), std::memory_order_relaxed);
  pending_.clear();
  pending_batches_ = 0;
  link_.exchange(commands_);  // up and idle: it takes them
}

void RateSync::add_commands(const Pair& pair, uint64_t count, uint64_t window) {
  char suffix[48];
  const int length =
      snprintf(suffix, sizeof(suffix), ":%016" PRIx64 ":%" PRIu64, pair.key_hash, window);
  key_.assign(prefix_).append(limits_[pair.limit].name).append(suffix, length);
  char digits[24];
  char* end = std::to_chars(digits, digits + sizeof(digits), count).ptr;
  commands_.add({"INCRBY", key_, std::string_view(digits, end - digits)});
  commands_.add({"PEXPIRE", key_, expire_ms_[pair.limit]});
}

void RateSync::on_exchange_done(std::span<const long long> replies,
                                std::string_view error) noexcept {
  if (!error.empty()) {
    exchanges_failed_.fetch_add(1, std::memory_order_relaxed);
    // A store that answers with errors (the link stays up); one that went away is logged once,
    // by on_link_state.
    if (link_.up()) {
      if (const uint64_t times = refused_log_.admit(loop_.now_ns()); times != 0) {
        observe::log_event(LogLevel::warn, "rate limit store refused an exchange",
                           {{"store", store_}, {"error", error}, {"times", std::to_string(times)}});
      }
    }
    sent_.clear();
    return;
  }
  for (size_t i = 0; i < sent_.size(); ++i) {
    learn(sent_[i], replies[2 * i], loop_.now_ns());  // each INCRBY's answer; PEXPIRE's skipped
  }
  sent_.clear();
  // Counted once the table has every charge: a reader that sees the count sees them (release).
  exchanges_ok_.fetch_add(1, std::memory_order_release);
}

void RateSync::learn(const Sent& sent, long long total, uint64_t now_ns) {
  Seen* seen = seen_in(sent.pair, sent.window);
  if (seen == nullptr) {
    return;
  }
  seen->own += sent.count;
  const uint64_t fleet = total > 0 ? static_cast<uint64_t>(total) : 0;
  // Below `own` only when the store lost the key (restarted empty): nobody else counted.
  const uint64_t others = fleet > seen->own ? fleet - seen->own : 0;
  if (others > seen->others_seen) {
    table_.charge(sent.pair.key_hash, limits_[sent.pair.limit].limit, others - seen->others_seen,
                  now_ns);
  }
  seen->others_seen = others;
}

// The pair's record for `window`: a new window starts from nothing (a new Redis key). Null when
// the pair cannot be followed (kMaxTracked reached) or the answer is about a window already
// left behind (the wall clock stepped back).
RateSync::Seen* RateSync::seen_in(const Pair& pair, uint64_t window) {
  auto found = seen_.find(pair);
  if (found == seen_.end()) {
    if (seen_.size() >= kMaxTracked) {
      keys_untracked_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    return &seen_.emplace(pair, Seen{window, 0, 0}).first->second;
  }
  Seen& seen = found->second;
  if (seen.window > window) {
    return nullptr;
  }
  if (seen.window < window) {
    seen = Seen{window, 0, 0};
  }
  return &seen;
}

void RateSync::forget_past_windows() {
  const uint64_t now_ns = wall_now_ns();
  std::erase_if(seen_, [&](const auto& entry) {
    return entry.second.window < now_ns / limits_[entry.first.limit].period_ns;
  });
}

void RateSync::on_link_state(bool up, std::string_view error) noexcept {
  store_up_.store(up, std::memory_order_relaxed);
  if (!up) {
    drop_pending();  // counts for a store that is away: the limits are local meanwhile
  }
  log_state(up, error);
}

// Once per change: a store that stays away is reported down at every retry, logged once.
void RateSync::log_state(bool up, std::string_view error) noexcept {
  const Logged now = up ? Logged::up : Logged::down;
  if (logged_ == now) {
    return;
  }
  logged_ = now;
  if (up) {
    observe::log_event(LogLevel::info, "rate limit store reachable", {{"store", store_}});
  } else {
    observe::log_event(LogLevel::warn, "rate limit store unreachable",
                       {{"store", store_}, {"error", error}});
  }
}

}  // namespace ballast::edge
