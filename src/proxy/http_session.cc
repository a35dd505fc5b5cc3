#include "proxy/http_session.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "http/error_response.h"
#include "http/request_target.h"
#include "http/serializer.h"
#include "observe/log.h"
#include "proxy/server_failure_log.h"
#include "upstream/connection_pool.h"

namespace ballast::proxy {
namespace {

using config::LogLevel;

// How much one drive() may move before it yields to the loop's other connections.
constexpr int kMaxRoundsPerDrive = 32;

// A request with a partly read head larger than the usual buffer may grow it to the limit.
constexpr size_t kMaxHeadBufferBytes = 64 * 1024 + 1024;

// Interim (1xx) responses a server may send before its final one. Each is passed on and resets
// the server's timer, so without a cap a server sending 103 after 103 would hold the request
// (and the client) forever. Real servers send one or two.
constexpr uint32_t kMaxInterimResponses = 16;

// The buffer's free space, compacted first when its end is reached; empty when it is full.
// Reads fill it one recv at a time, and `drained` (set when a read came up short of the space)
// says the socket had no more: edge-triggered epoll reports the next arrival, so no second recv
// is needed to hear EAGAIN (nginx saves the same call) — unless the peer has hung up, whose EOF
// raises no further edge and must still be read.
std::span<char> free_space(core::ByteBuffer& buffer) noexcept {
  if (buffer.writable().empty()) {
    buffer.compact();
  }
  return buffer.writable();
}

// What a plain request to a TLS port is told (nginx says the same), before the close.
constexpr std::string_view kNotTlsAnswer =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 42\r\n"
    "Connection: close\r\n\r\nThis port speaks HTTPS: use https:// here.\n";

bool is_trusted(const config::ForwardingConfig& forwarding, const core::SocketAddress& peer) {
  return std::any_of(
      forwarding.trusted_proxies.begin(), forwarding.trusted_proxies.end(),
      [&peer](const core::AddressRange& range) { return core::contains(range, peer); });
}

}  // namespace

HttpSession::HttpSession(SessionHost& host, WorkerGeneration& generation,
                         const config::ListenerConfig& listener, const tls::ServerContext* tls,
                         core::FileDescriptor client, const core::SocketAddress& peer)
    : Session(host, generation),
      listener_(listener),
      tls_context_(tls),
      client_(std::move(client)),
      client_ip_(core::ip_text(peer)),
      peer_trusted_(is_trusted(generation.shared->config->forwarding, peer)),
      exchange_(host.telemetry(), ClientInfo{client_ip_.view(), peer_trusted_, {}, {}, {}}) {
  const std::string port = std::to_string(listener.listen.port);
  listen_port_length_ = port.copy(listen_port_.data(), listen_port_.size());
  exchange_.set_protocol("HTTP/1.1");  // until a request says otherwise
}

HttpSession::~HttpSession() = default;

bool HttpSession::start() noexcept {
  if (tls_context_ != nullptr) {
    tls_ = std::make_unique<tls::TlsStream>(tls_context_->new_connection(), client_.get());
    if (!tls_->valid()) {
      return false;
    }
  }
  if (!host_.loop().watch(client_.get(), *this)) {
    return false;
  }
  // The first request's head is due within client_header of the connection's start (of the
  // handshake's end, on TLS): a client that connects and sends nothing is a slowloris too.
  accepted_ns_ = now_ns();
  head_started_ns_ = accepted_ns_;
  update_client_timer();
  return true;
}

void HttpSession::on_io(uint32_t events) noexcept {
  if (closed_) {
    return;
  }
  if (queued()) {
    deferred_client_events_ |= events;
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    client_readable_ = true;
  }
  client_hung_up_ |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    client_writable_ = true;
  }
  // TLS: a read that had to write (or a write that had to read) waits on the other direction.
  if (tls_ != nullptr) {
    client_readable_ |= (events & EPOLLOUT) != 0 && tls_->wants_writable_to_read();
    client_writable_ |= (events & EPOLLIN) != 0 && tls_->wants_readable_to_write();
  }
  drive();
}

void HttpSession::on_upstream_io(uint32_t events) noexcept {
  if (closed_ || upstream_ == nullptr) {
    return;
  }
  if (queued()) {
    deferred_upstream_events_ |= events;
    return;
  }
  if (connecting_ && !finish_upstream_connect(events)) {
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    upstream_readable_ = true;
  }
  upstream_hung_up_ |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & EPOLLOUT) {
    upstream_writable_ = true;
  }
  if (const tls::TlsStream* tls = upstream_->tls()) {
    upstream_readable_ |= (events & EPOLLOUT) != 0 && tls->wants_writable_to_read();
    upstream_writable_ |= (events & EPOLLIN) != 0 && tls->wants_readable_to_write();
  }
  drive();
}

// The TCP connect, then (upstream_tls) the TLS handshake; true once the connection is
// established, which is when the attempt counts as connected. Either failing is a connect
// failure, retried as one: nothing of the request has been sent. The connect timeout covers
// both, as nginx's proxy_connect_timeout does.
bool HttpSession::finish_upstream_connect(uint32_t events) noexcept {
  if (!upstream_handshaking_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
      return false;
    }
    const int error = core::connect_error(upstream_->fd());
    if (error != 0) {
      fail_attempt(Failure::connect_failure, std::strerror(error));
      drive();
      return false;
    }
    upstream_handshaking_ = upstream_->tls() != nullptr;
  }
  if (upstream_handshaking_) {
    switch (upstream_->tls()->handshake()) {
      case tls::TlsStream::Step::blocked:
        return false;
      case tls::TlsStream::Step::failed:
        return fail_upstream_handshake();
      case tls::TlsStream::Step::done:
        upstream_handshaking_ = false;
        cluster().state().upstream_tls->stats().count_done(upstream_->tls()->resumed());
        break;
    }
  }
  connecting_ = false;
  // Writable: the connect's EPOLLOUT, or the socket that just took the handshake's last flight
  // (a send that finds it full hears EAGAIN).
  upstream_writable_ = true;
  exchange_.connected();
  arm_upstream_timer(response_timeout_ms());
  return true;
}

bool HttpSession::fail_upstream_handshake() noexcept {
  cluster().state().upstream_tls->stats().count_failed();
  const std::string detail =
      "TLS handshake failed: " + std::string(upstream_->tls()->failure_detail());
  fail_attempt(Failure::connect_failure, detail);
  drive();
  return false;
}

// One step of the TLS handshake; true once it is done. Blocked, it waits for the direction
// OpenSSL asked for; failed, it counts why and closes.
bool HttpSession::advance_handshake() noexcept {
  if (!client_readable_ && !client_writable_) {
    return false;
  }
  switch (tls_->handshake()) {
    case tls::TlsStream::Step::done: {
      tls::TlsStats& stats = tls_context_->stats();
      (tls_->resumed() ? stats.resumed_handshakes : stats.full_handshakes)
          .fetch_add(1, std::memory_order_relaxed);
      exchange_.client_secured(tls_->version(), tls_->cipher(), tls_->server_name());
      head_started_ns_ = now_ns();  // the first head's deadline runs from here
      return true;
    }
    case tls::TlsStream::Step::blocked:
      if (tls_->wants_writable_to_read()) {
        client_writable_ = false;
      } else {
        client_readable_ = false;
      }
      return false;
    case tls::TlsStream::Step::failed:
      handshake_failed(tls_->handshake_error());
      return false;
  }
  return false;
}

