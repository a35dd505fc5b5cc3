#include "observe/span_exporter.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <bit>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "core/blocking_io.h"
#include "core/clock.h"
#include "observe/json.h"
#include "observe/log.h"

namespace ballast::observe {

// A bounded ring with one producer (a worker) and one consumer (the exporter thread). Lamport's
// queue with free-running 64-bit indices: tail - head is the number of spans waiting. The
// producer publishes a slot with a release store of tail_; the consumer frees it with a release
// store of head_. Each index sits on its own cache line, beside what only its writer touches.
class SpanQueue {
 public:
  explicit SpanQueue(uint32_t capacity)
      : mask_(std::bit_ceil(capacity < 2 ? 2u : capacity) - 1),
        slots_(std::make_unique<SpanRecord[]>(mask_ + 1)) {}

  // Producer only.
  bool push(const SpanRecord& span) noexcept {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - cached_head_ > mask_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - cached_head_ > mask_) {
        count_drop();
        return false;
      }
    }
    slots_[tail & mask_] = span;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Producer only (one writer; read by anyone).
  void count_drop() noexcept {
    dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  uint64_t capacity() const noexcept { return mask_ + 1; }

  // Consumer only: appends up to `limit` spans to `out`; returns how many.
  size_t pop(std::vector<SpanRecord>& out, size_t limit) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    const uint64_t count = tail - head < limit ? tail - head : limit;
    for (uint64_t i = 0; i < count; ++i) {
      out.push_back(slots_[(head + i) & mask_]);
    }
    head_.store(head + count, std::memory_order_release);
    return count;
  }

  // Consumer only: forgets every waiting span; returns how many.
  uint64_t discard() noexcept {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    head_.store(tail, std::memory_order_release);
    return tail - head;
  }

 private:
  const uint64_t mask_;
  const std::unique_ptr<SpanRecord[]> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};  // consumer writes
  alignas(64) std::atomic<uint64_t> tail_{0};  // producer writes
  uint64_t cached_head_ = 0;                   // producer's last look at head_
  std::atomic<uint64_t> dropped_{0};           // producer writes
};

