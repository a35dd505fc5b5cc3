#include "observe/span_exporter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"

// The exporter against a collector run by the test: a thread with a listening socket on
// 127.0.0.1 that reads POSTs, parses each body with a small strict JSON parser, and answers.
// Every wait is bounded (kWait), so a broken exporter fails a test rather than hanging it.

namespace ballast::observe {
namespace {

constexpr auto kWait = std::chrono::seconds(5);

// ---- a strict JSON parser, just enough to read what the exporter writes --------------------

struct Json {
  enum class Type { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  std::string text;  // a string's decoded value, or a number's digits
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;

  const Json* find(std::string_view key) const {
    for (const auto& [name, value] : members) {
      if (name == key) {
        return &value;
      }
    }
    return nullptr;
  }
  // A missing key gives a null value, so a chain of lookups fails one assertion, not the test.
  const Json& operator[](std::string_view key) const {
    static const Json kNull;
    const Json* value = find(key);
    return value != nullptr ? *value : kNull;
  }
  const Json& operator[](size_t index) const {
    static const Json kNull;
    return index < items.size() ? items[index] : kNull;
  }
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  std::optional<Json> parse() {
    Json value;
    if (!parse_value(value)) {
      return std::nullopt;
    }
    skip_space();
    return at_ == text_.size() ? std::optional<Json>(std::move(value)) : std::nullopt;
  }

 private:
  void skip_space() {
    while (at_ < text_.size() && std::strchr(" \t\r\n", text_[at_]) != nullptr) {
      ++at_;
    }
  }
  bool consume(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) {
      return false;
    }
    at_ += word.size();
    return true;
  }
  bool parse_value(Json& out) {
    skip_space();
    if (at_ >= text_.size()) {
      return false;
    }
    const char c = text_[at_];
    if (c == '{') {
      return parse_object(out);
    }
    if (c == '[') {
      return parse_array(out);
    }
    if (c == '"') {
      out.type = Json::Type::string;
      return parse_string(out.text);
    }
    if (consume("true")) {
      out.type = Json::Type::boolean;
      out.boolean = true;
      return true;
    }
    if (consume("false")) {
      out.type = Json::Type::boolean;
      return true;
    }
    if (consume("null")) {
      return true;
    }
    const size_t start = at_;
    while (at_ < text_.size() && std::strchr("-+.eE0123456789", text_[at_]) != nullptr) {
      ++at_;
    }
    out.type = Json::Type::number;
    out.text = std::string(text_.substr(start, at_ - start));
    return at_ > start;
  }
  bool parse_object(Json& out) {
    out.type = Json::Type::object;
    ++at_;
    skip_space();
    if (consume("}")) {
      return true;
    }
    for (;;) {
      skip_space();
      std::string key;
      if (at_ >= text_.size() || text_[at_] != '"' || !parse_string(key)) {
        return false;
      }
      skip_space();
      if (!consume(":")) {
        return false;
      }
      Json value;
      if (!parse_value(value)) {
        return false;
      }
      out.members.emplace_back(std::move(key), std::move(value));
      skip_space();
      if (consume("}")) {
        return true;
      }
      if (!consume(",")) {
        return false;
      }
    }
  }
  bool parse_array(Json& out) {
    out.type = Json::Type::array;
    ++at_;
    skip_space();
    if (consume("]")) {
      return true;
    }
    for (;;) {
      Json value;
      if (!parse_value(value)) {
        return false;
      }
      out.items.push_back(std::move(value));
      skip_space();
      if (consume("]")) {
        return true;
      }
      if (!consume(",")) {
        return false;
      }
    }
  }
  static void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xc0 | code >> 6);
      out += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      out += static_cast<char>(0xe0 | code >> 12);
      out += static_cast<char>(0x80 | (code >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (code & 0x3f));
    }
  }
  bool parse_string(std::string& out) {
    ++at_;  // the opening quote
    while (at_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[at_++]);
      if (c == '"') {
        return true;
      }
      if (c < 0x20) {
        return false;  // raw control characters are not JSON
      }
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (at_ >= text_.size()) {
        return false;
      }
      const char escape = text_[at_++];
      switch (escape) {
        case '"':
        case '\\':
        case '/':
          out += escape;
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          if (at_ + 4 > text_.size()) {
            return false;
          }
          uint32_t code = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = text_[at_++];
            code <<= 4;
            if (h >= '0' && h <= '9') {
              code |= h - '0';
            } else if (h >= 'a' && h <= 'f') {
              code |= h - 'a' + 10;
            } else if (h >= 'A' && h <= 'F') {
              code |= h - 'A' + 10;
            } else {
              return false;
            }
          }
          if (code >= 0xd800 && code <= 0xdfff) {
            return false;  // the exporter never needs surrogate pairs
          }
          append_utf8(out, code);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  std::string_view text_;
  size_t at_ = 0;
};

// Checks that `text` is well-formed UTF-8, as JSON text must be (RFC 8259 §8.1).
bool valid_utf8(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    const auto lead = static_cast<unsigned char>(text[at]);
    size_t length = lead < 0x80                    ? 1
                    : lead >= 0xc2 && lead <= 0xdf ? 2
                    : lead >= 0xe0 && lead <= 0xef ? 3
                    : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                   : 0;
    if (length == 0 || at + length > text.size()) {
      return false;
    }
    for (size_t i = 1; i < length; ++i) {
      if ((static_cast<unsigned char>(text[at + i]) & 0xc0) != 0x80) {
        return false;
      }
    }
    at += length;
  }
  return true;
}