void HttpSession::handshake_failed(tls::HandshakeError error) noexcept {
  tls_context_->stats().count_error(error);
  observe::log_event(LogLevel::debug, "TLS handshake failed",
                     {{"client", client_ip_.view()},
                      {"listener", listener_.name},
                      {"reason", tls::handshake_error_name(error)}});
  if (error == tls::HandshakeError::not_tls) {
    // Best effort, in clear: a person who typed http:// learns why.
    (void)send(client_.get(), kNotTlsAnswer.data(), kNotTlsAnswer.size(), MSG_NOSIGNAL);
  }
  close();
}

ssize_t HttpSession::receive_client(char* data, size_t size, bool& drained) noexcept {
  return tls::receive_on(tls_.get(), client_.get(), data, size, drained);
}

ssize_t HttpSession::send_client(std::string_view head, std::string_view body) noexcept {
  return tls_ == nullptr ? core::send_gathered(client_.get(), head, body)
                         : tls_->send_gathered(head, body);
}

// Queues a send (a read) in clear when the loop batches them; false: make it directly.
bool HttpSession::queue_send(QueuedOp op, int fd, std::string_view head,
                             std::string_view body) noexcept {
  core::IoQueue& io = host_.loop().io();
  if (!io.active()) {
    return false;
  }
  io.queue_send(*this, fd, head, body);
  queued_op_ = op;
  queued_head_bytes_ = head.size();
  queued_bytes_ = head.size() + body.size();
  return true;
}

bool HttpSession::queue_read(QueuedOp op, int fd, std::span<char> space) noexcept {
  core::IoQueue& io = host_.loop().io();
  if (!io.active()) {
    return false;
  }
  io.queue_read(*this, fd, space);
  queued_op_ = op;
  queued_bytes_ = space.size();
  return true;
}

void HttpSession::on_io_done(ssize_t result) noexcept {
  if (closed_) {
    return;
  }
  // A read that came up short of the room drained the socket, as in tls::receive_on.
  const bool drained = result > 0 && static_cast<size_t>(result) < queued_bytes_;
  switch (queued_op_) {
    case QueuedOp::client_read:
      client_received(result, drained);
      break;
    case QueuedOp::client_send:
      client_sent(result, queued_head_bytes_, queued_bytes_);
      break;
    case QueuedOp::upstream_read:
      upstream_received(result, drained);
      break;
    case QueuedOp::upstream_send:
      upstream_sent(result, queued_head_bytes_, queued_bytes_);
      break;
  }
  replay_deferred();
  drive();
}

// What came while the send was queued, server side first: the client's events may start the
// next request on another connection. A timer re-armed meanwhile is no longer due.
void HttpSession::replay_deferred() noexcept {
  if (const uint32_t events = std::exchange(deferred_upstream_events_, 0); events != 0) {
    on_upstream_io(events);
  }
  if (const uint32_t events = std::exchange(deferred_client_events_, 0); events != 0) {
    on_io(events);
  }
  if (std::exchange(upstream_timer_deferred_, false) && !upstream_timer_.armed()) {
    on_timer(upstream_timer_);
  }
  if (std::exchange(client_timer_deferred_, false) && !client_timer_.armed()) {
    on_timer(client_timer_);
  }
}

void HttpSession::shut_client_write() noexcept {
  if (tls_ != nullptr) {
    tls_->close_notify();
  }
  shutdown(client_.get(), SHUT_WR);
}

void HttpSession::drive() noexcept {
  if (queued()) {
    return;  // on_io_done drives
  }
  drive_rounds();
  if (!closed_) {
    update_client_timer();
  }
}

void HttpSession::drive_rounds() noexcept {
  for (int round = 0; round < kMaxRoundsPerDrive && !closed_; ++round) {
    if (handshaking() && !advance_handshake()) {
      return;  // the client's next bytes (or room for ours) bring the next step
    }
    bool progress = read_client();
    if (closed_ || queued()) {
      return;  // the client's socket failed (no request may start on a closed session), or the
               // read is queued
    }
    // A response still waiting for the client holds the next request back: a client that is
    // not reading gets no more answers queued, and each head has the whole buffer to fit in.
    if (phase_ == Phase::reading_head && client_out_.empty()) {
      progress |= start_request();
    }
    if (phase_ == Phase::proxying) {
      progress |= frame_request_body();
      progress |= write_upstream();
      if (queued()) {
        return;
      }
      progress |= read_upstream();
      if (queued()) {
        return;
      }
      progress |= handle_response();
    }
    if (phase_ == Phase::tunnel) {
      progress |= pump_tunnel();
      if (closed_ || queued()) {
        return;
      }
    }
    progress |= write_client();
    if (queued()) {
      return;
    }
    if (phase_ == Phase::closing && client_out_.empty()) {
      progress |= linger();
      if (closed_) {
        return;
      }
    }
    if (!progress) {
      return;
    }
  }
  // Still busy after a fair share of the loop: come back on the next iteration.
  if (!closed_) {
    host_.loop().resume_soon(*this);
  }
}

bool HttpSession::read_client() noexcept {
  if (!client_readable_ || client_eof_ || phase_ == Phase::closing || queued()) {
    return false;
  }
  if (client_in_.writable().empty() && client_in_.full()) {
    if (phase_ != Phase::reading_head || client_in_.capacity() >= kMaxHeadBufferBytes) {
      return false;  // back-pressure: the server has not taken what we hold
    }
    client_in_.grow(kMaxHeadBufferBytes);
  }
  const std::span<char> space = free_space(client_in_);
  if (space.empty()) {
    return client_received(-ENOBUFS, false);
  }
  if (tls_ == nullptr && queue_read(QueuedOp::client_read, client_.get(), space)) {
    return false;  // client_received() follows, from on_io_done
  }
  bool drained = false;
  const ssize_t received = receive_client(space.data(), space.size(), drained);
  return client_received(received >= 0 ? received : -errno, drained);
}

// The result of reading the client's next bytes into client_in_'s free space, as recv's.
bool HttpSession::client_received(ssize_t received, bool drained) noexcept {
  if (received > 0) {
    client_in_.commit(static_cast<size_t>(received));
    client_readable_ = !drained || client_hung_up_;  // a hang-up's EOF is still to be read
    client_read_ns_ = now_ns();
    if (phase_ == Phase::reading_head && head_started_ns_ == 0) {
      head_started_ns_ = client_read_ns_;  // the head's deadline runs from its first byte
    }
    return true;
  }
  if (received == 0) {
    client_eof_ = true;
    if (phase_ == Phase::proxying && !request_body_.complete()) {
      abort_exchange("client closed mid-request");
    } else if (phase_ == Phase::reading_head && client_in_.empty()) {
      enter_closing();  // sends a response still queued for the client, then closes
    }
    return true;
  }
  if (received == -EAGAIN || received == -ENOBUFS) {
    client_readable_ = received != -EAGAIN;
    return false;
  }
  abort_exchange("client connection error");
  return true;
}

