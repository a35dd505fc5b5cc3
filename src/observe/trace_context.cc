#include "observe/trace_context.h"

#include <algorithm>
#include <cstring>

namespace ballast::observe {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Offsets within a traceparent: "vv-" then the trace id, "-", the parent id, "-", the flags.
constexpr size_t kTraceIdAt = 3;
constexpr size_t kParentIdAt = kTraceIdAt + kTraceIdHexBytes + 1;  // 36
constexpr size_t kFlagsAt = kParentIdAt + kSpanIdHexBytes + 1;     // 53

// The spec's HEXDIGLC: uppercase is refused, not folded.
int lower_hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// Decodes 2 * out.size() lowercase hex digits from `text`. False if any is not one.
bool read_hex(const char* text, std::span<uint8_t> out) noexcept {
  for (size_t i = 0; i < out.size(); ++i) {
    const int high = lower_hex_value(text[2 * i]);
    const int low = lower_hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) {
      return false;
    }
    out[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view text) noexcept {
  while (!text.empty() && is_ows(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_ows(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

bool all_zero(std::span<const uint8_t> bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// Fills `out` from the generator, eight bytes per draw.
void fill_random(std::span<uint8_t> out, core::Random& random) noexcept {
  for (size_t at = 0; at < out.size(); at += sizeof(uint64_t)) {
    const uint64_t word = random.next();
    std::memcpy(out.data() + at, &word, std::min(sizeof(word), out.size() - at));
  }
}

}  // namespace

bool TraceId::is_zero() const noexcept {
  return all_zero(bytes);
}
bool SpanId::is_zero() const noexcept {
  return all_zero(bytes);
}

std::string_view describe(TraceParentError error) noexcept {
  switch (error) {
    case TraceParentError::ok:
      return "ok";
    case TraceParentError::too_short:
      return "shorter than 55 characters";
    case TraceParentError::bad_version:
      return "version is not two lowercase hex digits";
    case TraceParentError::reserved_version:
      return "version ff is invalid";
    case TraceParentError::bad_separator:
      return "a field is not followed by a dash";
    case TraceParentError::bad_trace_id:
      return "trace id is not 32 lowercase hex digits";
    case TraceParentError::zero_trace_id:
      return "trace id is all zero";
    case TraceParentError::bad_parent_id:
      return "parent id is not 16 lowercase hex digits";
    case TraceParentError::zero_parent_id:
      return "parent id is all zero";
    case TraceParentError::bad_flags:
      return "flags are not two lowercase hex digits";
    case TraceParentError::trailing_data:
      return "version 00 has data after the flags";
  }
  return "unknown";
}

TraceParentError parse_traceparent(std::string_view value, TraceParent& out) noexcept {
  value = trim_ows(value);
  // The version first, so that "ff-…" of any length is called what it is.
  uint8_t version = 0;
  if (value.size() < 2 || !read_hex(value.data(), {&version, 1})) {
    return value.size() < kTraceParentBytes ? TraceParentError::too_short
                                            : TraceParentError::bad_version;
  }
  if (version == 0xff) {
    return TraceParentError::reserved_version;
  }
  if (value.size() < kTraceParentBytes) {
    return TraceParentError::too_short;
  }
  if (value[kTraceIdAt - 1] != '-' || value[kParentIdAt - 1] != '-' || value[kFlagsAt - 1] != '-') {
    return TraceParentError::bad_separator;
  }
  TraceParent parsed;
  parsed.version = version;
  if (!read_hex(value.data() + kTraceIdAt, parsed.trace_id.bytes)) {
    return TraceParentError::bad_trace_id;
  }
  if (parsed.trace_id.is_zero()) {
    return TraceParentError::zero_trace_id;
  }
  if (!read_hex(value.data() + kParentIdAt, parsed.parent_id.bytes)) {
    return TraceParentError::bad_parent_id;
  }
  if (parsed.parent_id.is_zero()) {
    return TraceParentError::zero_parent_id;
  }
  if (!read_hex(value.data() + kFlagsAt, {&parsed.flags, 1})) {
    return TraceParentError::bad_flags;
  }
  if (value.size() > kTraceParentBytes) {
    // Version 00 ends at the flags; a later one may go on, but only behind a dash.
    if (version == 0) {
      return TraceParentError::trailing_data;
    }
    if (value[kTraceParentBytes] != '-') {
      return TraceParentError::bad_separator;
    }
  }
  out = parsed;
  return TraceParentError::ok;
}

std::string_view bound_tracestate(std::string_view value) noexcept {
  value = trim_ows(value);
  // Count members (empty ones, which the list syntax allows between commas, do not count) and
  // note where the last one that ends within the byte bound ends.
  size_t members = 0;
  size_t fits_until = 0;  // end of the last member that ends within kMaxTraceStateBytes
  size_t member_start = 0;
  for (size_t at = 0; at <= value.size(); ++at) {
    if (at < value.size() && value[at] != ',') {
      continue;
    }
    if (!trim_ows(value.substr(member_start, at - member_start)).empty()) {
      ++members;
      if (at <= kMaxTraceStateBytes) {
        fits_until = at;
      }
    }
    member_start = at + 1;
  }
  if (members > kMaxTraceStateMembers) {
    return {};
  }
  if (value.size() <= kMaxTraceStateBytes) {
    return value;
  }
  return trim_ows(value.substr(0, fits_until));
}

TraceId new_trace_id(core::Random& random) noexcept {
  TraceId id;
  do {
    fill_random(id.bytes, random);
  } while (id.is_zero());
  return id;
}

SpanId new_span_id(core::Random& random) noexcept {
  SpanId id;
  do {
    fill_random(id.bytes, random);
  } while (id.is_zero());
  return id;
}

size_t write_hex(std::span<const uint8_t> bytes, char* out) noexcept {
  for (const uint8_t byte : bytes) {
    *out++ = kHexDigits[byte >> 4];
    *out++ = kHexDigits[byte & 0x0f];
  }
  return 2 * bytes.size();
}

size_t format_traceparent(const TraceId& trace_id, const SpanId& span_id, bool sampled,
                          std::span<char> out) noexcept {
  if (out.size() < kTraceParentBytes) {
    return 0;
  }
  char* at = out.data();
  *at++ = '0';
  *at++ = '0';
  *at++ = '-';
  at += write_hex(trace_id.bytes, at);
  *at++ = '-';
  at += write_hex(span_id.bytes, at);
  *at++ = '-';
  *at++ = '0';
  *at++ = sampled ? '1' : '0';
  return kTraceParentBytes;
}

bool decide_sampled(const TraceParent* parent, double sample_rate, core::Random& random) noexcept {
  if (parent != nullptr) {
    return parent->sampled();
  }
  // unit() is in [0, 1): a rate of 0 never samples and a rate of 1 always does.
  return random.unit() < sample_rate;
}

RequestTrace begin_request_trace(std::string_view traceparent, std::string_view tracestate,
                                 double sample_rate, core::Random& random) noexcept {
  RequestTrace trace;
  TraceParent parent;
  const bool has_parent =
      !traceparent.empty() && parse_traceparent(traceparent, parent) == TraceParentError::ok;
  if (has_parent) {
    trace.trace_id = parent.trace_id;
    trace.parent_span_id = parent.parent_id;
    trace.tracestate = bound_tracestate(tracestate);
  } else {
    trace.trace_id = new_trace_id(random);
  }
  trace.span_id = new_span_id(random);
  trace.sampled = decide_sampled(has_parent ? &parent : nullptr, sample_rate, random);
  return trace;
}

}  // namespace ballast::observe