// The value object of the attribute named `key` of a span, or nullptr.
const Json* attribute(const Json& span, std::string_view key) {
  for (const Json& entry : span["attributes"].items) {
    if (entry["key"].text == key) {
      return &entry["value"];
    }
  }
  return nullptr;
}

std::string hex(const TraceId& id) {
  char out[kTraceIdHexBytes];
  write_hex(id.bytes, out);
  return std::string(out, sizeof(out));
}
std::string hex(const SpanId& id) {
  char out[kSpanIdHexBytes];
  write_hex(id.bytes, out);
  return std::string(out, sizeof(out));
}

// ---- the collector -------------------------------------------------------------------------

uint16_t port_of(int fd) {
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return ntohs(bound.sin_port);
}

struct Post {
  std::string head;
  std::string body;
  std::optional<Json> json;  // nullopt: the body is not valid JSON
};

// How the collector answers each POST.
struct CollectorBehaviour {
  int status = 200;
  bool close_after_answer = false;  // answer as if keeping alive, then close anyway
};

class Collector {
 public:
  explicit Collector(CollectorBehaviour behaviour = {}) : behaviour_(behaviour) {
    thread_ = std::thread([this] { serve(); });
  }
  ~Collector() {
    stopping_ = true;
    thread_.join();
  }

  std::string url(std::string_view path = "/v1/traces") const {
    return "http://127.0.0.1:" + std::to_string(port_of(listener_.get())) + std::string(path);
  }

  // True once `count` spans have arrived in total.
  bool wait_for_spans(size_t count) {
    std::unique_lock lock(mutex_);
    return arrived_.wait_for(lock, kWait, [&] { return spans_ >= count; });
  }
  std::vector<Post> posts() {
    const std::lock_guard lock(mutex_);
    return posts_;
  }
  size_t spans() {
    const std::lock_guard lock(mutex_);
    return spans_;
  }
  size_t connections() const { return connections_; }

 private:
  void serve() {
    while (!stopping_) {
      pollfd entry{listener_.get(), POLLIN, 0};
      if (poll(&entry, 1, 10) != 1) {
        continue;
      }
      core::SocketAddress peer;
      core::FileDescriptor connection = core::accept_from(listener_.get(), peer);
      if (connection.valid()) {
        ++connections_;
        serve_connection(connection.get());
      }
    }
  }

  // Reads requests from one connection until the peer closes it (or the test ends).
  void serve_connection(int fd) {
    std::string buffer;
    while (!stopping_) {
      pollfd entry{fd, POLLIN, 0};
      if (poll(&entry, 1, 10) != 1) {
        continue;
      }
      char chunk[65536];
      const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        return;
      }
      if (n > 0) {
        buffer.append(chunk, static_cast<size_t>(n));
      }
      while (take_request(buffer)) {
        answer(fd);
        if (behaviour_.close_after_answer) {
          return;
        }
      }
    }
  }

  // Moves one whole request from `buffer` into posts_, if one is there.
  bool take_request(std::string& buffer) {
    const size_t head_end = buffer.find("\r\n\r\n");
    if (head_end == std::string::npos) {
      return false;
    }
    const std::string head = buffer.substr(0, head_end + 4);
    const size_t length_at = head.find("Content-Length: ");
    if (length_at == std::string::npos) {
      ADD_FAILURE() << "POST without Content-Length: " << head;
      buffer.clear();
      return false;
    }
    const size_t length = std::stoul(head.substr(length_at + 16));
    if (buffer.size() < head.size() + length) {
      return false;
    }
    Post post;
    post.head = head;
    post.body = buffer.substr(head.size(), length);
    buffer.erase(0, head.size() + length);
    post.json = JsonParser(post.body).parse();
    size_t count = 0;
    if (post.json) {
      count = (*post.json)["resourceSpans"][0]["scopeSpans"][0]["spans"].items.size();
    }
    {
      const std::lock_guard lock(mutex_);
      posts_.push_back(std::move(post));
      spans_ += count;
    }
    arrived_.notify_all();
    return true;
  }

  void answer(int fd) {
    const std::string body = behaviour_.status == 200 ? "{}" : "{\"error\":\"no\"}";
    const std::string response = "HTTP/1.1 " + std::to_string(behaviour_.status) +
                                 " Whatever\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body;
    size_t sent = 0;
    while (sent < response.size()) {
      const ssize_t n = send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        pollfd entry{fd, POLLOUT, 0};
        if (n < 0 && errno == EAGAIN && poll(&entry, 1, 1000) == 1) {
          continue;
        }
        return;
      }
      sent += static_cast<size_t>(n);
    }
  }

  const CollectorBehaviour behaviour_;
  core::FileDescriptor listener_ = core::listen_on(core::resolve("127.0.0.1", 0), false);
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_{0};
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Post> posts_;
  size_t spans_ = 0;
  std::thread thread_;
};

