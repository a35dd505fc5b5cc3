#include "observe/access_log.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstring>

#include "observe/json.h"
#include "observe/log.h"

namespace ballast::observe {
namespace {

// Bounds on each string's escaped bytes. With the fixed text and the numbers they keep a line
// under kMaxAccessLine, so a field is cut only by its own bound, never by the line's.
constexpr size_t kMaxClientIp = 64;
constexpr size_t kMaxMethod = 32;
constexpr size_t kMaxCluster = 64;  // names (config/scalars.h is_name) are 1-64 plain characters
constexpr size_t kMaxRoute = 64;
constexpr size_t kMaxRateLimit = 2 * 64 + 1;  // LISTENER/ROUTE
constexpr size_t kMaxRegion = 64;
constexpr size_t kMaxRegionBy = 16;  // "continent"
constexpr size_t kPolicyKeys = 64;   // ,"rate_limit":"  ,"region":"  ,"region_by":"
constexpr size_t kMaxServer = 256;
constexpr size_t kMaxTraceId = 64;
constexpr size_t kMaxRequestId = 128;
constexpr size_t kMaxTlsName = 64;        // a TLS version or cipher name
constexpr size_t kMaxProtocol = 16;       // "HTTP/1.1"
constexpr size_t kFixedAndNumbers = 640;  // keys, punctuation, time, six numbers (≤ 20 digits)
static_assert(kMaxClientIp + kMaxMethod + kMaxLoggedPath + kMaxProtocol + kMaxCluster + kMaxRoute +
                      kMaxServer + kMaxTraceId + kMaxRequestId + 2 * kMaxTlsName + kMaxServer +
                      kMaxRateLimit + kMaxRegion + kMaxRegionBy + kPolicyKeys + kFixedAndNumbers <=
                  kMaxAccessLine,
              "the field bounds must fit a line");

// Appends to a line. Every append is bounded by the end of the line buffer, as a last guard;
// the bounds above keep it from ever cutting.
class Out {
 public:
  explicit Out(char* out) noexcept : begin_(out), pos_(out), end_(out + kMaxAccessLine - 1) {}

  // Fixed text: a memcpy of a constant size, which compiles to a few moves. Room is certain
  // (the bounds above), so only a debug build checks it.
  template <size_t N>
  void literal(const char (&text)[N]) noexcept {
    assert(static_cast<size_t>(end_ - pos_) >= N - 1);
    std::memcpy(pos_, text, N - 1);
    pos_ += N - 1;
  }
  template <size_t N>
  void fixed(const char (&bytes)[N]) noexcept {
    assert(static_cast<size_t>(end_ - pos_) >= N);
    std::memcpy(pos_, bytes, N);
    pos_ += N;
  }
  void escaped(std::string_view value, size_t bound) noexcept {
    pos_ = escape_json(value, pos_, std::min(end_, pos_ + bound));
  }
  // A string in text format: "-" when empty.
  void word(std::string_view value, size_t bound) noexcept {
    if (value.empty()) {
      literal("-");
    } else {
      escaped(value, bound);
    }
  }
  void number(uint64_t value) noexcept {
    pos_ = std::to_chars(pos_, end_, value).ptr;  // leaves pos_ as it was if it cannot fit
  }
  // Nanoseconds as milliseconds with three decimals (microseconds), without floating point.
  void milliseconds(uint64_t ns) noexcept {
    number(ns / 1'000'000);
    const uint64_t micros = ns / 1'000 % 1'000;
    const char fraction[4] = {'.', static_cast<char>('0' + micros / 100),
                              static_cast<char>('0' + micros / 10 % 10),
                              static_cast<char>('0' + micros % 10)};
    fixed(fraction);
  }
  void three_digits(uint64_t value) noexcept {
    const char digits[3] = {static_cast<char>('0' + value / 100),
                            static_cast<char>('0' + value / 10 % 10),
                            static_cast<char>('0' + value % 10)};
    fixed(digits);
  }
  // A time of day from the formatter's cache: always copies 20 bytes (the longest form, the
  // buffer holds 24), a constant-size copy, and keeps `length` of them.
  void time(const char (&cached)[24], size_t length) noexcept {
    assert(static_cast<size_t>(end_ - pos_) >= 20 && length <= 20);
    std::memcpy(pos_, cached, 20);
    pos_ += length;
  }
  size_t finish() noexcept {
    *pos_++ = '\n';  // end_ kept one byte for it
    return static_cast<size_t>(pos_ - begin_);
  }