namespace {

constexpr std::string_view kDefaultTracesPath = "/v1/traces";
constexpr size_t kResponseHeadBytes = 8192;
constexpr uint64_t kMaxDiscardedBodyBytes = 1 << 20;  // a larger answer closes the connection

int64_t clock_ns(clockid_t clock) noexcept {
  timespec now{};
  clock_gettime(clock, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// ---- JSON ------------------------------------------------------------------------------------

void append_decimal_string(std::string& out, uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out += '"';
  out.append(digits, result.ptr);
  out += '"';
}

template <size_t N>
void append_hex_string(std::string& out, const std::array<uint8_t, N>& id) {
  char hex[2 * N];
  write_hex(id, hex);
  out += '"';
  out.append(hex, sizeof(hex));
  out += '"';
}

// Writes attribute key-value objects, commas between them.
class AttributeWriter {
 public:
  explicit AttributeWriter(std::string& out) : out_(out) {}

  void text(std::string_view key, std::string_view value) {
    if (value.empty()) {
      return;
    }
    open(key);
    out_ += "{\"stringValue\":";
    append_json_string(out_, value);
    out_ += "}}";
  }
  void integer(std::string_view key, uint64_t value) {
    open(key);
    out_ += "{\"intValue\":";
    append_decimal_string(out_, value);
    out_ += "}}";
  }
  void boolean(std::string_view key, bool value) {
    open(key);
    out_ += value ? "{\"boolValue\":true}}" : "{\"boolValue\":false}}";
  }

 private:
  void open(std::string_view key) {
    if (!first_) {
      out_ += ',';
    }
    first_ = false;
    out_ += "{\"key\":";
    append_json_string(out_, key);
    out_ += ",\"value\":";
  }

  std::string& out_;
  bool first_ = true;
};

void append_span(std::string& out, const SpanRecord& span) {
  out += "{\"traceId\":";
  append_hex_string(out, span.trace_id.bytes);
  out += ",\"spanId\":";
  append_hex_string(out, span.span_id.bytes);
  if (!span.parent_span_id.is_zero()) {
    out += ",\"parentSpanId\":";
    append_hex_string(out, span.parent_span_id.bytes);
  }
  out += ",\"name\":";
  // OTLP requires a name; OpenTelemetry's HTTP conventions use "HTTP" when nothing better is
  // known.
  append_json_string(out, span.name.length > 0 ? span.name.view() : std::string_view("HTTP"));
  out += ",\"kind\":";
  out += span.kind == SpanKind::client ? '3' : '2';
  out += ",\"startTimeUnixNano\":";
  append_decimal_string(out, span.start_unix_ns);
  out += ",\"endTimeUnixNano\":";
  append_decimal_string(out, span.end_unix_ns);
  out += ",\"attributes\":[";
  AttributeWriter attributes(out);
  attributes.text("http.request.method", span.method.view());
  attributes.text("url.path", span.path.view());
  if (span.http_status_code != 0) {
    attributes.integer("http.response.status_code", span.http_status_code);
  }
  attributes.text("server.address", span.server_address.view());
  attributes.text("ballast.cluster", span.cluster.view());
  if (!span.request_id.view().empty()) {
    attributes.text("ballast.request_id", span.request_id.view());
  }
  if (span.attempt != 0) {
    attributes.integer("ballast.attempt", span.attempt);
    attributes.boolean("ballast.retry", span.retry);
  }
  out += ']';
  if (span.status != SpanStatus::unset) {
    out += ",\"status\":{\"code\":";
    out += span.status == SpanStatus::error ? '2' : '1';
    out += '}';
  }
  out += '}';
}

// ---- the HTTP client -------------------------------------------------------------------------

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    x = (x >= 'A' && x <= 'Z') ? static_cast<char>(x - 'A' + 'a') : x;
    y = (y >= 'A' && y <= 'Z') ? static_cast<char>(y - 'A' + 'a') : y;
    if (x != y) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// What the exporter needs of a response head: the status, and whether the connection can carry
// the next POST (a Content-Length body it can read to the end, and no Connection: close).
struct ResponseSummary {
  int status = 0;
  bool has_length = false;
  uint64_t content_length = 0;
  bool reusable = false;
};

bool read_response_head(std::string_view head, ResponseSummary& out) noexcept {
  // "HTTP/1.x NNN ..." — enough for a collector's answer; the full parser lives in src/http,
  // which observe does not depend on.
  if (head.size() < 12 || !head.starts_with("HTTP/1.") || head[8] != ' ') {
    return false;
  }
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (head[i] < '0' || head[i] > '9') {
      return false;
    }
    status = status * 10 + (head[i] - '0');
  }
  out.status = status;
  bool keep_alive = head[7] == '1';
  bool chunked = false;
  size_t line_start = head.find("\r\n");
  while (line_start != std::string_view::npos && line_start + 2 < head.size()) {
    line_start += 2;
    const size_t line_end = head.find("\r\n", line_start);
    const std::string_view line =
        head.substr(line_start, line_end == std::string_view::npos ? std::string_view::npos
                                                                   : line_end - line_start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view name = line.substr(0, colon);
      const std::string_view value = trim(line.substr(colon + 1));
      if (equals_ignoring_case(name, "content-length")) {
        uint64_t length = 0;
        const auto parsed = std::from_chars(value.data(), value.data() + value.size(), length);
        if (parsed.ec != std::errc() || parsed.ptr != value.data() + value.size()) {
          return false;
        }
        out.has_length = true;
        out.content_length = length;
      } else if (equals_ignoring_case(name, "connection")) {
        keep_alive = keep_alive && !equals_ignoring_case(value, "close");
      } else if (equals_ignoring_case(name, "transfer-encoding")) {
        chunked = true;
      }
    }
    line_start = line_end;
  }
  // A chunked or unframed body would need reading to its end; closing is simpler, and a POST a
  // second is no reason to parse chunks.
  out.reusable =
      keep_alive && out.has_length && !chunked && out.content_length <= kMaxDiscardedBodyBytes;
  return true;
}

SpanExporterOptions with_limits(SpanExporterOptions options) noexcept {
  options.batch_max_spans = options.batch_max_spans == 0 ? 1 : options.batch_max_spans;
  options.poll_interval_ms = options.poll_interval_ms == 0 ? 1 : options.poll_interval_ms;
  return options;
}

}  // namespace

// ---- public functions ------------------------------------------------------------------------

int64_t unix_minus_monotonic_ns() noexcept {
  return clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
}

HttpEndpoint parse_http_endpoint(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() ||
      !equals_ignoring_case(url.substr(0, kScheme.size()), kScheme)) {
    throw std::invalid_argument("tracing endpoint must be an http:// URL, got \"" +
                                std::string(url) + "\"");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) {
    rest = rest.substr(0, fragment);
  }
  const size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view path =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  HttpEndpoint endpoint;
  if (authority.find('@') != std::string_view::npos) {
    throw std::invalid_argument("tracing endpoint: user information is not supported");
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      throw std::invalid_argument("tracing endpoint: unterminated IPv6 address");
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) {
      throw std::invalid_argument("tracing endpoint: unexpected text after the IPv6 address");
    }
    port = after.empty() ? after : after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) {
    throw std::invalid_argument("tracing endpoint: no host in \"" + std::string(url) + "\"");
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto parsed = std::from_chars(port.data(), port.data() + port.size(), value);
    if (parsed.ec != std::errc() || parsed.ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      throw std::invalid_argument("tracing endpoint: bad port \"" + std::string(port) + "\"");
    }
    endpoint.port = static_cast<uint16_t>(value);
  }
  endpoint.host = std::string(host);
  endpoint.host_header = std::string(authority);
  if (path.empty()) {
    path = kDefaultTracesPath;
  }
  endpoint.path = path.starts_with('/') ? std::string(path) : "/" + std::string(path);
  return endpoint;
}