// ---- helpers ---------------------------------------------------------------------------------

config::TracingConfig tracing_to(const std::string& url) {
  config::TracingConfig tracing;
  tracing.enabled = true;
  tracing.sample_rate = 1.0;
  tracing.endpoint = url;
  return tracing;
}

// Quick to drain and to flush, so tests wait milliseconds.
SpanExporterOptions fast_options() {
  SpanExporterOptions options;
  options.poll_interval_ms = 5;
  options.flush_interval_ms = 20;
  options.timeout_ms = 2000;
  return options;
}

// Polls `condition` until it holds or kWait passes.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// An address where nothing listens: a port bound, then released.
std::string closed_port_url() {
  const core::FileDescriptor listener = core::listen_on(core::resolve("127.0.0.1", 0), false);
  return "http://127.0.0.1:" + std::to_string(port_of(listener.get())) + "/v1/traces";
}

SpanRecord numbered_span(core::Random& random, uint16_t number) {
  SpanRecord span;
  span.trace_id = new_trace_id(random);
  span.span_id = new_span_id(random);
  span.start_unix_ns = 1'700'000'000'000'000'000ULL + number;
  span.end_unix_ns = span.start_unix_ns + 1000;
  span.name.assign("GET");
  span.http_status_code = number;
  return span;
}

// A request ballast proxied: a server span for the request (its caller's span as parent) and a
// client span for each of two attempts, the first refused with a 503 and retried.
struct ProxiedRequest {
  SpanId caller;
  SpanRecord server;
  SpanRecord first_attempt;
  SpanRecord second_attempt;
};

ProxiedRequest proxied_request(core::Random& random) {
  ProxiedRequest request;
  request.caller = new_span_id(random);
  const TraceId trace = new_trace_id(random);
  const uint64_t start = 1'700'000'000'123'456'789ULL;

  SpanRecord& server = request.server;
  server.trace_id = trace;
  server.span_id = new_span_id(random);
  server.parent_span_id = request.caller;
  server.kind = SpanKind::server;
  server.status = SpanStatus::ok;
  server.start_unix_ns = start;
  server.end_unix_ns = start + 5'000'000;
  server.name.assign("GET");
  server.method.assign("GET");
  server.path.assign("/api/items");
  server.http_status_code = 200;
  server.cluster.assign("api");

  for (SpanRecord* attempt : {&request.first_attempt, &request.second_attempt}) {
    attempt->trace_id = trace;
    attempt->span_id = new_span_id(random);
    attempt->parent_span_id = server.span_id;
    attempt->kind = SpanKind::client;
    attempt->name.assign("GET");
    attempt->method.assign("GET");
    attempt->path.assign("/api/items");
    attempt->cluster.assign("api");
  }
  request.first_attempt.start_unix_ns = start + 100'000;
  request.first_attempt.end_unix_ns = start + 2'000'000;
  request.first_attempt.status = SpanStatus::error;
  request.first_attempt.http_status_code = 503;
  request.first_attempt.server_address.assign("10.0.0.1:8080");
  request.first_attempt.attempt = 1;
  request.first_attempt.retry = false;

  request.second_attempt.start_unix_ns = start + 2'100'000;
  request.second_attempt.end_unix_ns = start + 4'900'000;
  request.second_attempt.status = SpanStatus::ok;
  request.second_attempt.http_status_code = 200;
  request.second_attempt.server_address.assign("10.0.0.2:8080");
  request.second_attempt.attempt = 2;
  request.second_attempt.retry = true;
  return request;
}

