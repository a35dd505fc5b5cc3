#pragma once
// The recent past of every server, for the status page: a reading of its cumulative counters once
// a second, turned into request rates and latency percentiles over a sliding window, and a
// five-minute history of those figures for the dashboard's sparklines.
//
// Owns: per server (named by cluster and server), the last few raw readings (enough to span the
// window) and a ring of kHistoryPoints history points.
// Threading: the admin thread's alone (its loop's timer calls record(); its requests read).
// Invariant: within one server's series, readings are in time order and come from one
// observe::ServerStats; when a server's stats object changes (removed then re-added at a reload,
// or the worker count changed), its series starts again rather than compute a rate across two
// unrelated counters.
// Cost: a round is O(servers × buckets); memory is about 5 KiB per server (300 points of 12
// bytes, reserved at once; 11 readings of 128 bytes). The history dominated ballast's memory at
// 10,000 servers (bench/memory), hence the packed points (StoredPoint). Nothing here is on a
// worker's path: workers only bump their own shard counters, which this reads with relaxed loads
// (server_stats.h).
//
// The window: a figure "over the last 10 s" is the difference between the reading taken now
// and the oldest kept reading at most kWindowNs (plus half an interval, for timer slack) old;
// percentiles come from the histogram buckets' differences, interpolated as Prometheus's
// histogram_quantile does (ServerTotals::duration_quantile_seconds).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "observe/server_stats.h"

namespace ballast::admin {

// One reading of one server.
struct ServerReading {
  uint64_t time_ns = 0;    // monotonic
  uint64_t responses = 0;  // responses counted in the histogram, cumulative
  std::array<uint64_t, observe::kDurationBuckets> duration_buckets{};  // cumulative, per bucket
  uint32_t active = 0;  // attempts in flight (a gauge)
  uint8_t state = 0;    // the caller's code for the server's state (status_json.h)
  uint8_t breaker = 0;  // the caller's code for its breaker's state (status_json.h)
};

// A reading from a server's summed counters.
ServerReading reading_of(const observe::ServerTotals& totals, uint64_t time_ns) noexcept;

// What happened between two readings of one server.
struct WindowStats {
  double requests_per_second = 0;
  double p50_seconds = 0;
  double p99_seconds = 0;
  uint64_t responses = 0;  // in the window
};

// From `older` to `newer` (same server, newer taken later). Counters that went backwards count
// as a restart from zero; an empty or zero-length interval gives zeros.
WindowStats window_between(const ServerReading& older, const ServerReading& newer) noexcept;

// One second of a server's history: the window's figures as they stood at that second.
struct HistoryPoint {
  float requests_per_second = 0;
  float p50_ms = 0;
  float p99_ms = 0;
  uint32_t active = 0;
  uint8_t state = 0;
  uint8_t breaker = 0;
};

class RateSampler {
 public:
  static constexpr uint64_t kIntervalNs = 1'000'000'000;  // one reading a second
  static constexpr uint64_t kWindowNs = 10'000'000'000;   // rates and percentiles over 10 s
  static constexpr size_t kHistoryPoints = 300;           // five minutes
  static constexpr size_t kReadings = kWindowNs / kIntervalNs + 1;

  // One sampling round: begin_round(), record() per server, end_round(). end_round() forgets
  // servers not recorded in the round (gone with a reload). `identity` is the server's stats
  // object; a new one restarts its series.
  void begin_round() noexcept;
  void record(std::string_view cluster, std::string_view server, const void* identity,
              const ServerReading& reading);
  void end_round();

  // Rounds completed so far: the sequence number of the newest history point.
  uint64_t rounds() const noexcept { return rounds_; }

  // The window ending at `now` (a fresh reading), against this server's kept readings. Zeros when
  // the server has no reading yet, or its identity changed since.
  WindowStats window(std::string_view cluster, std::string_view server, const void* identity,
                     const ServerReading& now) const noexcept;

  // The server's history points, oldest first, of rounds after `since_round` (0: all kept).
  // Points are one per round in which the server was recorded, ending at round rounds().
  std::vector<HistoryPoint> history(std::string_view cluster, std::string_view server,
                                    uint64_t since_round = 0) const;

 private:
  // A HistoryPoint packed into 12 bytes: latencies as 16-bit logarithmic codes (0.02% steps
  // from 1 µs to over an hour, finer than the histogram buckets they are interpolated from) and
  // the in-flight count saturated at 65,535.
  struct StoredPoint {
    float requests_per_second = 0;
    uint16_t p50_code = 0;
    uint16_t p99_code = 0;
    uint16_t active = 0;
    uint8_t state = 0;
    uint8_t breaker = 0;
  };
  static StoredPoint pack(const HistoryPoint& point) noexcept;
  static HistoryPoint unpack(const StoredPoint& point) noexcept;

  struct Series {
    const void* identity = nullptr;
    uint64_t last_round = 0;                          // the round that last recorded it
    std::array<ServerReading, kReadings> readings{};  // a ring, newest at readings_next - 1
    size_t readings_count = 0;
    size_t readings_next = 0;
    std::vector<StoredPoint> points;  // a ring of up to kHistoryPoints, newest at points_next - 1
    size_t points_next = 0;
  };

  static std::string key_of(std::string_view cluster, std::string_view server);
  const Series* find(std::string_view cluster, std::string_view server) const noexcept;
  // The oldest kept reading no more than the window (plus slack) older than `now_ns`.
  static const ServerReading* window_start(const Series& series, uint64_t now_ns) noexcept;

  std::unordered_map<std::string, Series> series_;
  uint64_t rounds_ = 0;
};

}  // namespace ballast::admin