bool HttpSession::start_request() noexcept {
  if (client_in_.empty()) {
    if (client_eof_) {
      close();
    }
    return false;
  }
  const http::ParseResult parsed = request_parser_.parse(client_in_.readable(), request_);
  if (parsed.status == http::ParseResult::incomplete) {
    if (client_eof_) {
      close();  // the client gave up mid-head
    }
    return false;
  }
  exchange_.begin(now_ns());
  request_active_ = true;
  request_bytes_ = parsed.status == http::ParseResult::error ? 0 : request_.head_bytes;
  response_bytes_ = 0;
  body_after_answer_ = false;
  head_started_ns_ = 0;
  if (parsed.status == http::ParseResult::error) {
    observe::log_event(LogLevel::info, "rejected request",
                       {{"client", client_ip_.view()}, {"reason", parsed.reason}});
    respond_locally(parsed.error_status, parsed.reason);
    return true;
  }
  if (!prepare_target() || !apply_max_forwards()) {
    return true;
  }
  client_http10_ = request_.version_minor == 0;
  exchange_.set_protocol(client_http10_ ? "HTTP/1.0" : "HTTP/1.1");
  if (listener_.redirect_to_https) {
    redirect_to_https();
    return true;
  }
  if (!exchange_.route(generation_, listener_, request_)) {
    client_in_.consume(request_.head_bytes);
    request_parser_.reset();
    // The body (if any) was not read, so the connection cannot carry on.
    respond_locally(404, "no route for this host and path");
    return true;
  }
  method_is_head_ = request_.method == "HEAD";
  upgrade_requested_ = !request_.upgrade.empty();
  request_keep_alive_ = request_.keep_alive;
  write_upstream_head();

  request_body_.start(request_.body_kind, request_.content_length);
  client_in_.consume(request_.head_bytes);
  // The client waits for a go-ahead before sending the body. The body streams to the server as
  // it comes, so the proxy gives it (as nginx does) and does not pass Expect on.
  if (request_.expect_continue && !request_body_.complete() && client_in_.empty()) {
    client_out_.append("HTTP/1.1 100 Continue\r\n\r\n");
  }
  request_parser_.reset();

  phase_ = Phase::proxying;
  stale_connection_retried_ = false;
  response_started_ = false;
  if (!exchange_.admit(now_ns())) {
    respond_locally(503, "too many requests to this cluster");
    return true;
  }
  start_attempt();
  return true;
}

// RFC 9112 §3.2: CONNECT is a forward proxy's business, not a reverse proxy's; every other
// target is normalised in place (request_target.h) before anything routes on it.
bool HttpSession::prepare_target() noexcept {
  const auto refuse = [this](uint16_t status, std::string_view reason) {
    observe::log_event(LogLevel::info, "rejected request",
                       {{"client", client_ip_.view()}, {"reason", reason}});
    client_in_.consume(request_.head_bytes);
    request_parser_.reset();
    respond_locally(status, reason);
    return false;
  };
  if (request_.method == "CONNECT") {
    return refuse(405, "CONNECT is not served");
  }
  // TRACE reflects the request's fields, credentials included, to whoever can make a browser
  // send it (cross-site tracing); refused unless the listener allows it, as nginx does.
  if (request_.method == "TRACE" && !listener_.allow_trace) {
    return refuse(405, "TRACE is not served");
  }
  const size_t offset = static_cast<size_t>(request_.target.data() - client_in_.readable().data());
  const std::span<char> target =
      client_in_.readable_in_place().subspan(offset, request_.target.size());
  const http::TargetError error = http::normalize_request_target(target, request_);
  return error.status == 0 || refuse(error.status, error.reason);
}

// RFC 9110 §7.6.2: on OPTIONS and TRACE, Max-Forwards counts the hops the request may still
// take. At 0 ballast is the final recipient and answers itself; above, the request goes on with
// one less, rewritten in place with the same width ("10" becomes "09", which the grammar,
// 1*DIGIT, allows), so the head is not rebuilt. False when the request has been answered.
bool HttpSession::apply_max_forwards() noexcept {
  const bool options = request_.method == "OPTIONS";
  if (!options && request_.method != "TRACE") {
    return true;
  }
  const http::Header* field = request_.headers.find("Max-Forwards");
  if (field == nullptr) {
    return true;
  }
  const std::string_view value = field->value;
  const bool digits = !value.empty() && std::all_of(value.begin(), value.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    observe::log_event(LogLevel::info, "rejected request",
                       {{"client", client_ip_.view()}, {"reason", "invalid Max-Forwards"}});
    client_in_.consume(request_.head_bytes);
    request_parser_.reset();
    respond_locally(400, "invalid Max-Forwards");
    return false;
  }
  if (value.find_first_not_of('0') == std::string_view::npos) {
    options ? answer_options() : answer_trace();
    return false;
  }
  const size_t offset = static_cast<size_t>(value.data() - client_in_.readable().data());
  const std::span<char> number = client_in_.readable_in_place().subspan(offset, value.size());
  size_t digit = number.size() - 1;
  for (; number[digit] == '0'; --digit) {
    number[digit] = '9';  // a borrow; some digit before is not 0, since the value is not
  }
  --number[digit];
  return true;
}

// OPTIONS with Max-Forwards: 0 (RFC 9110 §9.3.7): what ballast passes on, with no content.
void HttpSession::answer_options() noexcept {
  static constexpr http::Header kAllow{"Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"};
  static constexpr http::Header kAllowTrace{"Allow",
                                            "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE"};
  exchange_.set_request_line(request_.method, request_.target);
  client_out_.clear();
  client_out_.commit(http::write_empty_response(
      200, std::span<const http::Header>(listener_.allow_trace ? &kAllowTrace : &kAllow, 1),
      client_out_.writable()));
  client_in_.consume(request_.head_bytes);
  request_parser_.reset();
  conclude_locally(200);
}

// TRACE with Max-Forwards: 0 (RFC 9110 §9.3.8), on a listener that allows TRACE: the request as
// received, as message/http, less the fields that carry credentials.
void HttpSession::answer_trace() noexcept {
  exchange_.set_request_line(request_.method, request_.target);
  client_out_.clear();
  client_out_.grow(request_.head_bytes + http::kTraceResponseSlackBytes);
  client_out_.commit(http::write_trace_response(request_, client_out_.writable()));
  client_in_.consume(request_.head_bytes);
  request_parser_.reset();
  conclude_locally(200);
}