// Every span of every POST, in arrival order; fails the test on a body that is not JSON.
std::vector<Json> all_spans(const std::vector<Post>& posts) {
  std::vector<Json> spans;
  for (const Post& post : posts) {
    EXPECT_TRUE(post.json.has_value()) << post.body;
    if (!post.json) {
      continue;
    }
    for (const Json& span : (*post.json)["resourceSpans"][0]["scopeSpans"][0]["spans"].items) {
      spans.push_back(span);
    }
  }
  return spans;
}

// Checks one exported span: ids, kind, times, status and the attributes every span has.
void expect_span_matches(const Json& span, const SpanRecord& record) {
  EXPECT_EQ(span["traceId"].text, hex(record.trace_id));
  EXPECT_EQ(span["spanId"].text, hex(record.span_id));
  EXPECT_EQ(span["parentSpanId"].text, hex(record.parent_span_id));
  EXPECT_EQ(span["name"].text, "GET");
  EXPECT_EQ(span["kind"].type, Json::Type::number);
  EXPECT_EQ(span["kind"].text, record.kind == SpanKind::server ? "2" : "3");
  EXPECT_EQ(span["startTimeUnixNano"].type, Json::Type::string);
  EXPECT_EQ(span["startTimeUnixNano"].text, std::to_string(record.start_unix_ns));
  EXPECT_EQ(span["endTimeUnixNano"].text, std::to_string(record.end_unix_ns));
  EXPECT_EQ(span["status"]["code"].text, record.status == SpanStatus::error ? "2" : "1");
  const Json* method = attribute(span, "http.request.method");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ((*method)["stringValue"].text, "GET");
  const Json* path = attribute(span, "url.path");
  ASSERT_NE(path, nullptr);
  EXPECT_EQ((*path)["stringValue"].text, "/api/items");
  const Json* status = attribute(span, "http.response.status_code");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ((*status)["intValue"].text, std::to_string(record.http_status_code));
  const Json* cluster = attribute(span, "ballast.cluster");
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ((*cluster)["stringValue"].text, "api");
}

// Checks a client span's own attributes.
void expect_attempt_matches(const Json& span, const SpanRecord& record) {
  const Json* address = attribute(span, "server.address");
  ASSERT_NE(address, nullptr);
  EXPECT_EQ((*address)["stringValue"].text, record.server_address.view());
  const Json* attempt = attribute(span, "ballast.attempt");
  ASSERT_NE(attempt, nullptr);
  EXPECT_EQ((*attempt)["intValue"].text, std::to_string(record.attempt));
  const Json* retry = attribute(span, "ballast.retry");
  ASSERT_NE(retry, nullptr);
  EXPECT_EQ((*retry).find("boolValue")->type, Json::Type::boolean);
  EXPECT_EQ((*retry)["boolValue"].boolean, record.retry);
}

// ---- the JSON body, without sockets ----------------------------------------------------------

TEST(OtlpJson, WritesTheExportRequestShape) {
  core::Random random(1);
  const ProxiedRequest request = proxied_request(random);
  const SpanRecord spans[] = {request.server, request.first_attempt, request.second_attempt};
  std::string body;
  append_otlp_json(spans, body);

  const std::optional<Json> json = JsonParser(body).parse();
  ASSERT_TRUE(json.has_value()) << body;
  ASSERT_EQ((*json)["resourceSpans"].items.size(), 1u);
  const Json& resource_spans = (*json)["resourceSpans"][0];
  const Json& resource_attribute = resource_spans["resource"]["attributes"][0];
  EXPECT_EQ(resource_attribute["key"].text, "service.name");
  EXPECT_EQ(resource_attribute["value"]["stringValue"].text, "ballast");
  ASSERT_EQ(resource_spans["scopeSpans"].items.size(), 1u);
  EXPECT_EQ(resource_spans["scopeSpans"][0]["scope"]["name"].text, "ballast");
  const Json& exported = resource_spans["scopeSpans"][0]["spans"];
  ASSERT_EQ(exported.items.size(), 3u);
  expect_span_matches(exported[0], request.server);
  expect_span_matches(exported[1], request.first_attempt);
  expect_span_matches(exported[2], request.second_attempt);
  expect_attempt_matches(exported[1], request.first_attempt);
  expect_attempt_matches(exported[2], request.second_attempt);
  // A server span carries none of an attempt's attributes.
  EXPECT_EQ(attribute(exported[0], "server.address"), nullptr);
  EXPECT_EQ(attribute(exported[0], "ballast.attempt"), nullptr);
  EXPECT_EQ(attribute(exported[0], "ballast.retry"), nullptr);
}