 private:
  char* begin_;
  char* pos_;
  char* end_;
};

void two_digits(char* out, unsigned value) noexcept {
  out[0] = static_cast<char>('0' + value / 10);
  out[1] = static_cast<char>('0' + value % 10);
}

// Days since 1970-01-01 to a civil date (proleptic Gregorian). Howard Hinnant's
// civil_from_days, "chrono-Compatible Low-Level Date Algorithms"; only days ≥ 0 occur here.
void civil_from_days(uint64_t days, unsigned& year, unsigned& month, unsigned& day) noexcept {
  const uint64_t z = days + 719'468;
  const uint64_t era = z / 146'097;
  const uint64_t doe = z - era * 146'097;                                         // [0, 146096]
  const uint64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;  // [0, 399]
  const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                   // [0, 365]
  const uint64_t mp = (5 * doy + 2) / 153;                                        // [0, 11]
  day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  year = static_cast<unsigned>(yoe + era * 400 + (month <= 2 ? 1 : 0));
}

constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

void AccessLineFormatter::set_format(config::LogFormat format) noexcept {
  if (format != format_) {
    format_ = format;
    cached_second_ = UINT64_MAX;
  }
}

size_t AccessLineFormatter::format(const AccessRecord& record, char* line) noexcept {
  const uint64_t second = record.unix_ns / 1'000'000'000;
  if (second != cached_second_) {
    unsigned year = 0;
    unsigned month = 0;
    unsigned day = 0;
    civil_from_days(second / 86'400, year, month, day);
    const auto time_of_day = static_cast<unsigned>(second % 86'400);
    char* out = cached_time_;
    if (format_ == config::LogFormat::json) {  // 2026-11-24T08:00:00
      out = std::to_chars(out, out + 4, year).ptr;
      *out++ = '-';
      two_digits(out, month);
      out[2] = '-';
      two_digits(out + 3, day);
      out[5] = 'T';
      out += 6;
    } else {  // 24/Nov/2026:08:00:00
      two_digits(out, day);
      out[2] = '/';
      std::memcpy(out + 3, kMonths[month - 1].data(), 3);
      out[6] = '/';
      out = std::to_chars(out + 7, out + 11, year).ptr;
      *out++ = ':';
    }
    two_digits(out, time_of_day / 3'600);
    out[2] = ':';
    two_digits(out + 3, time_of_day / 60 % 60);
    out[5] = ':';
    two_digits(out + 6, time_of_day % 60);
    cached_time_length_ = static_cast<size_t>(out + 8 - cached_time_);
    cached_second_ = second;
  }
  const uint64_t millis = record.unix_ns / 1'000'000 % 1'000;

  Out out(line);
  if (format_ == config::LogFormat::json) {
    out.literal("{\"ts\":\"");
    out.time(cached_time_, cached_time_length_);
    out.literal(".");
    out.three_digits(millis);
    out.literal("Z\",\"type\":\"access\",\"client_ip\":\"");
    out.escaped(record.client_ip, kMaxClientIp);
    out.literal("\",\"method\":\"");
    out.escaped(record.method, kMaxMethod);
    out.literal("\",\"path\":\"");
    out.escaped(record.path, kMaxLoggedPath);
    out.literal("\",\"protocol\":\"");
    out.escaped(record.protocol, kMaxProtocol);
    out.literal("\",\"status\":");
    out.number(record.status);
    out.literal(",\"cluster\":\"");
    out.escaped(record.cluster, kMaxCluster);
    out.literal("\",\"route\":\"");
    out.escaped(record.route, kMaxRoute);
    out.literal("\",\"server\":\"");
    out.escaped(record.server, kMaxServer);
    out.literal("\",\"duration_ms\":");
    out.milliseconds(record.duration_ns);
    out.literal(",\"bytes_received\":");
    out.number(record.bytes_received);
    out.literal(",\"bytes_sent\":");
    out.number(record.bytes_sent);
    out.literal(",\"attempts\":");
    out.number(record.attempts);
    out.literal(",\"trace_id\":\"");
    out.escaped(record.trace_id, kMaxTraceId);
    out.literal("\",\"request_id\":\"");
    out.escaped(record.request_id, kMaxRequestId);
    if (!record.rate_limit.empty()) {
      out.literal("\",\"rate_limit\":\"");
      out.escaped(record.rate_limit, kMaxRateLimit);
    }
    if (!record.region.empty()) {
      out.literal("\",\"region\":\"");
      out.escaped(record.region, kMaxRegion);
      out.literal("\",\"region_by\":\"");
      out.escaped(record.region_by, kMaxRegionBy);
    }
    if (!record.tls_version.empty()) {
      out.literal("\",\"tls_version\":\"");
      out.escaped(record.tls_version, kMaxTlsName);
      out.literal("\",\"tls_cipher\":\"");
      out.escaped(record.tls_cipher, kMaxTlsName);
      out.literal("\",\"sni\":\"");
      out.escaped(record.sni, kMaxServer);
    }
    if (record.request_body_cut_short) {
      out.literal("\",\"request_body_cut_short\":true");
    } else {
      out.literal("\"");
    }
    if (record.grpc_status >= 0) {
      out.literal(",\"grpc_status\":");
      out.number(static_cast<uint64_t>(record.grpc_status));
    }
    out.literal("}");
  } else {
    out.word(record.client_ip, kMaxClientIp);
    out.literal(" - - [");
    out.time(cached_time_, cached_time_length_);
    out.literal(".");
    out.three_digits(millis);
    out.literal(" +0000] \"");
    out.word(record.method, kMaxMethod);
    out.literal(" ");
    out.word(record.path, kMaxLoggedPath);
    if (!record.protocol.empty()) {
      out.literal(" ");
      out.word(record.protocol, kMaxProtocol);
    }
    out.literal("\" ");
    out.number(record.status);
    out.literal(" ");
    out.number(record.bytes_sent);
    out.literal(" cluster=");
    out.word(record.cluster, kMaxCluster);
    out.literal(" route=");
    out.word(record.route, kMaxRoute);
    out.literal(" server=");
    out.word(record.server, kMaxServer);
    out.literal(" duration_ms=");
    out.milliseconds(record.duration_ns);
    out.literal(" bytes_received=");
    out.number(record.bytes_received);
    out.literal(" attempts=");
    out.number(record.attempts);
    out.literal(" trace_id=");
    out.word(record.trace_id, kMaxTraceId);
    out.literal(" request_id=");
    out.word(record.request_id, kMaxRequestId);
    if (!record.rate_limit.empty()) {
      out.literal(" rate_limit=");
      out.word(record.rate_limit, kMaxRateLimit);
    }
    if (!record.region.empty()) {
      out.literal(" region=");
      out.word(record.region, kMaxRegion);
      out.literal(" region_by=");
      out.word(record.region_by, kMaxRegionBy);
    }
    if (!record.tls_version.empty()) {
      out.literal(" tls_version=");
      out.word(record.tls_version, kMaxTlsName);
      out.literal(" tls_cipher=");
      out.word(record.tls_cipher, kMaxTlsName);
      out.literal(" sni=");
      out.word(record.sni, kMaxServer);
    }
    if (record.request_body_cut_short) {
      out.literal(" request_body_cut_short=true");
    }
    if (record.grpc_status >= 0) {
      out.literal(" grpc_status=");
      out.number(static_cast<uint64_t>(record.grpc_status));
    }
  }
  return out.finish();
}

AccessLog::AccessLog(WorkerLogQueue& queue, const config::LoggingConfig& logging, uint64_t seed,
                     core::EventLoop* loop) noexcept
    : queue_(queue), loop_(loop), formatter_(logging.format), random_(seed) {
  configure(logging);
}

AccessLog::~AccessLog() {
  flush();
}

void AccessLog::configure(const config::LoggingConfig& logging) noexcept {
  enabled_ = logging.access_log && logging.access_log_sample > 0.0;
  sample_ = logging.access_log_sample;
  formatter_.set_format(logging.format);
}

void AccessLog::record(const AccessRecord& record) noexcept {
  if (!enabled_) {
    return;
  }
  // unit() is in [0, 1): a share of 1 logs every request without drawing.
  if (sample_ < 1.0 && !(random_.unit() < sample_)) {
    return;
  }
  char* const line = queue_.begin_line(kMaxAccessLine);
  if (line == nullptr) {
    return;  // no free buffer: counted by the queue
  }
  queue_.end_line(formatter_.format(record, line));
  if (loop_ != nullptr && !flush_timer_.armed()) {
    flush_timer_.arm(loop_->timers(), loop_->now_ns() + kFlushDelayNs);
  }
}

}  // namespace ballast::observe