// The head sent to the server, kept for retries. It carries the forwarding fields (who the
// client is, as far as this hop can vouch), the request's id and its trace context; the
// exchange's logs and spans read its request line from it.
void HttpSession::write_upstream_head() noexcept {
  http::ForwardContext forward;
  forward.client_ip = client_ip_.view();
  forward.scheme = tls_ != nullptr ? "https" : "http";
  if (tls_ != nullptr) {
    forward.client_cert_subject = tls_->peer_subject();
    forward.client_cert_fingerprint = tls_->peer_fingerprint();
  }
  forward.host_if_absent = listener_.listen.host;
  forward.port = {listen_port_.data(), listen_port_length_};
  forward.traceparent = exchange_.traceparent();
  forward.request_id = exchange_.request_id();
  forward.trusted_peer = peer_trusted_;
  forward.forwarded = generation_.shared->config->forwarding.forwarded;
  upstream_request_.clear();
  size_t written = http::write_upstream_request(request_, forward, upstream_request_.writable());
  if (written == 0) {
    // The bound serializer.h gives: the head, three more copies of the host, the strings.
    const size_t host = request_.has_host ? request_.host.size() : forward.host_if_absent.size();
    upstream_request_.grow(request_.head_bytes + 3 * host + 3 * forward.client_ip.size() +
                           forward.port.size() + forward.traceparent.size() +
                           forward.request_id.size() + forward.client_cert_subject.size() +
                           forward.client_cert_fingerprint.size() + 4 * request_.headers.count +
                           http::kSerializeSlackBytes);
    written = http::write_upstream_request(request_, forward, upstream_request_.writable());
  }
  upstream_request_.commit(written);
  const std::string_view head = upstream_request_.readable();
  const size_t method_end = head.find(' ');
  const size_t target_end = head.find(' ', method_end + 1);
  exchange_.set_request_line(head.substr(0, method_end),
                             head.substr(method_end + 1, target_end - method_end - 1));
}

// A retry is a new span: its id replaces the previous attempt's in the kept head's traceparent,
// whose value has a fixed length, so the head is patched in place.
void HttpSession::retrace_upstream_head() noexcept {
  static constexpr std::string_view kField = "\r\ntraceparent: ";
  const std::string_view traceparent = exchange_.traceparent();
  const std::span<char> head = upstream_request_.readable_in_place();
  const size_t field = std::string_view(head.data(), head.size()).find(kField);
  if (field != std::string_view::npos) {
    std::memcpy(head.data() + field + kField.size(), traceparent.data(), traceparent.size());
  }
}

void HttpSession::start_attempt() noexcept {
  if (exchange_.start_attempt(now_ns()) == balance::kNoServer) {
    if (exchange_.attempts_made() > 0) {
      // Every server left has been tried, or refuses: the client gets the last failure's answer.
      const FailureAnswer answer = exchange_.failure_answer();
      respond_locally(answer.status, answer.reason);
    } else {
      respond_locally(503, "no server available");
    }
    return;
  }
  if (exchange_.attempts_made() > 1 && !exchange_.traceparent().empty()) {
    retrace_upstream_head();
  }
  switch (open_upstream(true)) {
    case Opened::yes:
      return;
    case Opened::failed:
      fail_attempt(Failure::connect_failure, std::strerror(errno));
      return;
    case Opened::overflow:
      exchange_.cancel_attempt(now_ns());
      respond_locally(503, "too many requests waiting for a server");
      return;
  }
}

// Connects the admitted attempt to its server: a pooled connection when one is idle, else a new
// one, which counts against max_pending_requests until it is established. On `failed` errno is
// set and the caller fails the attempt.
HttpSession::Opened HttpSession::open_upstream(bool allow_pooled) noexcept {
  upstream_head_sent_ = 0;
  upstream_handshaking_ = false;
  upstream_eof_ = false;
  upstream_hung_up_ = false;
  upstream_write_failed_ = false;
  response_bytes_seen_ = false;
  interim_responses_ = 0;
  response_parser_.reset();

  upstream::ConnectionPool& pool = cluster().pool(exchange_.server());
  upstream_ = allow_pooled ? pool.take() : nullptr;
  if (upstream_ != nullptr) {
    upstream_->attach(*this);
    connecting_ = false;
    // An idle pooled connection has nothing to read (anything arriving while idle closes it),
    // and edge-triggered epoll reports what the server sends next.
    upstream_readable_ = false;
    upstream_writable_ = true;
    arm_upstream_timer(response_timeout_ms());
    return Opened::yes;
  }
  if (!exchange_.hold_pending()) {
    return Opened::overflow;
  }
  core::FileDescriptor fd = core::connect_to(cluster().server(exchange_.server()).address);
  if (!fd.valid()) {
    return Opened::failed;
  }
  core::set_no_delay(fd.get());
  const int raw_fd = fd.get();
  upstream_ = new upstream::UpstreamConnection(host_.loop(), std::move(fd), pool);
  upstream_->attach(*this);
  if (const tls::ClientContext* tls = cluster().state().upstream_tls.get();
      tls != nullptr &&
      !upstream_->start_tls(*tls, cluster().server(exchange_.server()).config.host)) {
    errno = ENOMEM;
    return Opened::failed;
  }
  if (!host_.loop().watch(raw_fd, *upstream_)) {
    return Opened::failed;
  }
  connecting_ = true;
  upstream_readable_ = false;
  upstream_writable_ = false;
  arm_upstream_timer(cluster().config().timeouts.connect_ms);
  return Opened::yes;
}

uint64_t HttpSession::response_timeout_ms() const noexcept {
  const config::ClusterConfig& config = cluster().config();
  return config.retry.per_try_timeout_ms != 0 ? config.retry.per_try_timeout_ms
                                              : config.timeouts.server_ms;
}

bool HttpSession::frame_request_body() noexcept {
  if (request_body_.complete()) {
    return false;
  }
  const size_t before = request_body_.ready_bytes();
  if (!request_body_.frame(client_in_.readable().substr(before))) {
    observe::log_event(LogLevel::info, "rejected request body",
                       {{"client", client_ip_.view()}, {"reason", request_body_.error_reason()}});
    if (!response_started_) {
      if (upstream_ != nullptr) {
        end_attempt(AttemptEnd::cancelled);  // the client's fault, not the server's
      }
      respond_locally(400, request_body_.error_reason());
    } else {
      abort_exchange("bad request body");
    }
    return true;
  }
  if (request_body_.complete()) {
    client_timer_.cancel();
  }
  return request_body_.ready_bytes() != before;
}

bool HttpSession::upstream_request_written() const noexcept {
  return upstream_head_sent_ == upstream_request_.size() && request_body_.finished();
}

bool HttpSession::write_upstream() noexcept {
  if (upstream_ == nullptr || connecting_ || !upstream_writable_ || queued()) {
    return false;
  }
  const std::string_view head = upstream_request_.readable().substr(upstream_head_sent_);
  const std::string_view body = client_in_.readable().substr(0, request_body_.ready_bytes());
  if (head.empty() && body.empty()) {
    return false;
  }
  if (upstream_->tls() == nullptr &&
      queue_send(QueuedOp::upstream_send, upstream_->fd(), head, body)) {
    return false;  // upstream_sent() follows, from on_io_done
  }
  const ssize_t sent = upstream_->send(head, body);
  return upstream_sent(sent >= 0 ? sent : -errno, head.size(), head.size() + body.size());
}