TEST(OtlpJson, ARootSpanHasNoParentAndUnsetStatusIsLeftOut) {
  core::Random random(2);
  SpanRecord span = numbered_span(random, 0);
  std::string body;
  append_otlp_json({&span, 1}, body);
  const std::optional<Json> json = JsonParser(body).parse();
  ASSERT_TRUE(json.has_value()) << body;
  const Json& exported = (*json)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(exported.find("parentSpanId"), nullptr);
  EXPECT_EQ(exported.find("status"), nullptr);
  EXPECT_EQ(attribute(exported, "http.response.status_code"), nullptr) << "0 means no response";
  EXPECT_EQ(attribute(exported, "url.path"), nullptr) << "empty attributes are left out";
}

TEST(OtlpJson, EmptyBatchIsStillAValidRequest) {
  std::string body;
  append_otlp_json({}, body);
  const std::optional<Json> json = JsonParser(body).parse();
  ASSERT_TRUE(json.has_value()) << body;
  EXPECT_TRUE((*json)["resourceSpans"][0]["scopeSpans"][0]["spans"].items.empty());
}

TEST(OtlpJson, AnEmptyNameBecomesHttp) {
  SpanRecord span;
  span.trace_id.bytes[0] = 1;
  span.span_id.bytes[0] = 1;
  std::string body;
  append_otlp_json({&span, 1}, body);
  const std::optional<Json> json = JsonParser(body).parse();
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ((*json)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"].text, "HTTP");
}

TEST(OtlpJson, EscapesTextAsEveryJsonBallastWrites) {
  SpanRecord span;
  span.trace_id.bytes[0] = 1;
  span.span_id.bytes[0] = 1;
  // A quote, a backslash, control characters, valid two- to four-byte UTF-8, a stray
  // continuation byte, an overlong encoding, a surrogate, and a sequence cut short at the end.
  const std::string path =
      "/a\"b\\c\n\x01\x7f/\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80/\x80/\xc0\xaf/\xed\xa0\x80/"
      "\xe2\x82";
  span.path.assign(path);
  span.cluster.assign("cl\"uster");
  std::string body;
  append_otlp_json({&span, 1}, body);
  EXPECT_TRUE(valid_utf8(body));
  const std::optional<Json> json = JsonParser(body).parse();
  ASSERT_TRUE(json.has_value()) << body;
  const Json& exported = (*json)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  // observe/json.h's one rule: a byte outside well-formed UTF-8 is escaped as \u00XX, so it
  // reads back as that byte taken as Latin-1 (0x80 -> U+0080, UTF-8 C2 80): nothing is lost.
  const auto latin1 = [](std::string_view bytes) {
    std::string text;
    for (const char c : bytes) {
      const auto byte = static_cast<unsigned char>(c);
      text += static_cast<char>(0xC0 | (byte >> 6));
      text += static_cast<char>(0x80 | (byte & 0x3F));
    }
    return text;
  };
  EXPECT_EQ((*attribute(exported, "url.path"))["stringValue"].text,
            "/a\"b\\c\n\x01\x7f/\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80/" + latin1("\x80") + "/" +
                latin1("\xc0\xaf") + "/" + latin1("\xed\xa0\x80") + "/" + latin1("\xe2\x82"));
  EXPECT_EQ((*attribute(exported, "ballast.cluster"))["stringValue"].text, "cl\"uster");
}

TEST(SpanText, CutsAtItsCapacity) {
  SpanText<4> text;
  text.assign("abcdef");
  EXPECT_EQ(text.view(), "abcd");
  text.assign("xy");
  EXPECT_EQ(text.view(), "xy");
  text.assign("");
  EXPECT_EQ(text.view(), "");
}

TEST(UnixTime, OffsetTurnsMonotonicIntoWallClock) {
  const int64_t offset = unix_minus_monotonic_ns();
  const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  const int64_t converted = static_cast<int64_t>(core::monotonic_now_ns()) + offset;
  EXPECT_NEAR(static_cast<double>(converted), static_cast<double>(wall), 1e9);
}

// ---- the endpoint ----------------------------------------------------------------------------

TEST(HttpEndpoint, ParsesHostPortAndPath) {
  const HttpEndpoint endpoint = parse_http_endpoint("http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(endpoint.host, "127.0.0.1");
  EXPECT_EQ(endpoint.port, 4318);
  EXPECT_EQ(endpoint.path, "/v1/traces");
  EXPECT_EQ(endpoint.host_header, "127.0.0.1:4318");
}

TEST(HttpEndpoint, DefaultsThePortAndThePath) {
  const HttpEndpoint endpoint = parse_http_endpoint("http://collector.example");
  EXPECT_EQ(endpoint.host, "collector.example");
  EXPECT_EQ(endpoint.port, 80);
  EXPECT_EQ(endpoint.path, "/v1/traces");
  EXPECT_EQ(endpoint.host_header, "collector.example");
  EXPECT_EQ(parse_http_endpoint("http://collector:4318").path, "/v1/traces");
  EXPECT_EQ(parse_http_endpoint("http://collector:4318/").path, "/");
}

TEST(HttpEndpoint, TakesBracketedIpv6AndKeepsTheQuery) {
  const HttpEndpoint endpoint = parse_http_endpoint("http://[::1]:4318/otlp?tenant=a#frag");
  EXPECT_EQ(endpoint.host, "::1");
  EXPECT_EQ(endpoint.port, 4318);
  EXPECT_EQ(endpoint.path, "/otlp?tenant=a");
  EXPECT_EQ(endpoint.host_header, "[::1]:4318");
  EXPECT_EQ(parse_http_endpoint("http://host?x=1").path, "/?x=1");
}

TEST(HttpEndpoint, RefusesWhatItCannotUse) {
  for (const std::string_view url :
       {"https://collector/v1/traces", "collector:4318", "http://", "http://:4318/",
        "http://user@collector/", "http://collector:0/", "http://collector:65536/",
        "http://collector:43a8/", "http://[::1/", "http://[::1]x/"}) {
    EXPECT_THROW(parse_http_endpoint(url), std::invalid_argument) << url;
  }
  EXPECT_THROW(SpanExporter(tracing_to("ftp://x"), 1), std::invalid_argument);
}

// ---- the exporter against a collector --------------------------------------------------------

TEST(SpanExporter, ExportsASpanTree) {
  Collector collector;
  SpanExporter exporter(tracing_to(collector.url()), 2, fast_options());
  core::Random random(3);
  const ProxiedRequest request = proxied_request(random);
  // The server span and the attempts come from different workers' queues; the tree is in the
  // ids, not the order.
  EXPECT_TRUE(exporter.submit(1, request.first_attempt));
  EXPECT_TRUE(exporter.submit(0, request.second_attempt));
  EXPECT_TRUE(exporter.submit(0, request.server));
  ASSERT_TRUE(collector.wait_for_spans(3));

  const std::vector<Post> posts = collector.posts();
  ASSERT_FALSE(posts.empty());
  for (const Post& post : posts) {
    EXPECT_TRUE(post.head.starts_with("POST /v1/traces HTTP/1.1\r\n")) << post.head;
    EXPECT_NE(post.head.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
    EXPECT_NE(post.head.find("\r\nHost: 127.0.0.1:"), std::string::npos);
    ASSERT_TRUE(post.json.has_value()) << post.body;
    EXPECT_EQ(
        (*post.json)["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"].text,
        "ballast");
  }
  const std::vector<Json> spans = all_spans(posts);
  ASSERT_EQ(spans.size(), 3u);
  std::map<std::string, const Json*> by_id;
  for (const Json& span : spans) {
    by_id[span["spanId"].text] = &span;
  }
  const Json* server = by_id[hex(request.server.span_id)];
  const Json* first = by_id[hex(request.first_attempt.span_id)];
  const Json* second = by_id[hex(request.second_attempt.span_id)];
  ASSERT_NE(server, nullptr);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  // The tree: both attempts hang from the server span, all in the caller's trace.
  EXPECT_EQ((*server)["parentSpanId"].text, hex(request.caller));
  EXPECT_EQ((*first)["parentSpanId"].text, (*server)["spanId"].text);
  EXPECT_EQ((*second)["parentSpanId"].text, (*server)["spanId"].text);
  EXPECT_EQ((*first)["traceId"].text, (*server)["traceId"].text);
  EXPECT_EQ((*second)["traceId"].text, (*server)["traceId"].text);
  expect_span_matches(*server, request.server);
  expect_span_matches(*first, request.first_attempt);
  expect_span_matches(*second, request.second_attempt);
  expect_attempt_matches(*first, request.first_attempt);
  expect_attempt_matches(*second, request.second_attempt);

  exporter.stop();
  EXPECT_EQ(exporter.spans_exported(), 3u);
  EXPECT_EQ(exporter.spans_dropped(), 0u);
  EXPECT_EQ(exporter.export_errors(), 0u);
}

TEST(SpanExporter, BatchesUpToTheLimitOnOneKeptAliveConnection) {
  Collector collector;
  SpanExporterOptions options = fast_options();
  options.batch_max_spans = 4;
  SpanExporter exporter(tracing_to(collector.url()), 1, options);
  core::Random random(4);
  for (uint16_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(exporter.submit(0, numbered_span(random, 200 + i)));
  }
  ASSERT_TRUE(collector.wait_for_spans(10));
  exporter.stop();
  const std::vector<Post> posts = collector.posts();
  EXPECT_GE(posts.size(), 3u);
  std::vector<std::string> statuses;
  for (const Post& post : posts) {
    ASSERT_TRUE(post.json.has_value());
    EXPECT_LE((*post.json)["resourceSpans"][0]["scopeSpans"][0]["spans"].items.size(), 4u);
  }
  for (const Json& span : all_spans(posts)) {
    statuses.push_back((*attribute(span, "http.response.status_code"))["intValue"].text);
  }
  ASSERT_EQ(statuses.size(), 10u);
  for (size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_EQ(statuses[i], std::to_string(200 + i)) << "one queue keeps its order";
  }
  EXPECT_EQ(collector.connections(), 1u);
  EXPECT_EQ(exporter.spans_exported(), 10u);
  EXPECT_EQ(exporter.export_errors(), 0u);
}

TEST(SpanExporter, ALoneSpanGoesAfterTheFlushInterval) {
  Collector collector;
  SpanExporterOptions options = fast_options();
  options.batch_max_spans = 512;
  SpanExporter exporter(tracing_to(collector.url()), 1, options);
  core::Random random(5);
  ASSERT_TRUE(exporter.submit(0, numbered_span(random, 200)));
  EXPECT_TRUE(collector.wait_for_spans(1)) << "without stop(), only the interval can send it";
  EXPECT_TRUE(eventually([&] { return exporter.spans_exported() == 1; }));
}

TEST(SpanExporter, AFullQueueDropsAndCounts) {
  Collector collector;
  SpanExporterOptions options = fast_options();
  options.queue_capacity = 4;
  options.poll_interval_ms = 60'000;  // nothing drains until stop()
  options.flush_interval_ms = 60'000;
  SpanExporter exporter(tracing_to(collector.url()), 2, options);
  core::Random random(6);
  int accepted = 0;
  for (uint16_t i = 0; i < 10; ++i) {
    accepted += exporter.submit(0, numbered_span(random, 200 + i)) ? 1 : 0;
  }
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(exporter.spans_dropped(), 6u);
  EXPECT_TRUE(exporter.submit(1, numbered_span(random, 300))) << "queues are per worker";
  exporter.stop();
  EXPECT_EQ(collector.spans(), 5u);
  EXPECT_EQ(exporter.spans_exported(), 5u);
  EXPECT_EQ(exporter.spans_dropped(), 6u);
}

TEST(SpanExporter, StopFlushesEverythingQueued) {
  Collector collector;
  SpanExporterOptions options = fast_options();
  options.poll_interval_ms = 60'000;
  options.flush_interval_ms = 60'000;
  options.batch_max_spans = 3;
  SpanExporter exporter(tracing_to(collector.url()), 3, options);
  core::Random random(7);
  for (uint16_t i = 0; i < 7; ++i) {
    ASSERT_TRUE(exporter.submit(i % 3, numbered_span(random, 200 + i)));
  }
  EXPECT_EQ(collector.spans(), 0u);
  exporter.stop();
  EXPECT_EQ(collector.spans(), 7u) << "stop() returns once the collector has answered";
  EXPECT_EQ(exporter.spans_exported(), 7u);
  EXPECT_EQ(exporter.spans_dropped(), 0u);
  exporter.stop();  // idempotent
  EXPECT_EQ(exporter.spans_exported(), 7u);
}

TEST(SpanExporter, WorkersSubmittingWhileItDrainsLoseNothingUncounted) {
  // Two worker threads fill small queues while the exporter drains them: every span is either
  // exported intact or counted as dropped.
  Collector collector;
  SpanExporterOptions options = fast_options();
  options.queue_capacity = 64;
  options.poll_interval_ms = 1;
  SpanExporter exporter(tracing_to(collector.url()), 2, options);
  constexpr int kSpansPerWorker = 5000;
  std::vector<std::thread> workers;
  for (uint32_t worker = 0; worker < 2; ++worker) {
    workers.emplace_back([&exporter, worker] {
      core::Random random(100 + worker);
      for (int i = 0; i < kSpansPerWorker; ++i) {
        SpanRecord span = numbered_span(random, 200);
        span.path.assign("/" + hex(span.span_id));  // lets the collector see it arrived whole
        exporter.submit(worker, span);
        if (i % 64 == 0) {
          std::this_thread::yield();
        }
      }
    });
  }
  for (std::thread& worker : workers) {
    worker.join();
  }
  exporter.stop();
  EXPECT_EQ(exporter.spans_exported() + exporter.spans_dropped(), 2u * kSpansPerWorker);
  EXPECT_GT(exporter.spans_exported(), 0u);
  EXPECT_EQ(exporter.export_errors(), 0u);
  const std::vector<Json> spans = all_spans(collector.posts());
  EXPECT_EQ(spans.size(), exporter.spans_exported());
  std::set<std::string> ids;
  for (const Json& span : spans) {
    EXPECT_EQ((*attribute(span, "url.path"))["stringValue"].text, "/" + span["spanId"].text);
    ids.insert(span["spanId"].text);
  }
  EXPECT_EQ(ids.size(), spans.size()) << "no span sent twice";
}

TEST(SpanExporter, SubmitAfterStopIsRefusedAndCounted) {
  Collector collector;
  SpanExporter exporter(tracing_to(collector.url()), 1, fast_options());
  exporter.stop();
  core::Random random(8);
  EXPECT_FALSE(exporter.submit(0, numbered_span(random, 200)));
  EXPECT_EQ(exporter.spans_dropped(), 1u);
}

TEST(SpanExporter, ACollectorThatIsDownCountsErrorsWithoutHanging) {
  SpanExporter exporter(tracing_to(closed_port_url()), 1, fast_options());
  core::Random random(9);
  const auto start = std::chrono::steady_clock::now();
  for (uint16_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(exporter.submit(0, numbered_span(random, 200 + i)));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100))
      << "submit never waits for the collector";
  ASSERT_TRUE(eventually([&] { return exporter.export_errors() >= 1; }));
  ASSERT_TRUE(eventually([&] { return exporter.spans_dropped() == 3; }));
  // More spans while it is down: each batch fails once, none is retried.
  ASSERT_TRUE(exporter.submit(0, numbered_span(random, 300)));
  ASSERT_TRUE(eventually([&] { return exporter.spans_dropped() == 4; }));
  const auto stop_start = std::chrono::steady_clock::now();
  exporter.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(1));
  EXPECT_EQ(exporter.spans_exported(), 0u);
  EXPECT_GE(exporter.export_errors(), 2u);
}

TEST(SpanExporter, ASilentCollectorTimesOut) {
  // A listener nobody accepts from: the kernel completes the handshake and takes the request,
  // but no answer ever comes.
  const core::FileDescriptor listener = core::listen_on(core::resolve("127.0.0.1", 0), false);
  SpanExporterOptions options = fast_options();
  options.timeout_ms = 100;
  SpanExporter exporter(
      tracing_to("http://127.0.0.1:" + std::to_string(port_of(listener.get())) + "/v1/traces"), 1,
      options);
  core::Random random(10);
  ASSERT_TRUE(exporter.submit(0, numbered_span(random, 200)));
  ASSERT_TRUE(eventually([&] { return exporter.export_errors() == 1; }));
  EXPECT_EQ(exporter.spans_dropped(), 1u);
  // Stop with spans waiting: one more timeout at most, then the rest is dropped, not tried.
  for (uint16_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(exporter.submit(0, numbered_span(random, 300 + i)));
  }
  const auto stop_start = std::chrono::steady_clock::now();
  exporter.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_start, std::chrono::seconds(2));
  EXPECT_EQ(exporter.spans_dropped(), 6u);
  EXPECT_EQ(exporter.spans_exported(), 0u);
}

