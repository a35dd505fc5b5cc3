#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): reading the `traceparent` and
// `tracestate` a request brings, making ids, deciding whether to sample, and writing the
// `traceparent` ballast sends upstream.
//
// traceparent is `version-traceid-parentid-flags`, lowercase hex: "00-" 32 hex "-" 16 hex "-"
// 2 hex, 55 characters. Refused (§3.2.2, §4.3): a version that is not two lowercase hex digits
// or is ff; fewer than 55 characters; a trace id or parent id of the wrong length, with a
// character that is not lowercase hex, or all zero; flags that are not two hex digits; a
// missing dash; and for version 00, anything after the flags. A later version may carry more
// fields after the flags, behind a dash: its first four fields are read as version 00's and the
// rest is ignored, as the spec's versioning rules ask. A refused traceparent means a new trace,
// and its tracestate is dropped with it (§3.3.1).
//
// tracestate is passed on unread — ballast adds no entry of its own — but bounded: a value of
// more than 32 list members is dropped whole (§3.3.1.1), and one longer than
// kMaxTraceStateBytes loses members from the end until it fits (§3.3.1.5 lets a vendor truncate
// so). The result views the caller's buffer (the request head); it is valid while that is.
//
// Ids come from the worker's own core::Random, so making one is a few multiplies; they are never
// all zero (the spec's "invalid" value). Workers must seed their generators differently, or two
// workers would make the same ids.
//
// Threading: pure functions over caller-owned values. Cost: a parse reads its 55 bytes once;
// formatting writes 55 bytes; no allocation anywhere.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/random.h"

namespace ballast::observe {

struct TraceId {
  std::array<uint8_t, 16> bytes{};
  bool is_zero() const noexcept;
  bool operator==(const TraceId&) const = default;
};

struct SpanId {
  std::array<uint8_t, 8> bytes{};
  bool is_zero() const noexcept;
  bool operator==(const SpanId&) const = default;
};

inline constexpr size_t kTraceParentBytes = 55;  // version 00, which is all ballast writes
inline constexpr size_t kTraceIdHexBytes = 32;
inline constexpr size_t kSpanIdHexBytes = 16;
inline constexpr size_t kMaxTraceStateBytes = 512;  // the least the spec asks vendors to pass on
inline constexpr size_t kMaxTraceStateMembers = 32;
inline constexpr uint8_t kSampledFlag = 0x01;

// A parsed traceparent: the caller's trace and its span, which becomes our span's parent.
struct TraceParent {
  uint8_t version = 0;
  TraceId trace_id;
  SpanId parent_id;
  uint8_t flags = 0;  // as received; only the sampled bit means anything to us
  bool sampled() const noexcept { return (flags & kSampledFlag) != 0; }
};

enum class TraceParentError : uint8_t {
  ok,
  too_short,         // under 55 characters (after trimming spaces and tabs)
  bad_version,       // not two lowercase hex digits
  reserved_version,  // ff
  bad_separator,     // a dash missing after a field
  bad_trace_id,      // not 32 lowercase hex digits
  zero_trace_id,
  bad_parent_id,  // not 16 lowercase hex digits
  zero_parent_id,
  bad_flags,      // not 2 lowercase hex digits
  trailing_data,  // version 00 with more after the flags
};
std::string_view describe(TraceParentError error) noexcept;

// Parses one traceparent value (leading and trailing spaces and tabs are ignored). `out` is
// written only on ok.
TraceParentError parse_traceparent(std::string_view value, TraceParent& out) noexcept;

// The tracestate to pass on, bounded as above; empty when there is none or it is dropped.
std::string_view bound_tracestate(std::string_view value) noexcept;

// New random ids, never all zero.
TraceId new_trace_id(core::Random& random) noexcept;
SpanId new_span_id(core::Random& random) noexcept;

// Writes "00-<trace id>-<span id>-0{0,1}" into `out`. Returns kTraceParentBytes, or 0 when `out`
// is smaller than that.
size_t format_traceparent(const TraceId& trace_id, const SpanId& span_id, bool sampled,
                          std::span<char> out) noexcept;

// Lowercase hex of an id into `out`, which must hold 2 bytes per id byte (kTraceIdHexBytes,
// kSpanIdHexBytes). Returns the bytes written.
size_t write_hex(std::span<const uint8_t> bytes, char* out) noexcept;

// The sampling decision: a caller's traceparent decides when there is one (its sampled flag),
// so every service in a trace agrees; otherwise a fair coin weighted by sample_rate (<= 0 never,
// >= 1 always). Draws from `random` only when there is no parent.
bool decide_sampled(const TraceParent* parent, double sample_rate, core::Random& random) noexcept;

// How one request continues (or starts) a trace: the request's trace id, ballast's span for the
// request (the server span) and the caller's span above it, whether to sample, and the
// tracestate to pass on.
struct RequestTrace {
  TraceId trace_id;
  SpanId span_id;         // ballast's server span
  SpanId parent_span_id;  // the caller's span; zero when ballast started the trace
  bool sampled = false;
  std::string_view tracestate;  // views the request head; empty when none
  bool has_parent() const noexcept { return !parent_span_id.is_zero(); }
};

// `traceparent` and `tracestate` are the request's header values, empty when absent (a request
// with more than one traceparent should pass an empty one: the spec says to start afresh).
// Several tracestate field lines are one list joined by commas (RFC 9110 §5.3); a caller that
// cannot join them without allocating may pass the first.
RequestTrace begin_request_trace(std::string_view traceparent, std::string_view tracestate,
                                 double sample_rate, core::Random& random) noexcept;

}  // namespace ballast::observe