// The result of sending the request's next bytes (head_bytes of head, then body bytes) to the
// server, as sendmsg's.
bool HttpSession::upstream_sent(ssize_t result, size_t head_bytes, size_t total_bytes) noexcept {
  if (result > 0) {
    const size_t total = static_cast<size_t>(result);
    // Short: the buffer is full (TLS takes at most a gathered record at a time: only its EAGAIN
    // says full).
    upstream_writable_ = upstream_->tls() != nullptr || total == total_bytes;
    const size_t head_part = std::min(total, head_bytes);
    const size_t body_part = total - head_part;
    upstream_head_sent_ += head_part;
    client_in_.consume(body_part);
    request_body_.forwarded(body_part);
    request_bytes_ += body_part;
    body_after_answer_ |= body_part != 0 && response_started_ && response_body_.finished();
    exchange_.request_reached_server(body_part != 0);
    cluster().stats(exchange_.server()).bytes_sent.add(total);
    arm_upstream_timer(response_timeout_ms());
    return true;
  }
  if (result == -EAGAIN) {
    upstream_writable_ = false;
    return false;
  }
  // The server closed while we were sending. It may have answered first (an early response to
  // an upload); read what it sent, and its close, before deciding.
  upstream_writable_ = false;
  upstream_write_failed_ = true;
  upstream_readable_ = true;
  return true;
}

bool HttpSession::read_upstream(Io io) noexcept {
  if (upstream_ == nullptr || connecting_ || !upstream_readable_ || upstream_eof_ || queued()) {
    return false;
  }
  const std::span<char> space = free_space(upstream_->in());
  if (space.empty()) {
    return upstream_received(-ENOBUFS, false);
  }
  if (io == Io::batched && upstream_->tls() == nullptr &&
      queue_read(QueuedOp::upstream_read, upstream_->fd(), space)) {
    return false;  // upstream_received() follows, from on_io_done
  }
  bool drained = false;
  const ssize_t received = upstream_->receive(space.data(), space.size(), drained);
  return upstream_received(received >= 0 ? received : -errno, drained);
}

// The result of reading the server's next bytes into the connection's free space, as recv's.
bool HttpSession::upstream_received(ssize_t received, bool drained) noexcept {
  if (received > 0) {
    upstream_->in().commit(static_cast<size_t>(received));
    upstream_readable_ = !drained || upstream_hung_up_;
    response_bytes_seen_ = true;
    cluster().stats(exchange_.server()).bytes_received.add(static_cast<uint64_t>(received));
    arm_upstream_timer(response_timeout_ms());
    return true;
  }
  if (received == 0) {
    upstream_eof_ = true;
    return true;
  }
  if (received == -EAGAIN || received == -ENOBUFS) {
    upstream_readable_ = received != -EAGAIN;
    return false;
  }
  upstream_eof_ = true;  // reset: treated as an abrupt close
  return true;
}

bool HttpSession::handle_response() noexcept {
  if (upstream_ == nullptr) {
    return false;
  }
  if (!response_started_) {
    const bool progress = handle_response_head();
    if (!response_started_ || upstream_ == nullptr || phase_ == Phase::tunnel) {
      return progress;
    }
    // Frame the body bytes that came with the head now, so head and body leave together.
  }
  core::ByteBuffer& in = upstream_->in();
  const size_t before = response_body_.ready_bytes();
  if (!response_body_.frame(in.readable().substr(before))) {
    log_failure("bad response body", "reset", response_body_.error_reason());
    end_attempt(AttemptEnd::reset);
    abort_exchange("bad response body");
    return true;
  }
  const size_t skipped = response_body_.take_skipped();  // chunk framing a 1.0 client is spared
  in.consume(skipped);
  if (response_body_.finished()) {
    // An early answer (before the whole request was sent) waits for the rest of the request to
    // reach the server, unless the server has closed: then the body was cut short.
    if (!upstream_request_written() && !upstream_eof_ && !upstream_write_failed_) {
      return skipped != 0;
    }
    if (body_after_answer_ && !upstream_eof_) {
      // The rest of the body went after the answer. A server that had closed by then (its FIN
      // waiting in the socket, its event not handled yet) never read it: one look tells.
      upstream_readable_ = true;
      read_upstream(Io::direct);  // its answer is needed now, before the connection is pooled
    }
    complete_exchange();
    return true;
  }
  if (upstream_eof_ && response_body_.ready_bytes() == 0) {
    if (response_body_.until_close()) {
      client_keep_alive_ = false;
      complete_exchange();
    } else {
      log_failure("server closed mid-response", "reset", {});
      end_attempt(AttemptEnd::reset);
      abort_exchange("server closed mid-response");
    }
    return true;
  }
  return skipped != 0 || response_body_.ready_bytes() != before;
}

bool HttpSession::handle_response_head() noexcept {
  core::ByteBuffer& in = upstream_->in();
  const http::ParseResult parsed =
      in.empty() ? http::ParseResult{}
                 : response_parser_.parse(in.readable(), method_is_head_, response_);
  if (parsed.status == http::ParseResult::incomplete) {
    if (upstream_eof_) {
      fail_attempt(Failure::reset,
                   response_bytes_seen_ ? "truncated response head" : "connection closed");
      return true;
    }
    if (in.full()) {
      if (in.capacity() >= kMaxHeadBufferBytes) {
        refuse_oversized_response();
        return true;
      }
      // A head past the usual buffer may grow it up to the parser's limit, which says when a
      // head is too large.
      in.grow(kMaxHeadBufferBytes);
      upstream_readable_ = true;
      return true;
    }
    return false;
  }
  if (parsed.status == http::ParseResult::error) {
    if (parsed.oversized) {
      refuse_oversized_response();
    } else {
      fail_attempt(Failure::bad_response, parsed.reason);
    }
    return true;
  }
  if (response_.status == 101) {
    if (!upgrade_requested_) {
      fail_attempt(Failure::bad_response, "101 to a request that did not ask to upgrade");
    } else {
      start_tunnel();
    }
    return true;
  }
  if (response_.status >= 100 && response_.status < 200) {
    if (++interim_responses_ > kMaxInterimResponses) {
      fail_attempt(Failure::bad_response, "too many interim (1xx) responses");
      return true;
    }
    // Interim (100 Continue and friends): pass it on, but never to an HTTP/1.0 client
    // (RFC 9110 §15.2), and wait for the final head.
    if (!client_http10_ && !forward_response_head(http::ClientDelivery::keep_alive, {})) {
      return true;
    }
    in.consume(response_.head_bytes);
    response_parser_.reset();
    return true;
  }
  if (exchange_.retry_after_status(response_.status)) {
    fail_attempt(Failure::server_error, "server error status");
    return true;
  }
  // A connection of a retired generation closes after this response, so its client's next
  // request follows the new configuration (and the health its checks now publish).
  // An HTTP/1.0 client gets a chunked body de-chunked, delimited by the close (as nginx does).
  // The request's body need not be complete: it goes on to the server after an early answer.
  const bool dechunk = client_http10_ && response_.chunked;
  client_keep_alive_ = request_keep_alive_ && !host_.draining() && generation_.retired_at_ns == 0 &&
                       response_.body_kind != http::BodyKind::until_close && !dechunk;
  const http::ClientDelivery delivery = dechunk              ? http::ClientDelivery::dechunked
                                        : client_keep_alive_ ? http::ClientDelivery::keep_alive
                                                             : http::ClientDelivery::close;
  // Cookie affinity: tell the client its server, unless its cookie already named that one.
  const http::Header cookie{"Set-Cookie", exchange_.affinity_cookie()};
  if (!forward_response_head(delivery, cookie.value.empty()
                                           ? std::span<const http::Header>()
                                           : std::span<const http::Header>(&cookie, 1))) {
    return true;
  }
  in.consume(response_.head_bytes);
  response_body_.start(response_.body_kind, response_.content_length,
                       dechunk ? BodyFramer::Coding::dechunked : BodyFramer::Coding::as_received);
  response_started_ = true;
  exchange_.response_started();
  exchange_.answered(response_.status, now_ns());
  return true;
}

