#pragma once
// The access log: one line per request (sampled), formatted by the worker straight into its
// WorkerLogQueue buffer and written by the LogWriter thread.
//
// Owns: per worker, the sampling generator and the formatter's cached time of day.
// Threading: one AccessLog per worker, used only on that worker's thread (constructed anywhere,
// then touched by that thread alone). The worker calls record() once per finished request and
// flush() from its loop every few tens of milliseconds, so a quiet worker's lines still reach
// the output; the destructor flushes.
// Lines: JSON (format json)
//   {"ts":"2026-11-24T08:00:00.123Z","type":"access","client_ip":"10.0.0.7","method":"GET",
//    "path":"/v1/items?id=3","status":200,"cluster":"api","route":"api","server":"10.0.1.1:8080",
//    "duration_ms":1.234,"bytes_received":312,"bytes_sent":5120,"attempts":1,"trace_id":"4bf9…",
//    "request_id":"…"} and, on a TLS listener, "tls_version","tls_cipher","sni" before the '}'.
// or combined-log-like text (format text), empty values as "-":
//   10.0.0.7 - - [24/Nov/2026:08:00:00.123 +0000] "GET /v1/items?id=3" 200 5120
//   cluster=api route=api server=10.0.1.1:8080 duration_ms=1.234 bytes_received=312 attempts=1
//   trace_id=4bf9…
// Strings are escaped by escape_json (quotes, backslashes, control characters and bytes outside
// well-formed UTF-8 as \u00XX) and each is cut at a bound (the path at kMaxLoggedPath escaped
// bytes), never inside an escape; so a line is at most kMaxAccessLine bytes.
// Cost: no allocation, no lock, no syscall (a handover may add one futex wake, see
// log_writer.h). Measured (Release build, 2-core VM, ~300-byte line like the one above, writer
// draining to /dev/null): formatting alone ~95 ns; record() ~130 ns, buffer memory traffic
// included; ~6 ns for a request the sampling skips (one draw); a line dropped for want of a
// buffer costs less than one formatted.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "config/config.h"
#include "core/event_loop.h"
#include "core/random.h"
#include "core/timer_wheel.h"
#include "observe/log_writer.h"

namespace ballast::observe {

struct AccessRecord {
  uint64_t unix_ns = 0;  // request start, wall clock (CLOCK_REALTIME)
  std::string_view client_ip, method, path, cluster;
  std::string_view route;     // the route's name (its cluster's unless named); "" when none
  std::string_view protocol;  // the client's: "HTTP/1.0", "HTTP/1.1" or "HTTP/2"
  std::string_view server;    // host:port of the server that answered; "" when ballast answered
  uint16_t status = 0;
  uint64_t duration_ns = 0;     // request start to the response's last byte
  uint64_t bytes_received = 0;  // from the client: request head and body
  uint64_t bytes_sent = 0;      // to the client: response head and body
  uint32_t attempts = 0;        // upstream attempts, retries included; 0 when none was made
  std::string_view trace_id;    // 32 hex digits, or empty
  std::string_view request_id;  // X-Request-Id as sent upstream, or empty
  // The rate limit that refused the request (its 429), or empty (written only then).
  std::string_view rate_limit;
  // Geographic routing: the region that served and how the client's was found ("network",
  // "country", "continent", "nearest", "none"); written only for a geo route.
  std::string_view region, region_by;
  // On a TLS listener: the version, cipher and SNI agreed (fields written only then).
  std::string_view tls_version, tls_cipher, sni;
  // A server answered, but not all of the request's body reached it (written only then).
  bool request_body_cut_short = false;
  int32_t grpc_status = -1;  // a gRPC call's grpc-status (written only then)
};

inline constexpr size_t kMaxLoggedPath = 2048;  // escaped bytes
inline constexpr size_t kMaxAccessLine =
    4096;  // '\n' included; ≤ PIPE_BUF, so a pipe gets it whole

// Formats access lines. Keeps the text of the last second it formatted, so most lines skip
// the calendar arithmetic. Not thread-safe: one per worker.
class AccessLineFormatter {
 public:
  explicit AccessLineFormatter(config::LogFormat format) noexcept : format_(format) {}
  void set_format(config::LogFormat format) noexcept;
  // Writes one line, '\n' included, into `out` (kMaxAccessLine bytes); returns its length.
  size_t format(const AccessRecord& record, char* out) noexcept;

 private:
  config::LogFormat format_;
  uint64_t cached_second_ = UINT64_MAX;
  char cached_time_[24] = {};  // "2026-11-24T08:00:00" or "24/Nov/2026:08:00:00"
  size_t cached_time_length_ = 0;
};

class AccessLog final : public core::Timer::Handler {
 public:
  // How long a line may wait in the worker's buffer before the writer gets it.
  static constexpr uint64_t kFlushDelayNs = 50'000'000;

  // Worker's access log writing into `queue` (LogWriter::queue(worker index)). `seed` starts
  // the sampling generator; give each worker its own (e.g. from the worker index and the time).
  // With `loop`, lines are handed to the writer kFlushDelayNs after the first of them: a timer
  // armed only while lines wait, so an idle worker is not woken for them. Without, the caller
  // flushes.
  AccessLog(WorkerLogQueue& queue, const config::LoggingConfig& logging, uint64_t seed,
            core::EventLoop* loop = nullptr) noexcept;
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Takes access_log, access_log_sample and format from a new configuration (on the worker,
  // when it adopts a reloaded generation). Copies no string.
  void configure(const config::LoggingConfig& logging) noexcept;

  // False when access_log is off (or its sample is 0): the caller may skip building the record.
  bool enabled() const noexcept { return enabled_; }

  // One request: sampled (access_log_sample: 1 logs all, 0 none), then formatted into the
  // queue's current buffer; dropped and counted when the queue has no free buffer.
  void record(const AccessRecord& record) noexcept;

  // Hands the lines written since the last flush to the writer; nothing to do costs a load.
  void flush() noexcept { queue_.flush(); }

  void on_timer(core::Timer& /*timer*/) noexcept override { flush(); }

 private:
  WorkerLogQueue& queue_;
  core::EventLoop* loop_;
  core::Timer flush_timer_{*this};
  AccessLineFormatter formatter_;
  core::Random random_;
  bool enabled_ = true;
  double sample_ = 1.0;
};

}  // namespace ballast::observe