void append_otlp_json(std::span<const SpanRecord> spans, std::string& out) {
  out +=
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
      "{\"stringValue\":\"ballast\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"ballast\"},"
      "\"spans\":[";
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_span(out, spans[i]);
  }
  out += "]}]}]}";
}

// ---- SpanExporter ----------------------------------------------------------------------------

SpanExporter::SpanExporter(const config::TracingConfig& tracing, uint32_t workers,
                           SpanExporterOptions options)
    : url_(tracing.endpoint),
      endpoint_(parse_http_endpoint(tracing.endpoint)),
      options_(with_limits(options)) {
  queues_.reserve(workers);
  for (uint32_t i = 0; i < workers; ++i) {
    queues_.push_back(std::make_unique<SpanQueue>(options_.queue_capacity));
  }
  batch_.reserve(options_.batch_max_spans);
  thread_ = std::thread([this] { run(); });
}

SpanExporter::~SpanExporter() {
  stop();
}

bool SpanExporter::submit(uint32_t worker, const SpanRecord& span) noexcept {
  assert(worker < queues_.size());
  if (worker >= queues_.size()) {
    return false;
  }
  SpanQueue& queue = *queues_[worker];
  if (closed_.load(std::memory_order_acquire)) {
    queue.count_drop();
    return false;
  }
  return queue.push(span);
}

void SpanExporter::stop() {
  closed_.store(true, std::memory_order_release);
  {
    const std::lock_guard lock(stop_mutex_);
    stop_requested_ = true;
  }
  stop_signal_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
  // Whatever a racing submit left behind will never be sent.
  for (const auto& queue : queues_) {
    export_dropped_.fetch_add(queue->discard(), std::memory_order_relaxed);
  }
  connection_.reset();
}

uint64_t SpanExporter::spans_exported() const noexcept {
  return exported_.load(std::memory_order_relaxed);
}

uint64_t SpanExporter::spans_dropped() const noexcept {
  uint64_t dropped = export_dropped_.load(std::memory_order_relaxed);
  for (const auto& queue : queues_) {
    dropped += queue->dropped();
  }
  return dropped;
}

uint64_t SpanExporter::export_errors() const noexcept {
  return export_errors_.load(std::memory_order_relaxed);
}

void SpanExporter::run() {
  const auto poll_interval = std::chrono::milliseconds(options_.poll_interval_ms);
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(stop_mutex_);
      stop_signal_.wait_for(lock, poll_interval, [this] { return stop_requested_; });
      stopping = stop_requested_;
    }
    drain(stopping);
    const bool due =
        core::monotonic_now_ns() - batch_started_ns_ >= options_.flush_interval_ms * core::kNsPerMs;
    if (!batch_.empty() && (stopping || due)) {
      export_batch(stopping);
    }
    if (stopping) {
      return;
    }
  }
}

void SpanExporter::drain(bool stopping) {
  for (const auto& queue : queues_) {
    // At most one queue's worth per wake, a batch at a time: a worker that submits faster than
    // the collector takes cannot keep this loop from the other queues or from stop().
    uint64_t budget = queue->capacity();
    while (budget > 0) {
      const size_t room = options_.batch_max_spans - batch_.size();
      const bool was_empty = batch_.empty();
      const size_t taken = queue->pop(batch_, room < budget ? room : budget);
      if (taken == 0) {
        break;
      }
      budget -= taken;
      if (was_empty) {
        batch_started_ns_ = core::monotonic_now_ns();
      }
      if (batch_.size() == options_.batch_max_spans) {
        export_batch(stopping);
      }
    }
  }
}