// Writes the response head for the client behind what client_out_ holds, growing the buffer
// for a head larger than usual (up to the parser's 64 KiB and what ballast adds). False when
// even that does not fit, and the client has been answered 502.
bool HttpSession::forward_response_head(http::ClientDelivery delivery,
                                        std::span<const http::Header> extra) noexcept {
  size_t written = http::write_client_response(response_, delivery, extra, client_out_.writable());
  if (written == 0) {
    size_t extra_bytes = 0;
    for (const http::Header& field : extra) {
      extra_bytes += field.name.size() + field.value.size() + 4;
    }
    client_out_.grow(client_out_.size() + response_.head_bytes + extra_bytes +
                     4 * response_.headers.count + http::kSerializeSlackBytes);
    written = http::write_client_response(response_, delivery, extra, client_out_.writable());
  }
  if (written == 0) {
    refuse_oversized_response();
    return false;
  }
  client_out_.commit(written);
  return true;
}

// A head over the limit is refused as nginx and HAProxy do (502), but counted apart: a server
// that sends large headers is not failing, and must not be ejected for it.
void HttpSession::refuse_oversized_response() noexcept {
  cluster().cluster_stats().oversized_responses.add();
  log_failure("response head too large", {}, "over 64 KiB");
  end_attempt(AttemptEnd::cancelled);
  respond_locally(502, "response head too large");
}

// The server agreed to switch protocols: its 101 goes to the client and the two connections
// become one tunnel. The attempt stays open (least connections still sees it) until the tunnel
// closes; its verdict, a success, is given now.
void HttpSession::start_tunnel() noexcept {
  if (!forward_response_head(http::ClientDelivery::close, {})) {
    return;
  }
  upstream_->in().consume(response_.head_bytes);
  response_started_ = true;
  exchange_.response_started();
  phase_ = Phase::tunnel;
  upstream_timer_.cancel();
  request_body_.start(http::BodyKind::until_close, 0);
  response_body_.start(http::BodyKind::until_close, 0);
  cluster().cluster_stats().tunnels_opened.add();
  exchange_.answered(101, now_ns());
}

// One round of the tunnel: frames whatever arrived (everything is payload), writes it on, and
// passes each side's close to the other once what it sent before has been written.
bool HttpSession::pump_tunnel() noexcept {
  bool progress = read_upstream();
  if (queued()) {
    return progress;
  }
  const size_t to_server = request_body_.ready_bytes();
  request_body_.frame(client_in_.readable().substr(to_server));
  const size_t to_client = response_body_.ready_bytes();
  response_body_.frame(upstream_->in().readable().substr(to_client));
  progress |= request_body_.ready_bytes() != to_server || response_body_.ready_bytes() != to_client;
  progress |= write_upstream();
  if (queued()) {
    return progress;
  }
  if ((upstream_write_failed_ || (upstream_eof_ && !upstream_writable_)) &&
      request_body_.ready_bytes() != 0 && !upstream_shut_) {
    abort_exchange("server closed the tunnel");  // a write failed: the server is gone
    return true;
  }
  if (client_eof_ && request_body_.ready_bytes() == 0 && !upstream_shut_) {
    upstream_->shut_write();
    upstream_shut_ = true;
    progress = true;
  }
  if (upstream_eof_ && response_body_.ready_bytes() == 0 && client_out_.empty() && !client_shut_) {
    shut_client_write();
    client_shut_ = true;
    progress = true;
  }
  if (upstream_shut_ && client_shut_) {
    close();
    return true;
  }
  if (progress) {
    client_read_ns_ = now_ns();  // the tunnel's idle clock
  }
  return progress;
}

bool HttpSession::write_client() noexcept {
  if (!client_writable_ || queued()) {
    return false;
  }
  const std::string_view head = client_out_.readable();
  const std::string_view body =
      response_started_ && upstream_ != nullptr
          ? upstream_->in().readable().substr(0, response_body_.ready_bytes())
          : std::string_view{};
  if (head.empty() && body.empty()) {
    client_write_ns_ = now_ns();  // the client has everything we had for it
    return false;
  }
  if (tls_ == nullptr && queue_send(QueuedOp::client_send, client_.get(), head, body)) {
    return false;  // client_sent() follows, from on_io_done
  }
  const ssize_t sent = send_client(head, body);
  return client_sent(sent >= 0 ? sent : -errno, head.size(), head.size() + body.size());
}

// The result of sending what we hold for the client (head_bytes from client_out_, then response
// body bytes), as sendmsg's.
bool HttpSession::client_sent(ssize_t result, size_t head_bytes, size_t total_bytes) noexcept {
  if (result > 0) {
    const size_t total = static_cast<size_t>(result);
    client_write_ns_ = now_ns();
    // Short: the socket's buffer is full. (TLS takes at most a gathered record at a time, so
    // only its EAGAIN says full.)
    client_writable_ = tls_ != nullptr || total == total_bytes;
    const size_t head_part = std::min(total, head_bytes);
    const size_t body_part = total - head_part;
    response_bytes_ += total;
    client_out_.consume(head_part);
    if (body_part != 0) {
      upstream_->in().consume(body_part);
      response_body_.forwarded(body_part);
    }
    return true;
  }
  if (result == -EAGAIN) {
    client_writable_ = false;
    return false;
  }
  abort_exchange("client went away");
  return true;
}

void HttpSession::fail_attempt(Failure failure, std::string_view detail) noexcept {
  if (retry_on_fresh_connection(failure)) {
    return;
  }
  log_failure("upstream attempt failed", failure_name(failure), detail);
  upstream_timer_.cancel();
  if (upstream_ != nullptr) {
    upstream_->close();
    upstream_ = nullptr;
  }
  if (exchange_.attempt_failed(failure, now_ns())) {
    start_attempt();
    return;
  }
  const FailureAnswer answer = exchange_.failure_answer();
  respond_locally(answer.status, answer.reason);
}

