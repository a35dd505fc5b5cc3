#pragma once
// Passive health for one cluster (Envoy's outlier detection, consecutive failures): ejects a
// server whose real traffic fails `consecutive_failures` times in a row, for a time that grows
// with each ejection, while never ejecting more than max_ejection_percent of the cluster.
//
// Owns: per server its run of failures, its ejection (until when), its backoff multiplier and
// when its last ejection ended; for the cluster, floor(servers × max_ejection_percent / 100)
// ejection slots, each holding the end time of the ejection that occupies it.
// Threading: one instance per cluster, shared by all workers and the health-check owner; every
// member function may run on any thread at once. Lock-free: atomics only (the rare paths that
// change an ejection take a per-server try-flag that nobody waits on, see hold()); no allocation
// except in collect_returns(). Servers are the indices 0..size()-1 of the cluster's server list.
// Invariant: a server is ejected only while it holds a slot, so for any one clock reading at most
// max_ejected() servers are ejected — checked after counting the candidate, Envoy's rule: a
// 3-server cluster at 10% ejects none (1/3 > 10%), 10 servers at 10% eject one at a time. A slot
// frees itself when its time passes (it holds the end time, so no sweep is needed), and two
// workers racing to eject take distinct slots by CAS. Workers whose cached clocks differ by δ may
// disagree about an ejection for δ around its end.
//
// The rules:
// - Connect failures, resets and timeouts always count; a 5xx counts only with on_5xx. Any other
//   result — a success, or a 5xx without on_5xx (the server answered, as Envoy's local-origin
//   errors are reset by a completed connection) — ends the run.
// - A failure of an attempt on a server already ejected (one that started before the ejection)
//   counts nothing: the ejection already acts on it, so a server returns with a clean run.
// - The failure that completes the run tries to eject, and the run restarts either way (Envoy):
//   a refused server needs `consecutive_failures` more before the next try.
// - The ejection lasts base_ejection_time × multiplier, capped at max_ejection_time, where the
//   multiplier is the previous one, decayed, plus one: 1×, 2×, 3×… for a server ejected again as
//   soon as it returns. Decay: one step per base_ejection_time the server has been back since its
//   last ejection ended (Envoy decrements once per detection interval instead; we have no
//   interval). The multiplier stops growing once the cap is reached.
// - A server returns when its time passes (is_ejected() turns false by itself), or earlier when an
//   active health check passes (return_server()).
//
// Cost: is_ejected() is one relaxed load and a compare. record() on a success is one load of the
// server's run (a store only when a run was under way); on a failure, a load and a fetch_add; the
// failure completing a run scans at most max_ejected() slots. Each server's state sits on its own
// 64-byte cache line.
// Source: Envoy's outlier detection (source/common/upstream/outlier_detection_impl.cc:
// consecutive 5xx / local-origin failures, ejectHost's max_ejection_percent check, the ejection
// multiplier and max_ejection_time).

#include <atomic>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace ballast::health {

// How one attempt on a server ended, as the proxy saw it.
enum class TrafficResult : uint8_t { success, connect_failure, reset, timeout, server_error };

enum class OutlierEvent : uint8_t {
  ejected,
  ejection_refused,   // the run was complete, but ejecting would exceed max_ejection_percent
  expired,            // the ejection's time passed (reported by collect_returns)
  returned_by_check,  // an active health check passed during the ejection
};

// A change (or a refused one) for the caller to log once.
struct OutlierTransition {
  uint32_t server = 0;
  OutlierEvent event = OutlierEvent::ejected;
  TrafficResult failure = TrafficResult::success;  // ejected, ejection_refused: the last failure
  uint32_t multiplier = 0;   // ejected: 1 for the first ejection, then 2, 3…
  uint64_t ejection_ms = 0;  // ejected: how long it lasts
};

std::string_view to_string(TrafficResult result) noexcept;
std::string_view to_string(OutlierEvent event) noexcept;

class OutlierDetector {
 public:
  // Built only for a cluster whose detection is enabled. Zero thresholds and durations act as 1
  // (the loader accepts only positive ones); a max below the base acts as the base.
  OutlierDetector(const config::OutlierDetectionConfig& config, uint32_t server_count);

