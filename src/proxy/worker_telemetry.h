#pragma once
// What a worker's sessions need to trace requests (and, with the access log, to record them):
// the worker's index (which queue and shard is its own), its random source for trace and span
// ids, the process's span exporter, and the offset from the loop's clock to the wall clock.
//
// Owned by the Worker; used only on its thread. The exporter it points to is the process's
// (ProxyProcess owns it and outlives the workers); its submit() is the one call that crosses
// threads, through that worker's own single-producer queue.

#include <cstdint>

#include "core/random.h"
#include "observe/access_log.h"
#include "observe/protocol_stats.h"
#include "observe/span_exporter.h"

namespace ballast::proxy {

struct WorkerTelemetry {
  WorkerTelemetry(uint32_t worker, uint64_t seed) : worker(worker), random(seed) {}

  const uint32_t worker;
  core::Random random;                          // trace and span ids, sampling
  observe::SpanExporter* spans = nullptr;       // null when tracing is off
  observe::AccessLog* access_log = nullptr;     // the worker's; always set once it runs
  observe::ProtocolShard* protocols = nullptr;  // the worker's shard of the process's; may be null
  double sample_rate = 0.0;
  int64_t unix_offset_ns = 0;  // add to EventLoop::now_ns() for unix nanoseconds

  bool tracing() const noexcept { return spans != nullptr; }
  uint64_t unix_ns(uint64_t monotonic_ns) const noexcept {
    return static_cast<uint64_t>(static_cast<int64_t>(monotonic_ns) + unix_offset_ns);
  }
};

}  // namespace ballast::proxy
