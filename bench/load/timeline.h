#pragma once
// What ballast-load counts: each request's outcome, tallied per second of the run (the timeline,
// by completion time) and merged for the totals.
//
// Every request ends in exactly one Outcome. Latency is recorded for the requests that got a
// status back (ok, 4xx, 5xx): a server that answers an error slowly is still slow. Socket errors
// and timeouts have no response, so no latency; they count as requests and errors only.
//
// Owns: one Tally (a 21 KiB histogram and five counters) per second, in a deque so that growing
// it moves nothing: one allocation per second of the run, 21 MiB for a 1,000-second run.
// Threading: none; the client's one thread.

#include <cstdint>
#include <cstdio>
#include <deque>

#include "latency_histogram.h"

namespace ballast::load {

enum class Outcome : uint8_t { ok, status_4xx, status_5xx, socket_error, timeout };

// The requests of one stretch of time: how each ended, and the latencies of those answered.
struct Tally {
  LatencyHistogram latency;
  uint64_t ok = 0;
  uint64_t status_4xx = 0;
  uint64_t status_5xx = 0;
  uint64_t socket_errors = 0;
  uint64_t timeouts = 0;

  // `latency_ns` is ignored for socket errors and timeouts.
  void add(Outcome outcome, uint64_t latency_ns) noexcept;
  void merge(const Tally& other) noexcept;
  uint64_t errors() const noexcept { return status_4xx + status_5xx + socket_errors + timeouts; }
  uint64_t requests() const noexcept { return ok + errors(); }
};

class Timeline {
 public:
  // A request ended `since_start_ns` after the run began.
  void add(uint64_t since_start_ns, Outcome outcome, uint64_t latency_ns);
  // Makes sure rows 0..second exist, so the quiet seconds at the end are written too.
  void extend_to(uint64_t second);
  // All seconds together.
  Tally total() const noexcept;
  // `second,requests,errors,p50_ms,p90_ms,p99_ms,p999_ms,max_ms`, a header and one row per
  // second. False if writing failed.
  bool write_csv(std::FILE* out) const noexcept;

 private:
  std::deque<Tally> seconds_;
};

}  // namespace ballast::load