  // Counts how an attempt on `server` ended at now_ns; returns an ejection or a refused one.
  std::optional<OutlierTransition> record(uint32_t server, TrafficResult result,
                                          uint64_t now_ns) noexcept;

  bool is_ejected(uint32_t server, uint64_t now_ns) const noexcept {
    return servers_[server].ejected_until_ns.load(std::memory_order_relaxed) > now_ns;
  }

  // When the server's latest ejection ends (ends or ended); 0 when it has none to report. For a
  // worker to know when to look again.
  uint64_t ejection_end_ns(uint32_t server) const noexcept {
    return servers_[server].ejected_until_ns.load(std::memory_order_relaxed);
  }

  // An active health check of `server` passed at now_ns: ends its ejection, if any, early.
  std::optional<OutlierTransition> return_server(uint32_t server, uint64_t now_ns) noexcept;

  // The servers whose ejection time has passed by now_ns and were not yet reported, each reported
  // once; for the owner's periodic tick, O(servers). A server ejected again before its return
  // was collected is reported by the new ejection alone.
  std::vector<OutlierTransition> collect_returns(uint64_t now_ns);

  // Takes over `previous`'s record of the servers that stay, when the cluster's servers change
  // (a discovery change, a reload): server i was previous_index[i] there, or kNew. An ejection
  // in force keeps going if this detector has a slot free for it, and ends otherwise (a cluster
  // that shrank ejects fewer). Before this detector is shared: `previous` may still be written.
  static constexpr uint32_t kNew = UINT32_MAX;
  void carry_over(const OutlierDetector& previous, std::span<const uint32_t> previous_index,
                  uint64_t now_ns) noexcept;

  uint32_t size() const noexcept { return static_cast<uint32_t>(servers_.size()); }
  uint32_t max_ejected() const noexcept { return static_cast<uint32_t>(slots_.size()); }
  // O(servers); for the admin API and tests.
  uint32_t ejected_count(uint64_t now_ns) const noexcept;

 private:
  // One cache line per server: workers read ejected_until_ns on every pick, and the failures of
  // one server must not slow the picks of its neighbours.
  struct alignas(64) ServerHealth {
    std::atomic<uint32_t> consecutive_failures{0};
    std::atomic<uint32_t> multiplier{0};  // of the server's latest ejection, before decay
    std::atomic<uint32_t> slot{0};        // the slot its latest ejection took
    // 0 when not ejected and any return was reported; otherwise the end of its latest ejection,
    // which is in the past once it has returned by time and not yet been collected.
    std::atomic<uint64_t> ejected_until_ns{0};
    std::atomic<uint64_t> last_return_ns{0};  // end of the latest ejection once reported
    std::atomic<bool> changing{false};        // see hold()
  };

  bool counts_as_failure(TrafficResult result) const noexcept;
  // The rare paths that change a server's ejection (eject, return early, collect) run one at a
  // time per server, so its fields change together and an ejection's end identifies it. It is a
  // try-flag, not a lock: a thread that finds another at it skips its change, never waits. The
  // window is a few nanoseconds per change, and a skip is safe: a skipped ejection waits for the
  // next run of failures, a skipped early return for the next passing check, a skipped report
  // for the next tick (or is folded into a new ejection).
  static bool hold(ServerHealth& health) noexcept;
  static void unhold(ServerHealth& health) noexcept;
  std::optional<OutlierTransition> try_eject(uint32_t server, TrafficResult failure,
                                             uint64_t now_ns) noexcept;
  uint32_t next_multiplier(uint32_t previous, uint64_t previous_end_ns,
                           uint64_t now_ns) const noexcept;
  std::optional<uint32_t> claim_slot(uint64_t until_ns, uint64_t now_ns) noexcept;

  const uint32_t failure_threshold_;
  const bool count_server_errors_;
  const uint64_t base_ejection_ns_;
  const uint64_t max_ejection_ns_;
  const uint32_t max_multiplier_;  // the first multiplier whose ejection reaches the cap
  std::vector<ServerHealth> servers_;
  // Free when its value (the end of the ejection holding it) is <= now; 0 when released early.
  std::vector<std::atomic<uint64_t>> slots_;
};

}  // namespace ballast::health