// A pooled connection the server had closed before we used it: not the server's failure. The
// attempt keeps its server, slot and permit, on a fresh connection — once, and only if the
// request may be sent again (the server may have read it before the reset). True when that
// took the failure over.
bool HttpSession::retry_on_fresh_connection(Failure failure) noexcept {
  const bool stale_reuse = upstream_ != nullptr && upstream_->reused() && !response_bytes_seen_ &&
                           failure == Failure::reset && !exchange_.body_streamed() &&
                           exchange_.may_send_again() && !stale_connection_retried_;
  if (!stale_reuse) {
    return false;
  }
  stale_connection_retried_ = true;
  upstream_timer_.cancel();
  upstream_->close();
  upstream_ = nullptr;
  switch (open_upstream(false)) {
    case Opened::yes:
      return true;
    case Opened::overflow:
      exchange_.cancel_attempt(now_ns());  // a limit of ours, not the server's failure
      respond_locally(503, "too many requests waiting for a server");
      return true;
    case Opened::failed:
      fail_attempt(Failure::connect_failure, std::strerror(errno));
      return true;
  }
  return true;
}

void HttpSession::log_failure(std::string_view message, std::string_view failure,
                              std::string_view detail) noexcept {
  log_server_failure(cluster().server(exchange_.server()),
                     {message, cluster().config().name, failure, detail}, now_ns());
}

void HttpSession::end_attempt(AttemptEnd end) noexcept {
  exchange_.end_attempt(end, now_ns());
  upstream_timer_.cancel();
  if (upstream_ != nullptr) {
    upstream_->close();
    upstream_ = nullptr;
  }
}

void HttpSession::complete_exchange() noexcept {
  // Still readable: the socket may hold more bytes or the server's FIN (one segment can bring
  // a bodiless response and the FIN), whose edge came while the connection was ours; idle, it
  // would hear of them no more, and the next request would.
  const bool reusable = response_.keep_alive && !response_body_.until_close() && !upstream_eof_ &&
                        !upstream_write_failed_ && !upstream_readable_ && upstream_->in().empty() &&
                        upstream_request_written();
  const bool cut_short = request_cut_short();
  finish_exchange(response_.status, exchange_.server());
  upstream::UpstreamConnection* connection = upstream_;
  upstream_ = nullptr;               // end_attempt must not close it
  end_attempt(AttemptEnd::success);  // its verdict came with the response head
  if (reusable) {
    connection->home().give_back(*connection);
  } else {
    connection->close();
  }
  response_started_ = false;
  // A server that closed after an early answer leaves request body bytes we never sent; they
  // are the request's, not the next one's.
  client_in_.consume(request_body_.ready_bytes());
  request_body_.forwarded(request_body_.ready_bytes());
  if (!client_keep_alive_ || host_.draining() || client_eof_ || !request_body_.complete() ||
      cut_short) {
    enter_closing();
    return;
  }
  phase_ = Phase::reading_head;
  idle_since_ns_ = now_ns();
  head_started_ns_ = client_in_.empty() ? 0 : idle_since_ns_;  // a pipelined head has begun
}

// Whether the server answered a request that did not all reach it: it closed after an early
// answer (before the rest of the body was sent, or before it read what went after the answer),
// or the client stopped sending.
bool HttpSession::request_cut_short() const noexcept {
  if (phase_ == Phase::tunnel) {
    return false;
  }
  return !upstream_request_written() ||
         (body_after_answer_ && (upstream_eof_ || upstream_write_failed_));
}

// The request's answer, counted once: the server's (forwarded) or ballast's own (kNoServer).
void HttpSession::finish_exchange(uint16_t status, balance::ServerIndex server) noexcept {
  if (!request_active_) {
    return;
  }
  request_active_ = false;
  const uint64_t queued = client_out_.size();  // what is queued will follow
  // A server's answer to a request that did not all reach it: the server closed after an early
  // answer, or the client stopped sending.
  const bool cut_short = server != balance::kNoServer && request_cut_short();
  exchange_.finish({status, server, request_bytes_, response_bytes_ + queued, cut_short}, now_ns());
}

void HttpSession::respond_locally(uint16_t status, std::string_view reason,
                                  std::span<const http::Header> extra) noexcept {
  if (response_started_) {
    abort_exchange(reason);
    return;
  }
  // An answer of our own closes the connection (as HAProxy's do): the request's body may be
  // partly unread, and a client that hit an error is better served by a fresh connection.
  static constexpr http::Header kRetryAfter{"Retry-After", "1"};
  if (status == 503) {
    extra = std::span<const http::Header>(&kRetryAfter, 1);
  }
  client_out_.clear();
  client_out_.commit(http::write_error_response(status, reason, extra, client_out_.writable()));
  conclude_locally(status);
}

// Ballast answered the request itself (the answer is in client_out_): counted, then the
// connection closes once the answer is sent.
void HttpSession::conclude_locally(uint16_t status) noexcept {
  finish_exchange(status, balance::kNoServer);
  upstream_timer_.cancel();
  enter_closing();
}

// https://host[:https_port]/target: 301 for GET and HEAD, 308 (method and body kept) otherwise.
void HttpSession::redirect_to_https() noexcept {
  std::string_view host = request_.has_host ? request_.host : listener_.listen.host;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);  // an IPv6 literal, without its port
  } else {
    host = host.substr(0, host.find(':'));
  }
  redirect_location_.assign("https://");
  redirect_location_.append(host);
  if (listener_.https_port != 443) {
    redirect_location_.append(":").append(std::to_string(listener_.https_port));
  }
  redirect_location_.append(request_.target);
  const bool safe = request_.method == "GET" || request_.method == "HEAD";
  const http::Header location{"Location", redirect_location_};
  exchange_.set_request_line(request_.method, request_.target);  // read before the head goes
  client_in_.consume(request_.head_bytes);
  request_parser_.reset();
  respond_locally(safe ? 301 : 308, safe ? "moved to https" : "use https",
                  std::span<const http::Header>(&location, 1));
}

// Sends what client_out_ holds, then closes; the client's send deadline bounds a client that
// never reads.
void HttpSession::enter_closing() noexcept {
  phase_ = Phase::closing;
  client_write_ns_ = now_ns();
}

// After our last response, a client may still be sending (the rest of a rejected request).
// Closing with unread input would make the kernel send a reset, which can destroy the response
// before the client reads it; so, as nginx's lingering close does, shut down our side, read and
// discard until the client closes, bounded by kLingerMs.
bool HttpSession::linger() noexcept {
  if (client_eof_) {
    close();
    return true;
  }
  if (!lingering_) {
    lingering_ = true;
    shut_client_write();
    client_timer_.arm(host_.loop().timers(), now_ns() + kLingerMs * core::kNsPerMs);
  }
  bool progress = false;
  while (client_readable_ && !closed_) {
    char discard[4096];
    bool drained = false;
    const ssize_t received = receive_client(discard, sizeof(discard), drained);
    if (received > 0) {
      progress = true;
      // A short read drained the socket (see free_space): the next arrival raises an edge.
      client_readable_ = !drained || client_hung_up_;
      continue;
    }
    if (received < 0 && errno == EAGAIN) {
      client_readable_ = false;
      break;
    }
    close();  // EOF or error: done
    return true;
  }
  return progress;
}

