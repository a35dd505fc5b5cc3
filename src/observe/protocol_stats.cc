#include "observe/protocol_stats.h"

namespace ballast::observe {

std::string_view protocol_name(ClientProtocol protocol) noexcept {
  switch (protocol) {
    case ClientProtocol::http10:
      return "HTTP/1.0";
    case ClientProtocol::http11:
      return "HTTP/1.1";
    case ClientProtocol::http2:
      return "HTTP/2";
  }
  return "HTTP/1.1";
}

ProtocolTotals ProtocolStats::totals() const noexcept {
  ProtocolTotals totals;
  uint64_t connections_closed = 0;
  uint64_t streams_closed = 0;
  // Closings first (see ProtocolShard::closed): whatever opened after is counted as open.
  for (const ProtocolShard& shard : shards_) {
    connections_closed += shard.http2_connections_closed.load(std::memory_order_acquire);
    streams_closed += shard.http2_streams_closed.load(std::memory_order_acquire);
  }
  for (const ProtocolShard& shard : shards_) {
    for (size_t i = 0; i < kClientProtocols; ++i) {
      totals.requests[i] += shard.requests[i].load(std::memory_order_relaxed);
    }
    totals.http2_connections += shard.http2_connections_opened.load(std::memory_order_relaxed);
    totals.http2_streams += shard.http2_streams_opened.load(std::memory_order_relaxed);
    totals.proxy_headers_taken += shard.proxy_headers_taken.load(std::memory_order_relaxed);
    totals.proxy_headers_refused += shard.proxy_headers_refused.load(std::memory_order_relaxed);
    totals.redirects += shard.redirects.load(std::memory_order_relaxed);
  }
  totals.http2_connections -= connections_closed;
  totals.http2_streams -= streams_closed;
  return totals;
}

}  // namespace ballast::observe
