#pragma once
// Requests by the protocol the client spoke, the HTTP/2 connections and streams open now, and
// what the edge policies did with clients' connections and requests (PROXY protocol headers
// taken and refused, redirects answered): what /metrics (ballast_requests_by_protocol_total,
// ballast_http2_connections, ballast_http2_streams, ballast_proxy_protocol_headers_total,
// ballast_redirects_total) and /status ("clients") say.
//
// Owned by the process, outliving its workers. Each worker writes only its own shard (relaxed
// atomics on a cache line of its own, so no two cores write one line); the admin thread adds the
// shards up when asked.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ballast::observe {

enum class ClientProtocol : uint8_t { http10, http11, http2 };
inline constexpr size_t kClientProtocols = 3;

// "HTTP/1.0", "HTTP/1.1", "HTTP/2": the access log's and the metrics' spelling.
std::string_view protocol_name(ClientProtocol protocol) noexcept;

struct alignas(64) ProtocolShard {
  std::array<std::atomic<uint64_t>, kClientProtocols> requests{};
  std::atomic<uint64_t> http2_connections_opened{0};
  std::atomic<uint64_t> http2_connections_closed{0};
  std::atomic<uint64_t> http2_streams_opened{0};
  std::atomic<uint64_t> http2_streams_closed{0};
  std::atomic<uint64_t> proxy_headers_taken{0};
  std::atomic<uint64_t> proxy_headers_refused{0};
  std::atomic<uint64_t> redirects{0};  // a route's redirect or redirect_to_https

  static void count(std::atomic<uint64_t>& counter) noexcept {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  void count_request(ClientProtocol protocol) noexcept {
    requests[static_cast<size_t>(protocol)].fetch_add(1, std::memory_order_relaxed);
  }
  // An opening is counted before its closing, and the closing is released: a reader that
  // sees the closing (acquire) sees the opening too, so open = opened - closed never goes
  // below zero.
  static void opened(std::atomic<uint64_t>& counter) noexcept {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  static void closed(std::atomic<uint64_t>& counter) noexcept {
    counter.fetch_add(1, std::memory_order_release);
  }
};

struct ProtocolTotals {
  std::array<uint64_t, kClientProtocols> requests{};
  uint64_t http2_connections = 0;  // open now
  uint64_t http2_streams = 0;      // open now
  uint64_t proxy_headers_taken = 0;
  uint64_t proxy_headers_refused = 0;
  uint64_t redirects = 0;
};

class ProtocolStats {
 public:
  explicit ProtocolStats(uint32_t workers) : shards_(workers) {}

  ProtocolShard& shard(uint32_t worker) noexcept { return shards_[worker]; }
  ProtocolTotals totals() const noexcept;

 private:
  std::vector<ProtocolShard> shards_;  // one per worker; never resized
};

}  // namespace ballast::observe