void SpanExporter::export_batch(bool stopping) {
  const uint64_t count = batch_.size();
  if (stopping && give_up_on_stop_) {
    export_dropped_.fetch_add(count, std::memory_order_relaxed);
    batch_.clear();
    return;
  }
  body_.clear();
  append_otlp_json(batch_, body_);
  batch_.clear();
  if (post_batch()) {
    exported_.fetch_add(count, std::memory_order_relaxed);
    if (failing_) {
      log_event(config::LogLevel::info, "trace export recovered", {{"endpoint", url_}});
    }
    failing_ = false;
    return;
  }
  export_errors_.fetch_add(1, std::memory_order_relaxed);
  export_dropped_.fetch_add(count, std::memory_order_relaxed);
  if (!failing_) {
    log_event(config::LogLevel::warn, "trace export failed; spans are dropped until it recovers",
              {{"endpoint", url_}, {"error", last_error_}});
  }
  failing_ = true;
  give_up_on_stop_ = stopping;
}

bool SpanExporter::post_batch() {
  request_.clear();
  request_ += "POST ";
  request_ += endpoint_.path;
  request_ += " HTTP/1.1\r\nHost: ";
  request_ += endpoint_.host_header;
  request_ += "\r\nUser-Agent: ballast\r\nContent-Type: application/json\r\nContent-Length: ";
  request_ += std::to_string(body_.size());
  request_ += "\r\n\r\n";
  request_ += body_;

  const uint64_t deadline_ns = core::monotonic_now_ns() + options_.timeout_ms * core::kNsPerMs;
  bool stale = false;
  if (post_once(deadline_ns, stale)) {
    return true;
  }
  // A kept-alive connection the collector closed while idle fails before any answer: that one
  // case is worth a second try, on a new connection.
  return stale && post_once(deadline_ns, stale);
}

bool SpanExporter::post_once(uint64_t deadline_ns, bool& stale) {
  const bool reused = connection_.valid();
  stale = false;
  const auto fail = [&](std::string error) {
    last_error_ = std::move(error);
    connection_.reset();
    return false;
  };

  if (!reused) {
    std::string error;
    connection_ = core::connect_by(endpoint_.host, endpoint_.port, deadline_ns, error);
    if (!connection_.valid()) {
      return fail(std::move(error));
    }
  }
  const int fd = connection_.get();

  size_t sent = 0;
  while (sent < request_.size()) {
    const ssize_t n = ::send(fd, request_.data() + sent, request_.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!core::wait_ready(fd, POLLOUT, deadline_ns)) {
        return fail("send timed out");
      }
    } else if (n < 0 && errno != EINTR) {
      stale = reused && sent == 0;
      return fail(core::errno_text("send", errno));
    }
  }

  char head[kResponseHeadBytes];
  size_t received = 0;
  size_t head_end = std::string_view::npos;
  while (head_end == std::string_view::npos) {
    if (received == sizeof(head)) {
      return fail("response head too large");
    }
    const ssize_t n = ::recv(fd, head + received, sizeof(head) - received, 0);
    if (n > 0) {
      received += static_cast<size_t>(n);
      head_end = std::string_view(head, received).find("\r\n\r\n");
    } else if (n == 0) {
      stale = reused && received == 0;
      return fail("connection closed before the response");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!core::wait_ready(fd, POLLIN, deadline_ns)) {
        return fail("no response within the timeout");
      }
    } else if (errno != EINTR) {
      stale = reused && received == 0 && errno == ECONNRESET;
      return fail(core::errno_text("recv", errno));
    }
  }

  ResponseSummary response;
  if (!read_response_head(std::string_view(head, head_end + 2), response)) {
    return fail("malformed response");
  }
  const bool success = response.status >= 200 && response.status < 300;
  if (!success) {
    fail("collector answered " + std::to_string(response.status));
  } else if (!response.reusable) {
    connection_.reset();
  } else {
    // Read the (small) body to its end so the next POST starts on a clean stream.
    const uint64_t already = received - (head_end + 4);
    uint64_t body_left = response.content_length -
                         (already < response.content_length ? already : response.content_length);
    if (already > response.content_length) {
      connection_.reset();  // more than the answer arrived: the stream is out of step
      body_left = 0;
    }
    while (body_left > 0) {
      const ssize_t n = ::recv(fd, head, body_left < sizeof(head) ? body_left : sizeof(head), 0);
      if (n > 0) {
        body_left -= static_cast<uint64_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
                 core::wait_ready(fd, POLLIN, deadline_ns)) {
        continue;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        connection_.reset();  // the spans were accepted; only the connection is lost
        break;
      }
    }
  }
  return success;
}

}  // namespace ballast::observe
