#pragma once
// Span export: workers hand finished spans to per-worker queues; one exporter thread batches
// them into OTLP/HTTP JSON bodies and POSTs them to the collector in `tracing.endpoint`.
//
// Owns: one bounded single-producer single-consumer queue per worker, the exporter thread, its
// connection to the collector and its body buffer.
// Threading: submit(w, …) is called only by worker w (one producer per queue); it is a copy into
// a ring slot and a release store — no lock, no allocation, no syscall. A full queue drops the
// span and counts it. Everything that waits (draining, JSON, DNS, connect, send, receive) happens
// on the exporter thread, which wakes every poll_interval_ms to drain the queues. The counters
// may be read from any thread.
//
// Batching: a POST carries up to batch_max_spans spans and goes when that many are waiting, or
// flush_interval_ms after the oldest waiting span was drained. Failures are not retried: a
// refused connection, a timeout (timeout_ms for connect, send and response together) or a
// non-2xx answer drops the batch and counts an export error and its spans as dropped. The
// one exception is a kept-alive connection the collector closed while idle: that batch is sent
// once more on a fresh connection. stop() drains and exports everything queued, then joins;
// after a failed export during stop() the rest is dropped rather than tried, so stopping takes
// at most one timeout more. The first failure after a success is logged (log_event, warn), as
// is the recovery; the failures in between are only counted.
//
// The body is an ExportTraceServiceRequest in the OTLP JSON mapping
// (opentelemetry-proto, docs/specification.md "JSON Protobuf Encoding"): resourceSpans[1] with
// resource attribute service.name="ballast", scopeSpans[1] with scope name "ballast", then the
// spans. Ids are lowercase hex, times and int attributes are decimal strings (proto3 JSON's
// int64 form), kind and status code are the enums' integers. Strings are JSON-escaped and any
// byte sequence that is not UTF-8 (a path, a name cut short) becomes U+FFFD.
//
// Cost: submit copies one SpanRecord (440 bytes); memory is workers × queue_capacity records.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "config/config.h"
#include "core/socket.h"
#include "observe/trace_context.h"

namespace ballast::observe {

// A string of at most Capacity bytes kept inline, so a SpanRecord stays a flat copyable value.
// Longer text is cut at Capacity bytes.
template <size_t Capacity>
struct SpanText {
  static_assert(Capacity <= UINT16_MAX);
  char bytes[Capacity]{};
  uint16_t length = 0;

