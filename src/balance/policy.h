#pragma once
// The interface every balancing policy implements, and the types a pick works with.
//
// A policy chooses one server of a fixed server set for one request attempt.
//
// Threading and ownership: a Policy instance belongs to exactly one worker thread. Nothing in
// it is atomic or locked, and pick() never allocates, locks or does I/O. The control side
// (health checks, breakers, admin) decides eligibility and weights and publishes them; each
// worker applies those changes to its own instances between picks through set_eligible() and
// set_weight(). A change of membership (a server added or removed) builds a new instance from
// the new set, as Pingora and Envoy do, since hash tables and schedules depend on it.
//
// Eligibility is kept inside the policy (an EligibleSet plus whatever index the algorithm
// needs), so a pick never scans the fleet to find eligible servers. What changes per request
// (servers this request already tried, or found full) comes in the PickContext instead and is
// checked per candidate, with a bounded number of candidates.

#include <cstdint>
#include <string_view>
#include <vector>

#include "balance/eligible_set.h"

namespace ballast::balance {

// A server's position in the set the policy was built from.
using ServerIndex = uint32_t;
inline constexpr ServerIndex kNoServer = UINT32_MAX;

// Servers this request must not be sent to: ones it already tried (a retry goes elsewhere) and
// ones found at their connection limit. A request makes a handful of attempts, so a small
// inline array beats a bitset sized to the fleet.
class ExcludedServers {
 public:
  static constexpr uint32_t kCapacity = 8;

  bool contains(ServerIndex server) const noexcept {
    for (uint32_t i = 0; i < size_; ++i) {
      if (servers_[i] == server) {
        return true;
      }
    }
    return false;
  }

  // Adding beyond capacity is ignored: the request has run out of attempts by then.
  void add(ServerIndex server) noexcept {
    if (size_ < kCapacity && !contains(server)) {
      servers_[size_++] = server;
    }
  }

  uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  ServerIndex operator[](uint32_t i) const noexcept { return servers_[i]; }

 private:
  ServerIndex servers_[kCapacity] = {};
  uint32_t size_ = 0;
};

// What one pick may look at.
struct PickContext {
  uint64_t now_ns = 0;        // the worker loop's cached monotonic clock
  std::string_view hash_key;  // key-based policies hash this: client IP, header, cookie or path
  ExcludedServers excluded;   // never chosen by this pick
};

// How an attempt ended, reported by the proxy to the policy that chose the server.
struct AttemptOutcome {
  bool success = true;      // false on connect failure, reset, timeout or a 5xx counted as failure
  uint64_t latency_ns = 0;  // from attempt start to response headers (or to the failure)
  uint64_t now_ns = 0;      // when the attempt ended, on the same clock as PickContext::now_ns
};

class Policy {
 public:
  // All servers start eligible, with the given weights (each >= 1).
  explicit Policy(std::vector<uint32_t> weights)
      : eligible_(static_cast<uint32_t>(weights.size())), weights_(std::move(weights)) {}
  virtual ~Policy() = default;
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  // An eligible server not in ctx.excluded, or kNoServer when there is none.
  virtual ServerIndex pick(const PickContext& ctx) noexcept = 0;

  // An attempt was sent to `server` / has finished on it. Load- and latency-aware policies
  // count these; every pick that leads to an attempt is followed by both, in order.
  virtual void on_attempt_start(ServerIndex /*server*/) noexcept {}
  virtual void on_attempt_end(ServerIndex /*server*/, const AttemptOutcome& /*outcome*/) noexcept {}

  void set_eligible(ServerIndex server, bool eligible) noexcept {
    if (eligible_.set(server, eligible)) {
      on_eligibility_changed(server, eligible);
    }
  }

  void set_weight(ServerIndex server, uint32_t weight) noexcept {
    if (weight != 0 && weights_[server] != weight) {
      const uint32_t old_weight = weights_[server];
      weights_[server] = weight;
      on_weight_changed(server, old_weight);
    }
  }

  uint32_t size() const noexcept { return eligible_.size(); }
  uint32_t eligible_count() const noexcept { return eligible_.count(); }
  bool is_eligible(ServerIndex server) const noexcept { return eligible_.contains(server); }
  uint32_t weight(ServerIndex server) const noexcept { return weights_[server]; }

 protected:
  // Hooks for policies that index eligible servers or weights; called after the change.
  virtual void on_eligibility_changed(ServerIndex /*server*/, bool /*eligible*/) noexcept {}
  virtual void on_weight_changed(ServerIndex /*server*/, uint32_t /*old_weight*/) noexcept {}

  const EligibleSet& eligible() const noexcept { return eligible_; }

  bool can_choose(ServerIndex server, const ExcludedServers& excluded) const noexcept {
    return eligible_.contains(server) && !excluded.contains(server);
  }

  // The first eligible, non-excluded server at or after `from` in index order (wrapping), or
  // kNoServer. Looks at no more than excluded.size() + 1 eligible servers: among that many
  // consecutive eligible servers one is not excluded, and if fewer are eligible the walk has
  // wrapped over all of them, so the bound is also complete.
  ServerIndex first_choosable_from(uint32_t from, const ExcludedServers& excluded) const noexcept {
    uint32_t candidate = eligible_.next_from(from);
    for (uint32_t looked = 0; looked <= excluded.size() && candidate < size(); ++looked) {
      if (!excluded.contains(candidate)) {
        return candidate;
      }
      candidate = eligible_.next_from(candidate + 1);
    }
    return kNoServer;
  }
  const std::vector<uint32_t>& weights() const noexcept { return weights_; }

 private:
  EligibleSet eligible_;
  std::vector<uint32_t> weights_;
};

}  // namespace ballast::balance