void HttpSession::abort_exchange(std::string_view why) noexcept {
  observe::log_event(LogLevel::debug, "closing client connection",
                     {{"client", client_ip_.view()}, {"reason", why}});
  close();
}

void HttpSession::begin_drain() noexcept {
  if (phase_ == Phase::reading_head && client_in_.empty()) {
    close();
  }
  // Otherwise complete_exchange() sees draining() and closes after this response; a tunnel
  // stays until the drain deadline closes it.
}

void HttpSession::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  host_.loop().cancel_resume(*this);
  host_.loop().io().cancel(*this);
  const bool tunnel = phase_ == Phase::tunnel;
  // Cut short: the response's status if it had begun (the server's answer, broken off), else
  // nginx's 499, "client closed request".
  finish_exchange(response_started_ ? response_.status : 499,
                  response_started_ ? exchange_.server() : balance::kNoServer);
  if (tunnel) {
    cluster().cluster_stats().tunnels_closed.add();
  }
  if (exchange_.server() != balance::kNoServer) {
    // Cut short on our side, not the server's; a tunnel's end is its attempt's (successful) end.
    end_attempt(tunnel ? AttemptEnd::success : AttemptEnd::cancelled);
  }
  client_timer_.cancel();
  upstream_timer_.cancel();
  if (tls_ != nullptr) {
    // A clean end (as nginx's): the client learns nothing was cut off, and OpenSSL keeps the
    // session in its cache (it drops the sessions of connections that end without one).
    tls_->close_notify();
  }
  client_.reset();  // closing the descriptor takes it out of the loop's epoll set
  host_.session_closed(*this);
}

// The client owes us bytes of a body, and we have room for them.
bool HttpSession::waiting_on_client_body() const noexcept {
  return phase_ == Phase::proxying && !request_body_.complete() && !client_eof_ &&
         !client_in_.full();
}

// We hold bytes for the client that it has not taken.
bool HttpSession::waiting_on_client_send() const noexcept {
  return !client_writable_ &&
         (!client_out_.empty() || (response_started_ && response_body_.ready_bytes() != 0));
}

// When the client's current wait ends; 0 when we are not waiting on the client (the server's
// timer runs instead).
uint64_t HttpSession::client_deadline_ns() const noexcept {
  const config::TimeoutsConfig& timeouts = generation_.shared->config->timeouts;
  const auto after = [](uint64_t since_ns, uint64_t timeout_ms) {
    return since_ns + timeout_ms * core::kNsPerMs;
  };
  if (lingering_) {
    return client_timer_.deadline_ns();  // linger() set it
  }
  if (handshaking()) {
    return after(accepted_ns_, tls_context_->handshake_timeout_ms());
  }
  switch (phase_) {
    case Phase::reading_head:
      if (!client_out_.empty()) {
        return after(client_write_ns_, timeouts.client_send());
      }
      if (head_started_ns_ != 0) {
        return after(head_started_ns_, timeouts.client_header_ms);
      }
      return after(idle_since_ns_, timeouts.keepalive());
    case Phase::proxying:
      if (waiting_on_client_send()) {
        return after(client_write_ns_, timeouts.client_send());
      }
      return waiting_on_client_body() ? after(client_read_ns_, timeouts.client_body()) : 0;
    case Phase::tunnel:
      return after(client_read_ns_, timeouts.tunnel_ms);
    case Phase::closing:
      return after(client_write_ns_, timeouts.client_send());
  }
  return 0;
}

void HttpSession::update_client_timer() noexcept {
  const uint64_t deadline_ns = client_deadline_ns();
  if (deadline_ns == 0) {
    client_timer_.cancel();
  } else if (!client_timer_.armed() || client_timer_.deadline_ns() != deadline_ns) {
    client_timer_.arm(host_.loop().timers(), deadline_ns);
  }
}

void HttpSession::on_client_timer() noexcept {
  if (lingering_) {
    close();
    return;
  }
  const uint64_t deadline_ns = client_deadline_ns();
  if (deadline_ns == 0 || deadline_ns > now_ns()) {
    update_client_timer();  // the wait it was armed for is over, or moved on
    return;
  }
  if (handshaking()) {
    handshake_failed(tls::HandshakeError::timeout);
    return;
  }
  const bool head_due = phase_ == Phase::reading_head && client_out_.empty() && !client_in_.empty();
  const bool body_due =
      phase_ == Phase::proxying && !waiting_on_client_send() && !response_started_;
  if (head_due) {
    exchange_.begin(head_started_ns_);  // the access log measures from the head's first byte
    request_active_ = true;
    request_bytes_ = client_in_.size();
    response_bytes_ = 0;
    respond_locally(408, "request head not received in time");
    drive();
  } else if (body_due) {
    end_attempt(AttemptEnd::cancelled);  // the client's delay, not the server's
    respond_locally(408, "request body not received in time");
    drive();
  } else {
    // Idle keep-alive, an unread answer, an idle tunnel: nothing more can be said to the client.
    abort_exchange(phase_ == Phase::tunnel ? "tunnel idle" : "client timed out");
  }
}

void HttpSession::arm_upstream_timer(uint64_t timeout_ms) noexcept {
  upstream_timer_.arm(host_.loop().timers(), now_ns() + timeout_ms * core::kNsPerMs);
}

void HttpSession::on_timer(core::Timer& timer) noexcept {
  if (closed_) {
    return;
  }
  if (queued()) {  // replayed by on_io_done
    (&timer == &client_timer_ ? client_timer_deferred_ : upstream_timer_deferred_) = true;
    return;
  }
  if (&timer == &client_timer_) {
    on_client_timer();
    return;
  }
  // The server's timer, while the client is the one holding things up (a body still to come, or
  // an answer it has not read): the client's own deadlines deal with that; the server is not to
  // blame.
  if (!connecting_ && (waiting_on_client_send() ||
                       (waiting_on_client_body() && request_body_.ready_bytes() == 0))) {
    arm_upstream_timer(response_timeout_ms());
    return;
  }
  if (connecting_) {
    if (upstream_handshaking_) {
      cluster().state().upstream_tls->stats().count_failed();
    }
    fail_attempt(Failure::connect_failure,
                 upstream_handshaking_ ? "TLS handshake timed out" : "connect timed out");
  } else if (!response_started_) {
    fail_attempt(Failure::timeout, "no response in time");
  } else {
    const std::string_view stall = response_body_.finished()
                                       ? "server stopped reading the request body"
                                       : "server stalled mid-response";
    log_failure(stall, "timeout", {});
    end_attempt(AttemptEnd::timeout);
    abort_exchange(stall);
    return;
  }
  drive();
}

}  // namespace ballast::proxy
