#pragma once
// Traffic counters for metrics and the status page, kept per server (and per cluster, for the
// answers ballast gives itself) in one shard per worker.
//
// Owns: the shards, each on its own cache lines.
// Threading: worker i writes only shard i (a relaxed load and store: one writer, so no atomic
// read-modify-write and no contention); any thread (the admin thread, at scrape) reads every
// shard with relaxed loads and sums them. A sum may miss increments made while it reads — a
// scrape is a moment, not a transaction.
// Cost: an increment is a load and a store to a line only its worker writes.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

namespace ballast::observe {

// A count written by one thread and read by others.
class Counter {
 public:
  void add(uint64_t amount = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Response time buckets, upper bounds in seconds (Prometheus's `le`), then +Inf.
inline constexpr std::array<double, 12> kDurationBoundsSeconds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0};
inline constexpr size_t kDurationBuckets = kDurationBoundsSeconds.size() + 1;

// Status classes 1xx..5xx as indices 0..4; anything else counts as 5xx.
inline constexpr size_t kStatusClasses = 5;
inline size_t status_class_index(uint16_t status) noexcept {
  return status >= 100 && status < 600 ? status / 100 - 1 : kStatusClasses - 1;
}

// How an upstream attempt failed, for loadbalancer_upstream_failures_total{kind}.
enum class FailureKind : uint8_t { connect_failure, reset, timeout, server_error, count };

struct alignas(64) ServerShard {
  std::array<Counter, kStatusClasses> responses;  // answers from this server sent to clients
  std::array<Counter, kDurationBuckets> duration_buckets;  // per bucket, not cumulative
  Counter duration_ns_sum;
  std::array<Counter, static_cast<size_t>(FailureKind::count)> failures;  // failed attempts
  Counter retries;         // attempts on this server that were retries
  Counter bytes_received;  // from this server's responses, head and body
  Counter bytes_sent;      // to this server: requests, head and body
  Counter checks_passed;   // active health checks
  Counter checks_failed;
  Counter ejections;         // outlier ejections made by this worker
  Counter breaker_openings;  // transitions to open made by this worker

  // One response forwarded to a client: its status, its time from the request's start to the
  // end of the response, in nanoseconds.
  void record_response(uint16_t status, uint64_t duration_ns) noexcept;
};

// The sum over every worker's shard, and the cumulative histogram Prometheus wants.
struct ServerTotals {
  std::array<uint64_t, kStatusClasses> responses{};
  std::array<uint64_t, kDurationBuckets> duration_buckets{};  // per bucket
  uint64_t duration_ns_sum = 0;
  std::array<uint64_t, static_cast<size_t>(FailureKind::count)> failures{};
  uint64_t retries = 0;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t checks_passed = 0;
  uint64_t checks_failed = 0;
  uint64_t ejections = 0;
  uint64_t breaker_openings = 0;

  uint64_t response_count() const noexcept;
  // The duration below which `quantile` (0..1) of responses fell, interpolated within its
  // bucket as Prometheus's histogram_quantile does; 0 with no responses.
  double duration_quantile_seconds(double quantile) const noexcept;
};

class ServerStats {
 public:
  explicit ServerStats(uint32_t workers);

  ServerShard& shard(uint32_t worker) noexcept { return shards_[worker]; }
  uint32_t workers() const noexcept { return workers_; }
  ServerTotals totals() const noexcept;

 private:
  uint32_t workers_;
  std::unique_ptr<ServerShard[]> shards_;
};

// Answers ballast gave itself for a cluster (no server, a limit, a failure after the last try),
// by status class; one shard per worker as above.
struct alignas(64) ClusterShard {
  std::array<Counter, kStatusClasses> local_responses;
  Counter retries;         // retries made, across the cluster's servers
  Counter tunnels_opened;  // upgraded connections (WebSocket): a 101 passed to the client
  Counter tunnels_closed;
  // HTTP/2 to the servers (protocol: h2/h2c): connections established and closed, streams
  // opened and ended on them.
  Counter http2_connections_opened;
  Counter http2_connections_closed;
  Counter http2_streams_opened;
  Counter http2_streams_closed;
  Counter oversized_responses;  // response heads over the parser's limit: 502, not a failure
  // A server answered, but not all of the request's body reached it: the server closed after an
  // early answer, or the client stopped sending.
  Counter request_bodies_cut_short;
};

class ClusterStats {
 public:
  explicit ClusterStats(uint32_t workers);

  ClusterShard& shard(uint32_t worker) noexcept { return shards_[worker]; }
  uint32_t workers() const noexcept { return workers_; }
  std::array<uint64_t, kStatusClasses> local_responses() const noexcept;
  uint64_t retries() const noexcept;
  // One counter summed over every worker's shard.
  uint64_t sum(Counter ClusterShard::*counter) const noexcept;

 private:
  uint32_t workers_;
  std::unique_ptr<ClusterShard[]> shards_;
};

}  // namespace ballast::observe