  void assign(std::string_view text) noexcept {
    length = static_cast<uint16_t>(text.size() < Capacity ? text.size() : Capacity);
    for (size_t i = 0; i < length; ++i) {
      bytes[i] = text[i];
    }
  }
  std::string_view view() const noexcept { return {bytes, length}; }
};

// OTLP's Span.SpanKind values.
enum class SpanKind : uint8_t { server = 2, client = 3 };
// OTLP's Status.StatusCode values. OpenTelemetry's HTTP conventions: a server span is an error
// for a 5xx it answers; a client span for a 4xx or 5xx, or no response at all.
enum class SpanStatus : uint8_t { unset = 0, ok = 1, error = 2 };

// One finished span, filled by a worker. Attributes that are empty (or zero) are left out of
// the export, so a server span simply leaves the client-only ones unset.
struct SpanRecord {
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id;  // zero: a root span
  uint64_t start_unix_ns = 0;
  uint64_t end_unix_ns = 0;
  SpanKind kind = SpanKind::server;
  SpanStatus status = SpanStatus::unset;
  uint16_t http_status_code = 0;  // http.response.status_code; 0 = no response
  uint16_t attempt = 0;           // ballast.attempt, 1 for the first try; 0 = not an attempt
  bool retry = false;             // ballast.retry; written whenever attempt is set
  SpanText<64> name;              // e.g. "GET" (OpenTelemetry names HTTP spans by method)
  SpanText<16> method;            // http.request.method
  SpanText<128> path;             // url.path: the target's path, without the query
  SpanText<96> server_address;    // server.address: the upstream's "host:port"
  SpanText<64> cluster;           // ballast.cluster
  SpanText<64> request_id;        // ballast.request_id: X-Request-Id as sent upstream
};
static_assert(std::is_trivially_copyable_v<SpanRecord>);

// realtime − monotonic, now: add it to a monotonic reading (EventLoop::now_ns) for unix
// nanoseconds. Read it once per worker at start; it drifts only when the wall clock is stepped.
int64_t unix_minus_monotonic_ns() noexcept;

// The parts of an http:// URL the exporter needs. An empty path becomes "/v1/traces", OTLP's
// path for traces.
struct HttpEndpoint {
  std::string host;  // a name, or an IP literal (IPv6 without its brackets)
  uint16_t port = 80;
  std::string path;         // with any query, as given
  std::string host_header;  // host[:port] as the Host field wants it
};
// Throws std::invalid_argument naming what is wrong (not http://, userinfo, a bad port, no host).
HttpEndpoint parse_http_endpoint(std::string_view url);

// Appends the ExportTraceServiceRequest JSON for `spans` to `out`. Exporter thread, and tests.
void append_otlp_json(std::span<const SpanRecord> spans, std::string& out);

struct SpanExporterOptions {
  uint32_t queue_capacity = 1024;  // spans per worker queue; rounded up to a power of two
  uint32_t batch_max_spans = 512;
  uint64_t flush_interval_ms = 1000;
  uint64_t poll_interval_ms = 50;
  uint64_t timeout_ms = 2000;  // one POST: connect, send and the response head together
};

class SpanQueue;

class SpanExporter {
 public:
  // Parses tracing.endpoint (throws std::invalid_argument) and starts the exporter thread. The
  // collector is not contacted until there is something to send; its name is resolved then, on
  // the exporter thread, for every new connection.
  SpanExporter(const config::TracingConfig& tracing, uint32_t workers,
               SpanExporterOptions options = {});
  ~SpanExporter();  // stop()
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  // Worker `worker` only (0..workers-1). False when the span is dropped: its queue is full, or
  // stop() has begun.
  bool submit(uint32_t worker, const SpanRecord& span) noexcept;

  // Exports what is queued and joins the thread. Idempotent, from one thread at a time; call it
  // once workers have stopped submitting (a span submitted while it runs may be left behind, and is
  // counted as dropped).
  void stop();

  uint64_t spans_exported() const noexcept;  // acknowledged by the collector with a 2xx
  uint64_t spans_dropped() const noexcept;   // queue full, stopped, or in a failed export
  uint64_t export_errors() const noexcept;   // failed POSTs

 private:
  void run();
  // Moves queued spans into batch_, exporting each time it fills.
  void drain(bool stopping);
  void export_batch(bool stopping);
  bool post_batch();
  bool post_once(uint64_t deadline_ns, bool& stale);

  const std::string url_;
  const HttpEndpoint endpoint_;
  const SpanExporterOptions options_;
  std::vector<std::unique_ptr<SpanQueue>> queues_;

  // Exporter thread only.
  std::vector<SpanRecord> batch_;
  uint64_t batch_started_ns_ = 0;    // when the oldest span in batch_ was drained (monotonic)
  std::string body_;                 // the JSON of batch_, reused
  std::string request_;              // head and body of the POST, reused
  core::FileDescriptor connection_;  // to the collector, kept alive when it allows
  std::string last_error_;           // why the last POST failed, for the log
  bool failing_ = false;             // the last export failed (logged once per change)
  bool give_up_on_stop_ = false;     // stop(): an export failed, drop the rest

  std::atomic<bool> closed_{false};  // stop() has begun: submit refuses
  std::atomic<uint64_t> exported_{0};
  std::atomic<uint64_t> export_dropped_{0};  // spans lost in failed exports, or left at stop
  std::atomic<uint64_t> export_errors_{0};

  std::mutex stop_mutex_;  // guards stop_requested_; the exporter's wait and stop() only
  std::condition_variable stop_signal_;
  bool stop_requested_ = false;
  std::thread thread_;
};

}  // namespace ballast::observe
