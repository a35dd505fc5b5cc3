#include "proxy/http2_stream.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <charconv>
#include <span>

#include "http/request_target.h"
#include "http/serializer.h"
#include "observe/log.h"
#include "proxy/http2_session.h"

namespace ballast::proxy {
namespace {

// A body's buffer holds what the client may have in flight (its stream window), and the chunk
// framing ballast adds around it.
constexpr size_t kBodyBufferBytes = http2::Limits{}.stream_window_bytes;
constexpr size_t kChunkFramingBytes = 32;

}  // namespace

Http2Stream::Http2Stream(Http2Session& connection, ClientInfo client)
    : connection_(connection),
      exchange_(connection.host().telemetry(), client),
      upstream_(*this, connection.host(), exchange_),
      h2_upstream_(*this, connection.host(), exchange_) {
  exchange_.set_protocol(observe::ClientProtocol::http2);
}

uint64_t Http2Stream::now_ns() const noexcept {
  return connection_.host().loop().now_ns();
}

void Http2Stream::start(int32_t id, const http2::Request& request) noexcept {
  id_ = id;
  request_ = request.head;
  request_ended_ = request_.body_kind == http::BodyKind::none;
  request_trailers_ = {};
  chunked_ = request_.body_kind == http::BodyKind::chunked;
  last_chunk_framed_ = false;
  body_in_.clear();
  body_out_.clear();
  request_bytes_ = 0;
  response_bytes_ = 0;
  answered_ = false;
  body_follows_ = false;
  h2_ = false;
  client_progress_ns_ = now_ns();
  exchange_.begin(client_progress_ns_);
  active_ = true;
  if (!prepare_target()) {
    return;
  }
  switch (exchange_.route(connection_.generation(), connection_.listener(), request_)) {
    case Exchange::Routed::none:
      answer_locally(404, "no route for this host and path");
      return;
    case Exchange::Routed::redirect:
      redirect_by_route();
      return;
    case Exchange::Routed::limited:
      refuse_over_rate_limit();
      return;
    case Exchange::Routed::cluster:
      break;
  }
  h2_ = exchange_.cluster()->config().protocol != config::UpstreamProtocol::http1;
  if (h2_) {
    chunked_ = false;  // HTTP/2 frames the body itself
    h2_upstream_.begin_request(request.scheme == "https" ? "https" : "http",
                               request_.headers.find("te") != nullptr,
                               request_.body_kind != http::BodyKind::none);
    write_upstream_head(h2_upstream_.request_head());
  } else {
    upstream_.begin_request(request_.method == "HEAD", false);
    write_upstream_head(upstream_.request_head());
  }
  if (!exchange_.admit(now_ns())) {
    answer_locally(503, "too many requests to this cluster");
    return;
  }
  if (h2_) {
    h2_upstream_.start();
  } else {
    upstream_.start();
  }
}

// As for HTTP/1: CONNECT and (unless allowed) TRACE are refused, and the target is normalised
// (request_target.h) in a copy of :path before anything routes on it.
bool Http2Stream::prepare_target() noexcept {
  const auto refuse = [this](uint16_t status, std::string_view reason) {
    observe::log_event(config::LogLevel::info, "rejected request",
                       {{"client", connection_.client().ip}, {"reason", reason}});
    answer_locally(status, reason);
    return false;
  };
  if (request_.method == "CONNECT") {
    return refuse(405, "CONNECT is not served");
  }
  if (request_.method == "TRACE" && !connection_.listener().allow_trace) {
    return refuse(405, "TRACE is not served");
  }
  target_.assign(request_.target);
  request_.target = target_;
  const http::TargetError error =
      http::normalize_request_target(std::span<char>(target_.data(), target_.size()), request_);
  return error.status == 0 || refuse(error.status, error.reason);
}

// The HTTP/1.1 head for the server, as an HTTP/1 client's would be (serializer.h): the
// forwarding fields, the request id, the trace context; a body of unknown length goes chunked.
void Http2Stream::write_upstream_head(core::ByteBuffer& head) noexcept {
  http::ForwardContext forward;
  forward.client_ip = connection_.client().ip;
  forward.scheme = connection_.secure() ? "https" : "http";
  forward.host_if_absent = connection_.listener().listen.host;
  forward.port = connection_.listen_port();
  forward.traceparent = exchange_.traceparent();
  forward.request_id = exchange_.request_id();
  forward.trusted_peer = connection_.client().trusted;
  forward.forwarded = connection_.generation().shared->config->forwarding.forwarded;
  exchange_.edit_upstream_request(request_, forward.scheme, forward);
  head.clear();
  size_t written = http::write_upstream_request(request_, forward, head.writable());
  if (written == 0) {
    size_t fields = 0;
    for (const http::Header& field : request_.headers.all()) {
      fields += field.name.size() + field.value.size() + 4;
    }
    head.grow(request_.method.size() + request_.target.size() + fields + 4 * request_.host.size() +
              3 * forward.client_ip.size() + forward.port.size() + forward.traceparent.size() +
              forward.request_id.size() + forward.rewrite_to.size() +
              http::edits_length(forward.edits) + http::kSerializeSlackBytes);
    written = http::write_upstream_request(request_, forward, head.writable());
  }
  head.commit(written);
  request_bytes_ = written;
  const std::string_view line = head.readable();
  const size_t method_end = line.find(' ');
  const size_t target_end = line.find(' ', method_end + 1);
  exchange_.set_request_line(line.substr(0, method_end),
                             line.substr(method_end + 1, target_end - method_end - 1));
}

void Http2Stream::on_data(std::string_view bytes) noexcept {
  client_progress_ns_ = now_ns();
  if (!active_) {
    connection_.protocol().consume(id_, bytes.size());  // nobody wants it: the window reopens
    return;
  }
  if (body_in_.capacity() == 0) {
    body_in_.grow(kBodyBufferBytes);
  }
  if (!body_in_.append(bytes)) {
    // More than the window we granted: nghttp2 would have refused it first.
    connection_.protocol().reset(id_, NGHTTP2_FLOW_CONTROL_ERROR);
    return;
  }
  connection_.drive();
}

void Http2Stream::on_end(std::span<const http::Header> trailers) noexcept {
  request_ended_ = true;
  request_trailers_ = trailers;
  connection_.drive();
}

// Payload waiting moves to body_out_ for the server — as one chunk when the length is unknown —
// once what went there before has been sent; the window for the payload reopens then (the two
// buffers bound what is held: a window's payload, and a window's on its way). body_out_ alone
// is named by a queued send, so DATA arriving meanwhile lands in body_in_ untouched.
void Http2Stream::frame_body() noexcept {
  if (!body_out_.empty() || last_chunk_framed_ || queued()) {
    return;
  }
  if (body_out_.capacity() == 0) {
    body_out_.grow(kBodyBufferBytes + kChunkFramingBytes);
  }
  const std::string_view payload = body_in_.readable();
  if (!chunked_) {
    if (!payload.empty()) {
      body_out_.append(payload);
      connection_.protocol().consume(id_, payload.size());
      body_in_.clear();
    }
    return;
  }
  if (!payload.empty()) {
    std::array<char, 16> size{};
    const auto end = std::to_chars(size.data(), size.data() + size.size(), payload.size(), 16).ptr;
    body_out_.append({size.data(), static_cast<size_t>(end - size.data())});
    body_out_.append("\r\n");
    body_out_.append(payload);
    body_out_.append("\r\n");
    connection_.protocol().consume(id_, payload.size());
    body_in_.clear();
  }
  if (request_ended_ && body_in_.empty()) {
    body_out_.append("0\r\n\r\n");
    last_chunk_framed_ = true;
  }
}

std::string_view Http2Stream::request_body() const noexcept {
  return body_out_.readable();
}

void Http2Stream::request_body_sent(size_t bytes) noexcept {
  if (bytes == 0) {
    return;
  }
  request_bytes_ += bytes;
  client_progress_ns_ = now_ns();
  body_out_.consume(bytes);
}

bool Http2Stream::request_body_finished() const noexcept {
  return request_ended_ && body_in_.empty() && body_out_.empty() &&
         (!chunked_ || last_chunk_framed_);
}

bool Http2Stream::client_holds_up() const noexcept {
  return client_wait_since_ns() != 0;
}

uint64_t Http2Stream::client_wait_since_ns() const noexcept {
  if (!active_) {
    return 0;
  }
  const bool body_owed = !request_ended_ && body_in_.empty() && body_out_.empty();
  const size_t response_ready =
      h2_ ? h2_upstream_.response_body().size() : upstream_.response_ready_bytes();
  const bool window_shut =
      body_follows_ && response_ready != 0 && connection_.protocol().body_room(id_) == 0;
  return body_owed || window_shut ? client_progress_ns_ : 0;
}

void Http2Stream::client_timed_out() noexcept {
  if (queued()) {
    return;  // the result comes within this loop iteration; the deadline is looked at again
  }
  if (!answered_ && !request_ended_) {
    end_leg_attempt(AttemptEnd::cancelled);  // the client's delay, not the server's
    answer_locally(408, "request body not received in time");
    return;
  }
  abort("client timed out");
}

bool Http2Stream::pump() noexcept {
  if (!active_ || queued()) {
    return false;  // a queued operation's buffers stay as they are until on_io_done
  }
  if (h2_) {
    return pump_http2_server();
  }
  frame_body();
  bool progress = upstream_.write();
  if (queued()) {
    return progress;
  }
  progress |= upstream_.read();
  if (queued()) {
    return progress;
  }
  progress |= upstream_.handle_response();
  progress |= push_response_body();
  return progress;
}

bool Http2Stream::pump_http2_server() noexcept {
  frame_body();
  bool progress = h2_upstream_.write();
  progress |= push_response_body();
  if (active_) {
    progress |= h2_upstream_.handle_response();
  }
  return progress;
}

bool Http2Stream::queue_upstream_send(int fd, std::string_view head,
                                      std::string_view body) noexcept {
  core::IoQueue& io = connection_.host().loop().io();
  if (!io.active()) {
    return false;
  }
  io.queue_send(*this, fd, head, body);
  queued_send_ = true;
  queued_head_bytes_ = head.size();
  queued_bytes_ = head.size() + body.size();
  return true;
}

bool Http2Stream::queue_upstream_read(int fd, std::span<char> space) noexcept {
  core::IoQueue& io = connection_.host().loop().io();
  if (!io.active()) {
    return false;
  }
  io.queue_read(*this, fd, space);
  queued_send_ = false;
  queued_bytes_ = space.size();
  return true;
}

void Http2Stream::on_io_done(ssize_t result) noexcept {
  if (queued_send_) {
    upstream_.sent(result, queued_head_bytes_, queued_bytes_);
  } else {
    // A read that came up short of the room drained the socket, as in tls::receive_on.
    upstream_.received(result, result > 0 && static_cast<size_t>(result) < queued_bytes_);
  }
  upstream_.replay_deferred_events();
  upstream_.replay_deferred_timer();
  connection_.drive();
}

bool Http2Stream::push_response_body() noexcept {
  if (!active_ || !body_follows_) {
    return false;
  }
  const std::string_view body = leg_response_body();
  if (body.empty()) {
    return false;
  }
  const size_t taken = connection_.protocol().send_body(id_, body);
  if (taken == 0) {
    return false;
  }
  leg_response_body_sent(taken);
  response_bytes_ += taken;
  client_progress_ns_ = now_ns();
  return true;
}

std::string_view Http2Stream::leg_response_body() noexcept {
  return h2_ ? h2_upstream_.response_body() : upstream_.response_body();
}

void Http2Stream::leg_response_body_sent(size_t bytes) noexcept {
  if (h2_) {
    h2_upstream_.response_body_sent(bytes);
  } else {
    upstream_.response_body_sent(bytes);
  }
}

bool Http2Stream::leg_response_started() const noexcept {
  return h2_ ? h2_upstream_.response_started() : upstream_.response_started();
}

uint16_t Http2Stream::leg_response_status() const noexcept {
  return h2_ ? h2_upstream_.response_status() : upstream_.response().status;
}

void Http2Stream::end_leg_attempt(AttemptEnd end) noexcept {
  if (h2_) {
    h2_upstream_.end_attempt(end);
  } else {
    upstream_.end_attempt(end);
  }
}

void Http2Stream::drive() noexcept {
  connection_.drive();
}

// 1xx heads are not passed on: HTTP/2 allows them, but clients gain little from a server's
// 100 Continue that ballast's flow control already stands in for.
bool Http2Stream::forward_interim(const http::ResponseHead& /*head*/) noexcept {
  return true;
}

bool Http2Stream::forward_response(const http::ResponseHead& head,
                                   std::span<const http::Header> extra,
                                   BodyFramer::Coding& coding) noexcept {
  coding = BodyFramer::Coding::dechunked;  // HTTP/2 frames the body itself
  const http::HeadEdits edits = exchange_.response_edits(scheme());
  size_t count = 0;
  for (uint32_t i = 0; i < head.headers.count && count < http::kMaxHeaders; ++i) {
    if (head.headers.forwarded(i) && !drops(edits, head.headers.lines[i].name)) {
      fields_[count++] = head.headers.lines[i];
    }
  }
  if (head.has_content_length && !head.chunked && head.status != 204 && head.status != 304) {
    const auto end = std::to_chars(length_text_.data(), length_text_.data() + length_text_.size(),
                                   head.content_length)
                         .ptr;
    fields_[count++] = {"content-length",
                        {length_text_.data(), static_cast<size_t>(end - length_text_.data())}};
  }
  for (const http::Header& field : extra) {
    if (count < fields_.size()) {
      fields_[count++] = field;
    }
  }
  count = add_route_fields(edits, count);
  body_follows_ = head.body_kind != http::BodyKind::none;
  if (!connection_.protocol().respond(id_, head.status, {fields_.data(), count}, body_follows_)) {
    return false;
  }
  answered_ = true;
  connection_.stream_answered();
  return true;
}

// An HTTP/2 server's head: its fields as they came (nghttp2 checked them), and the extra ones.
bool Http2Stream::forward_response(uint16_t status, std::span<const http::Header> fields,
                                   std::span<const http::Header> extra, bool has_body) noexcept {
  if (fields.size() + extra.size() > http::kMaxHeaders + 2) {
    return false;
  }
  const http::HeadEdits edits = exchange_.response_edits(scheme());
  size_t count = 0;
  for (const http::Header& field : fields) {
    if (!drops(edits, field.name)) {
      fields_[count++] = field;
    }
  }
  std::copy(extra.begin(), extra.end(), fields_.begin() + static_cast<std::ptrdiff_t>(count));
  count = add_route_fields(edits, count + extra.size());
  body_follows_ = has_body;
  if (!connection_.protocol().respond(id_, status, {fields_.data(), count}, has_body)) {
    return false;
  }
  answered_ = true;
  connection_.stream_answered();
  return true;
}

bool Http2Stream::drops(const http::HeadEdits& edits, std::string_view name) noexcept {
  return edits.rules != nullptr && edits.rules->drops(name);
}

// The route's set and add fields after the `count` in fields_, their values rendered into the
// connection's scratch (the protocol copies the head); returns the new count.
size_t Http2Stream::add_route_fields(const http::HeadEdits& edits, size_t count) noexcept {
  if (edits.rules == nullptr) {
    return count;
  }
  std::string& scratch = connection_.scratch();
  scratch.resize(edits.rules->fields_length(edits.values));  // sized first: no view moves
  size_t offset = 0;
  for (const std::vector<http::HeaderChange>* changes : {&edits.rules->set, &edits.rules->add}) {
    for (const http::HeaderChange& change : *changes) {
      const size_t length = change.value.length(edits.values);
      change.value.write(edits.values, std::span<char>(scratch.data() + offset, length));
      fields_[count++] = {change.name, {scratch.data() + offset, length}};
      offset += length;
    }
  }
  return count;
}

void Http2Stream::response_complete(std::span<const http::Header> trailers) noexcept {
  finish(h2_upstream_.response_status(), exchange_.server());
  h2_upstream_.complete();
  if (body_follows_) {
    connection_.protocol().end_body(id_, trailers);
  }
}

// Upgrades (WebSocket over HTTP/1.1) do not exist in HTTP/2 (RFC 8441 is another mechanism):
// the leg never asks, since begin_request() said none was requested.
bool Http2Stream::forward_upgrade(const http::ResponseHead& /*head*/) noexcept {
  return false;
}

void Http2Stream::response_complete() noexcept {
  finish(upstream_.response().status, exchange_.server());
  upstream_.complete();
  if (body_follows_) {
    connection_.protocol().end_body(id_);  // a request still coming is then reset: NO_ERROR
  }
}

void Http2Stream::answer_locally(uint16_t status, std::string_view reason) noexcept {
  if (answered_) {
    abort(reason);
    return;
  }
  static constexpr http::Header kTextPlain{"content-type", "text/plain"};
  static constexpr std::array<http::Header, 2> kWithRetryAfter{
      {{"content-type", "text/plain"}, {"retry-after", "1"}}};
  const std::span<const http::Header> fields = status == 503
                                                   ? std::span<const http::Header>(kWithRetryAfter)
                                                   : std::span<const http::Header>(&kTextPlain, 1);
  answered_ = true;
  upstream_.stop_timer();
  h2_upstream_.stop_timer();
  http2::ServerConnection& protocol = connection_.protocol();
  if (protocol.respond(id_, status, fields, true)) {
    protocol.send_body(id_, reason);
    protocol.send_body(id_, "\n");
    protocol.end_body(id_);
    response_bytes_ += reason.size() + 1;
  }
  finish(status, balance::kNoServer);
}

std::string_view Http2Stream::scheme() const noexcept {
  return connection_.secure() ? "https" : "http";
}

// A redirect route: its status and Location (rendered into the connection's scratch, which the
// protocol copies), and a short body.
void Http2Stream::redirect_by_route() noexcept {
  std::string& location = connection_.scratch();
  exchange_.redirect_location(request_, scheme(), location);
  const std::array<http::Header, 2> fields{
      {{"content-type", "text/plain"}, {"location", location}}};
  const uint16_t status = exchange_.route_config().redirect.status;
  exchange_.set_request_line(request_.method, request_.target);
  exchange_.count_redirect();
  answered_ = true;
  http2::ServerConnection& protocol = connection_.protocol();
  if (protocol.respond(id_, status, fields, true)) {
    protocol.send_body(id_, "moved\n");
    protocol.end_body(id_);
    response_bytes_ += 6;
  }
  finish(status, balance::kNoServer);
}

// A rate limit refused the request: 429 with Retry-After and the RateLimit fields.
void Http2Stream::refuse_over_rate_limit() noexcept {
  const std::span<const http::Header> limit = exchange_.rate_limit_fields();
  std::array<http::Header, 8> fields{{{"content-type", "text/plain"}}};
  const size_t count = 1 + std::min(limit.size(), fields.size() - 1);
  std::copy_n(limit.begin(), count - 1, fields.begin() + 1);
  exchange_.set_request_line(request_.method, request_.target);
  answered_ = true;
  http2::ServerConnection& protocol = connection_.protocol();
  if (protocol.respond(id_, 429, std::span<const http::Header>(fields.data(), count), true)) {
    protocol.send_body(id_, "too many requests\n");
    protocol.end_body(id_);
    response_bytes_ += 18;
  }
  finish(429, balance::kNoServer);
}

void Http2Stream::abort(std::string_view why) noexcept {
  observe::log_event(config::LogLevel::debug, "resetting client stream",
                     {{"client", connection_.client().ip}, {"reason", why}});
  connection_.protocol().reset(id_, NGHTTP2_INTERNAL_ERROR);
  on_closed();
}

void Http2Stream::finish(uint16_t status, balance::ServerIndex server) noexcept {
  if (!active_) {
    return;
  }
  active_ = false;
  const bool cut_short = server != balance::kNoServer &&
                         (h2_ ? h2_upstream_.request_cut_short() : upstream_.request_cut_short());
  exchange_.finish({status, server, request_bytes_, response_bytes_, cut_short}, now_ns());
}

void Http2Stream::on_closed() noexcept {
  connection_.host().loop().io().cancel(*this);  // before the connection it names closes
  request_trailers_ = {};                        // the protocol's stream, which they view, is gone
  const bool started = leg_response_started();
  finish(started ? leg_response_status() : 499, started ? exchange_.server() : balance::kNoServer);
  if (exchange_.server() != balance::kNoServer) {
    end_leg_attempt(AttemptEnd::cancelled);
  }
  upstream_.stop_timer();
  h2_upstream_.stop_timer();
  exchange_.release_cluster();  // a spare stream keeps no replaced cluster alive
}

}  // namespace ballast::proxy