TEST(SpanExporter, AnErrorStatusCountsAsAFailedExport) {
  Collector collector(CollectorBehaviour{.status = 500});
  SpanExporter exporter(tracing_to(collector.url()), 1, fast_options());
  core::Random random(11);
  ASSERT_TRUE(exporter.submit(0, numbered_span(random, 200)));
  ASSERT_TRUE(collector.wait_for_spans(1));
  ASSERT_TRUE(eventually([&] { return exporter.export_errors() == 1; }));
  EXPECT_EQ(exporter.spans_dropped(), 1u);
  EXPECT_EQ(exporter.spans_exported(), 0u);
  ASSERT_TRUE(exporter.submit(0, numbered_span(random, 201)));
  ASSERT_TRUE(collector.wait_for_spans(2));
  exporter.stop();
  EXPECT_EQ(exporter.export_errors(), 2u) << "each batch tried once";
  EXPECT_EQ(collector.posts().size(), 2u);
}

TEST(SpanExporter, AConnectionClosedWhileIdleIsReplacedOnce) {
  // The collector answers as if keeping the connection alive, then closes it: the next POST
  // finds it dead and goes again on a new one, with no error counted.
  Collector collector(CollectorBehaviour{.close_after_answer = true});
  SpanExporter exporter(tracing_to(collector.url()), 1, fast_options());
  core::Random random(12);
  for (uint16_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(exporter.submit(0, numbered_span(random, 200 + i)));
    ASSERT_TRUE(collector.wait_for_spans(i + 1u));
    ASSERT_TRUE(eventually([&] { return exporter.spans_exported() == i + 1u; }));
  }
  exporter.stop();
  EXPECT_EQ(exporter.export_errors(), 0u);
  EXPECT_EQ(exporter.spans_dropped(), 0u);
  EXPECT_EQ(collector.connections(), 3u);
}

}  // namespace
}  // namespace ballast::observe
