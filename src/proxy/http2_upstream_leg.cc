#include "proxy/http2_upstream_leg.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/clock.h"
#include "http/chars.h"
#include "http/serializer.h"
#include "upstream/http2_pool.h"

namespace ballast::proxy {
namespace {

// A stream's response body held here: what its window lets the server send ahead.
constexpr size_t kResponseBufferBytes = http2::ClientLimits{}.stream_window_bytes;
// gRPC's status code when a response ends without one (grpc/doc/statuscodes.md: UNKNOWN).
constexpr uint32_t kGrpcUnknown = 2;

bool is_grpc(std::span<const http::Header> fields) noexcept {
  for (const http::Header& field : fields) {
    if (field.name == "content-type") {
      return field.value.starts_with("application/grpc");
    }
  }
  return false;
}

}  // namespace

void Http2UpstreamLeg::begin_request(std::string_view scheme, bool te_trailers,
                                     bool body_follows) noexcept {
  scheme_ = scheme;
  te_trailers_ = te_trailers;
  body_follows_ = body_follows;
  response_started_ = false;
  response_ended_ = false;
  grpc_ = false;
  status_ = 0;
  response_body_.clear();
  trailer_count_ = 0;
}

// The HTTP/1.1 head as pseudo-header fields and fields (views into request_head_, which a
// retry's new traceparent patches in place, so this runs once per request).
void Http2UpstreamLeg::build_request() noexcept {
  std::string_view head = request_head_.readable();
  const auto next_line = [&head]() {
    const size_t end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(end == std::string_view::npos ? head.size() : end + 2);
    return line;
  };
  const std::string_view request_line = next_line();
  const size_t method_end = request_line.find(' ');
  const size_t target_end = request_line.rfind(' ');
  line_ = {request_line.substr(0, method_end),
           scheme_,
           {},
           request_line.substr(method_end + 1, target_end - method_end - 1)};
  field_count_ = 0;
  for (std::string_view line = next_line(); !line.empty(); line = next_line()) {
    const size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    if (http::chars::equals_ignore_case(name, "host")) {
      line_.authority = value;
    } else if (field_count_ < fields_.size() - 1) {
      fields_[field_count_++] = {name, value};
    }
  }
  if (te_trailers_) {
    fields_[field_count_++] = {"te", "trailers"};
  }
}

void Http2UpstreamLeg::start() noexcept {
  if (exchange_.start_attempt(now_ns()) == balance::kNoServer) {
    const FailureAnswer answer = exchange_.no_server_answer();
    owner_.answer_locally(answer.status, answer.reason);
    return;
  }
  if (exchange_.attempts_made() > 1 && !exchange_.traceparent().empty()) {
    http::replace_traceparent(request_head_.readable_in_place(), exchange_.traceparent());
  } else if (exchange_.attempts_made() == 1) {
    build_request();
  }
  body_ended_ = false;
  switch (attach()) {
    case Opened::yes:
      return;
    case Opened::failed:
      fail_attempt(Failure::connect_failure, std::strerror(errno));
      return;
    case Opened::overflow:
      exchange_.cancel_attempt(now_ns());
      owner_.answer_locally(503, "too many requests waiting for a server");
      return;
  }
}

// A stream on a connection with room, or on a new one (which holds one of the cluster's
// max_pending_requests until it is established, as a new HTTP/1.1 connection does).
Http2UpstreamLeg::Opened Http2UpstreamLeg::attach() noexcept {
  upstream::Http2Pool& pool = cluster().http2_pool(exchange_.server());
  connection_ = pool.with_room();
  if (connection_ != nullptr && connection_->established()) {
    open_stream();
    return Opened::yes;
  }
  if (!exchange_.hold_pending()) {
    connection_ = nullptr;
    return Opened::overflow;
  }
  if (connection_ == nullptr) {
    const upstream::ServerState& server = cluster().server(exchange_.server());
    connection_ =
        pool.open(server.address, cluster().state().upstream_tls.get(), server.config.sni());
    if (connection_ == nullptr) {
      return Opened::failed;
    }
  }
  connection_->wait(*this);
  return Opened::yes;
}

void Http2UpstreamLeg::on_connected(bool ok, std::string_view why) noexcept {
  if (!ok) {
    connection_ = nullptr;
    fail_attempt(Failure::connect_failure, why);
    owner_.drive();
    return;
  }
  exchange_.connected();
  open_stream();
  owner_.drive();
}

void Http2UpstreamLeg::open_stream() noexcept {
  stream_ = connection_->open(*this, line_, {fields_.data(), field_count_}, body_follows_);
  if (stream_ < 0) {
    connection_ = nullptr;
    fail_attempt(Failure::reset, "no stream could be opened");
    return;
  }
  body_ended_ = !body_follows_;
  exchange_.request_reached_server(false);
  arm_timer(cluster().config().response_timeout_ms());
}

bool Http2UpstreamLeg::write() noexcept {
  if (stream_ < 0 || body_ended_) {
    return false;
  }
  const std::string_view body = owner_.request_body();
  size_t taken = 0;
  if (!body.empty()) {
    taken = connection_->send_body(stream_, body);
    if (taken != 0) {
      owner_.request_body_sent(taken);
      exchange_.request_reached_server(true);
      cluster().stats(exchange_.server()).bytes_sent.add(taken);
      arm_timer(cluster().config().response_timeout_ms());
    }
  }
  if (owner_.request_body_finished()) {
    connection_->end_body(stream_, owner_.request_trailers());
    body_ended_ = true;
    return true;
  }
  return taken != 0;
}

void Http2UpstreamLeg::on_sent() noexcept {
  if (!body_ended_ && !owner_.request_body().empty()) {
    owner_.drive();  // room for more of the body
  }
}

void Http2UpstreamLeg::on_response(const http2::Response& response) noexcept {
  status_ = response.status;
  arm_timer(cluster().config().response_timeout_ms());
  if (exchange_.retry_after_status(response.status)) {
    release_stream();
    fail_attempt(Failure::server_error, "server error status");
    owner_.drive();
    return;
  }
  const http::Header cookie{"set-cookie", exchange_.affinity_cookie()};
  const std::span<const http::Header> extra =
      cookie.value.empty() ? std::span<const http::Header>() : std::span(&cookie, 1);
  if (!owner_.forward_response(response.status, response.fields, extra, response.has_body)) {
    release_stream();
    log_failure("response head too large", {}, "more fields than a response may carry");
    exchange_.end_attempt(AttemptEnd::cancelled, now_ns());
    owner_.answer_locally(502, "response head too large");
    return;
  }
  response_started_ = true;
  exchange_.response_started();
  grpc_ = is_grpc(response.fields) && response.has_body;  // its status comes in the trailers
  if (!grpc_ && is_grpc(response.fields)) {
    judge_grpc(response.fields);  // Trailers-Only: the status is in the head
  } else if (!grpc_) {
    exchange_.answered(response.status, now_ns());
  }
  owner_.drive();
}

// The verdict of a gRPC call: its grpc-status against the cluster's failure codes.
void Http2UpstreamLeg::judge_grpc(std::span<const http::Header> fields) noexcept {
  uint32_t code = kGrpcUnknown;
  for (const http::Header& field : fields) {
    if (field.name == "grpc-status") {
      std::from_chars(field.value.data(), field.value.data() + field.value.size(), code);
    }
  }
  exchange_.answered_grpc(status_, code, now_ns());
}

void Http2UpstreamLeg::on_response_data(std::string_view bytes) noexcept {
  if (response_body_.capacity() == 0) {
    response_body_.grow(kResponseBufferBytes);
  }
  cluster().stats(exchange_.server()).bytes_received.add(bytes.size());
  if (!response_started_ || !response_body_.append(bytes)) {
    // More than the stream's window: nghttp2 would have refused it first.
    lose_stream("response body beyond the stream's window");
    return;
  }
  arm_timer(cluster().config().response_timeout_ms());
  owner_.drive();
}

void Http2UpstreamLeg::on_response_end(std::span<const http::Header> trailers) noexcept {
  connection_ = nullptr;  // the stream is over; the connection forgot it
  stream_ = -1;
  if (!response_started_) {
    return;  // a retried or refused head: the attempt has already ended
  }
  response_ended_ = true;
  keep_trailers(trailers);
  if (grpc_) {
    judge_grpc(trailers);
  }
  timer_.cancel();
  owner_.drive();
}

// Copies the trailers (valid only during the call) into storage kept across requests.
void Http2UpstreamLeg::keep_trailers(std::span<const http::Header> trailers) noexcept {
  trailer_count_ = 0;
  trailer_bytes_.clear();
  size_t bytes = 0;
  for (const http::Header& field : trailers) {
    bytes += field.name.size() + field.value.size();
  }
  trailer_bytes_.reserve(bytes);  // views below stay valid: no growth after this
  for (const http::Header& field : trailers) {
    if (trailer_count_ == trailers_.size()) {
      break;
    }
    const size_t name_at = trailer_bytes_.size();
    trailer_bytes_.append(field.name);
    const size_t value_at = trailer_bytes_.size();
    trailer_bytes_.append(field.value);
    trailers_[trailer_count_++] = {
        std::string_view(trailer_bytes_).substr(name_at, field.name.size()),
        std::string_view(trailer_bytes_).substr(value_at, field.value.size())};
  }
}

bool Http2UpstreamLeg::handle_response() noexcept {
  if (!response_ended_ || !response_body_.empty()) {
    return false;
  }
  response_ended_ = false;
  owner_.response_complete({trailers_.data(), trailer_count_});
  return true;
}

void Http2UpstreamLeg::response_body_sent(size_t bytes) noexcept {
  if (bytes == 0) {
    return;
  }
  response_body_.consume(bytes);
  if (stream_ >= 0) {
    connection_->consume(stream_, bytes);  // the server may send as much again
  }
}

void Http2UpstreamLeg::on_stream_failed(uint32_t error_code) noexcept {
  connection_ = nullptr;
  stream_ = -1;
  const std::string_view why =
      error_code == upstream::Http2Connection::kConnectionLost ? "connection to the server lost"
      : error_code == NGHTTP2_REFUSED_STREAM                   ? "stream refused by the server"
                                                               : "stream reset by the server";
  fail_stream(Failure::reset, why);
}

// The server broke the stream's rules: it is reset, and the attempt fails.
void Http2UpstreamLeg::lose_stream(std::string_view why) noexcept {
  release_stream();
  fail_stream(Failure::bad_response, why);
}

// The attempt's stream is over without its response: before the response started, the attempt
// fails (and may be tried again); after, the client's request is cut short (reset).
void Http2UpstreamLeg::fail_stream(Failure failure, std::string_view why) noexcept {
  if (!response_started_) {
    fail_attempt(failure, why);
    owner_.drive();
    return;
  }
  release_stream();
  log_failure("server failed mid-response", failure_name(failure), why);
  exchange_.end_attempt(attempt_end_of(failure), now_ns());
  owner_.abort(why);
}

// Gives the stream (or the wait for a connection) back: reset with CANCEL if still open.
void Http2UpstreamLeg::release_stream() noexcept {
  timer_.cancel();
  if (connection_ != nullptr) {
    connection_->abandon(*this, stream_);
    connection_ = nullptr;
  }
  stream_ = -1;
}

void Http2UpstreamLeg::fail_attempt(Failure failure, std::string_view detail) noexcept {
  log_failure("upstream attempt failed", failure_name(failure), detail);
  release_stream();
  if (exchange_.attempt_failed(failure, now_ns())) {
    start();
    return;
  }
  const FailureAnswer answer = exchange_.failure_answer();
  owner_.answer_locally(answer.status, answer.reason);
}

void Http2UpstreamLeg::complete() noexcept {
  end_attempt(AttemptEnd::success);  // its verdict came with the head, or the grpc-status
  response_started_ = false;
}

void Http2UpstreamLeg::end_attempt(AttemptEnd end) noexcept {
  release_stream();
  exchange_.end_attempt(end, now_ns());
}

void Http2UpstreamLeg::arm_timer(uint64_t timeout_ms) noexcept {
  timer_.arm(host_.loop().timers(), now_ns() + timeout_ms * core::kNsPerMs);
}

void Http2UpstreamLeg::on_timer(core::Timer& /*timer*/) noexcept {
  if (owner_.client_holds_up()) {
    arm_timer(cluster().config().response_timeout_ms());
    return;
  }
  fail_stream(Failure::timeout,
              response_started_ ? "server stalled mid-response" : "no response in time");
}

}  // namespace ballast::proxy
