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
#include "proxy/http2_session.h"
#include "proxy/read_space.h"

namespace ballast::proxy {
namespace {

using config::LogLevel;

// How much one drive() may move before it yields to the loop's other connections.
constexpr int kMaxRoundsPerDrive = 32;

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
      peer_(peer),
      client_ip_(core::ip_text(peer)),
      peer_trusted_(is_trusted(generation.shared->config->forwarding, peer)),
      h2c_possible_(listener.h2c && tls == nullptr),
      exchange_(host.telemetry(),
                ClientInfo{client_ip_.view(), peer_trusted_, {}, {}, {}, &peer_, client_.get()}) {
  const std::string port = std::to_string(listener.listen.port);
  listen_port_length_ = port.copy(listen_port_.data(), listen_port_.size());
  exchange_.set_protocol(observe::ClientProtocol::http11);  // until a request says otherwise
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
      if (tls_->alpn() == "h2") {
        hand_over_to_http2();
        return false;
      }
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

// h2c by prior knowledge (RFC 9113 §3.3): a connection whose first bytes are the HTTP/2
// preface speaks HTTP/2. `maybe` while the bytes so far are the preface's beginning.
HttpSession::Preface HttpSession::h2c_preface() noexcept {
  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  if (!h2c_possible_) {
    return Preface::no;
  }
  const std::string_view received = client_in_.readable();
  const size_t compared = std::min(received.size(), kPreface.size());
  if (received.substr(0, compared) != kPreface.substr(0, compared)) {
    h2c_possible_ = false;
    return Preface::no;
  }
  if (compared == kPreface.size()) {
    return Preface::yes;
  }
  return client_eof_ ? Preface::no : Preface::maybe;
}

// The connection goes on as an Http2Session, with what has been read and the TLS stream (if
// any); this session ends without a request to count.
void HttpSession::hand_over_to_http2() noexcept {
  host_.loop().unwatch(client_.get());
  Http2Session* next;
  try {
    next = new Http2Session(host_, generation_, listener_, std::move(client_), std::move(tls_),
                            peer_, peer_trusted_, client_in_.readable());
  } catch (const std::bad_alloc&) {
    close();
    return;
  }
  next->ticket = std::exchange(ticket, {});
  host_.adopt(*next);
  client_in_.clear();
  close();
  if (!next->start()) {
    next->close_now();
  }
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
      upstream_.received(result, drained);
      break;
    case QueuedOp::upstream_send:
      upstream_.sent(result, queued_head_bytes_, queued_bytes_);
      break;
  }
  replay_deferred();
  drive();
}

// What came while the send was queued, server side first: the client's events may start the
// next request on another connection. A timer re-armed meanwhile is no longer due.
void HttpSession::replay_deferred() noexcept {
  upstream_.replay_deferred_events();
  if (const uint32_t events = std::exchange(deferred_client_events_, 0); events != 0) {
    on_io(events);
  }
  upstream_.replay_deferred_timer();
  if (std::exchange(client_timer_deferred_, false) && !client_timer_.armed()) {
    on_client_timer();
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
      const Preface preface = h2c_preface();
      if (preface == Preface::yes) {
        hand_over_to_http2();
        return;
      }
      if (preface == Preface::no) {
        progress |= start_request();
      }
    }
    if (phase_ == Phase::proxying) {
      progress |= frame_request_body();
      progress |= upstream_.write();
      if (queued()) {
        return;
      }
      progress |= upstream_.read();
      if (queued()) {
        return;
      }
      progress |= upstream_.handle_response();
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
  h2c_possible_ = false;
  request_active_ = true;
  request_bytes_ = parsed.status == http::ParseResult::error ? 0 : request_.head_bytes;
  response_bytes_ = 0;
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
  exchange_.set_protocol(client_http10_ ? observe::ClientProtocol::http10
                                        : observe::ClientProtocol::http11);
  if (listener_.redirect_to_https) {
    redirect_to_https();
    return true;
  }
  switch (exchange_.route(generation_, listener_, request_)) {
    case Exchange::Routed::none:
      client_in_.consume(request_.head_bytes);
      request_parser_.reset();
      // The body (if any) was not read, so the connection cannot carry on.
      respond_locally(404, "no route for this host and path");
      return true;
    case Exchange::Routed::redirect:
      redirect_by_route();
      return true;
    case Exchange::Routed::limited:
      refuse_over_rate_limit();
      return true;
    case Exchange::Routed::cluster:
      break;
  }
  if (exchange_.cluster()->config().protocol != config::UpstreamProtocol::http1) {
    // HTTP/1.1 requests are not translated to HTTP/2 servers (docs/config.md "HTTP/2 to
    // servers"); the client is told which version to use. The body was not read.
    client_in_.consume(request_.head_bytes);
    request_parser_.reset();
    respond_locally(505, "this route's servers are reached over HTTP/2 only: use HTTP/2");
    return true;
  }
  upstream_.begin_request(request_.method == "HEAD", !request_.upgrade.empty());
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
  if (!exchange_.admit(now_ns())) {
    respond_locally(503, "too many requests to this cluster");
    return true;
  }
  upstream_.start();
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
  exchange_.edit_upstream_request(request_, forward.scheme, forward);
  core::ByteBuffer& upstream_head = upstream_.request_head();
  upstream_head.clear();
  size_t written = http::write_upstream_request(request_, forward, upstream_head.writable());
  if (written == 0) {
    // The bound serializer.h gives: the head, three more copies of the host, the strings.
    const size_t host = request_.has_host ? request_.host.size() : forward.host_if_absent.size();
    upstream_head.grow(request_.head_bytes + 3 * host + 3 * forward.client_ip.size() +
                       forward.port.size() + forward.traceparent.size() +
                       forward.request_id.size() + forward.client_cert_subject.size() +
                       forward.client_cert_fingerprint.size() + 4 * request_.headers.count +
                       forward.rewrite_to.size() + http::edits_length(forward.edits) +
                       http::kSerializeSlackBytes);
    written = http::write_upstream_request(request_, forward, upstream_head.writable());
  }
  upstream_head.commit(written);
  const std::string_view head = upstream_head.readable();
  const size_t method_end = head.find(' ');
  const size_t target_end = head.find(' ', method_end + 1);
  exchange_.set_request_line(head.substr(0, method_end),
                             head.substr(method_end + 1, target_end - method_end - 1));
}

bool HttpSession::frame_request_body() noexcept {
  if (request_body_.complete()) {
    return false;
  }
  const size_t before = request_body_.ready_bytes();
  if (!request_body_.frame(client_in_.readable().substr(before))) {
    observe::log_event(LogLevel::info, "rejected request body",
                       {{"client", client_ip_.view()}, {"reason", request_body_.error_reason()}});
    if (!upstream_.response_started()) {
      if (upstream_.has_connection()) {
        upstream_.end_attempt(AttemptEnd::cancelled);  // the client's fault, not the server's
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

// One round of the tunnel: frames whatever arrived (everything is payload), writes it on, and
// passes each side's close to the other once what it sent before has been written.
bool HttpSession::pump_tunnel() noexcept {
  bool progress = upstream_.read();
  if (queued()) {
    return progress;
  }
  const size_t to_server = request_body_.ready_bytes();
  request_body_.frame(client_in_.readable().substr(to_server));
  progress |= request_body_.ready_bytes() != to_server;
  progress |= upstream_.frame_tunnel();
  progress |= upstream_.write();
  if (queued()) {
    return progress;
  }
  if ((upstream_.write_failed() || (upstream_.eof() && !upstream_.writable())) &&
      request_body_.ready_bytes() != 0 && !upstream_shut_) {
    abort_exchange("server closed the tunnel");  // a write failed: the server is gone
    return true;
  }
  if (client_eof_ && request_body_.ready_bytes() == 0 && !upstream_shut_) {
    upstream_.shut_write();
    upstream_shut_ = true;
    progress = true;
  }
  if (upstream_.eof() && upstream_.response_ready_bytes() == 0 && client_out_.empty() &&
      !client_shut_) {
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
  const std::string_view body = upstream_.response_body();
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
    upstream_.response_body_sent(body_part);
    return true;
  }
  if (result == -EAGAIN) {
    client_writable_ = false;
    return false;
  }
  abort_exchange("client went away");
  return true;
}

bool HttpSession::queue_upstream_send(int fd, std::string_view head,
                                      std::string_view body) noexcept {
  return queue_send(QueuedOp::upstream_send, fd, head, body);
}

bool HttpSession::queue_upstream_read(int fd, std::span<char> space) noexcept {
  return queue_read(QueuedOp::upstream_read, fd, space);
}

// The body bytes framed so far (chunked framing as received), at client_in_'s front.
std::string_view HttpSession::request_body() const noexcept {
  return client_in_.readable().substr(0, request_body_.ready_bytes());
}

void HttpSession::request_body_sent(size_t bytes) noexcept {
  client_in_.consume(bytes);
  request_body_.forwarded(bytes);
  request_bytes_ += bytes;
}

bool HttpSession::client_holds_up() const noexcept {
  return waiting_on_client_send() || (waiting_on_client_body() && request_body_.ready_bytes() == 0);
}

// Interim (100 Continue and friends) go on, but never to an HTTP/1.0 client (RFC 9110 §15.2).
bool HttpSession::forward_interim(const http::ResponseHead& head) noexcept {
  return client_http10_ || write_response_head(head, http::ClientDelivery::keep_alive, {});
}

// A connection of a retired generation closes after this response, so its client's next
// request follows the new configuration (and the health its checks now publish). An HTTP/1.0
// client gets a chunked body de-chunked, delimited by the close (as nginx does).
bool HttpSession::forward_response(const http::ResponseHead& head,
                                   std::span<const http::Header> extra,
                                   BodyFramer::Coding& coding) noexcept {
  const bool dechunk = client_http10_ && head.chunked;
  client_keep_alive_ = request_keep_alive_ && !host_.draining() && generation_.retired_at_ns == 0 &&
                       head.body_kind != http::BodyKind::until_close && !dechunk;
  const http::ClientDelivery delivery = dechunk              ? http::ClientDelivery::dechunked
                                        : client_keep_alive_ ? http::ClientDelivery::keep_alive
                                                             : http::ClientDelivery::close;
  coding = dechunk ? BodyFramer::Coding::dechunked : BodyFramer::Coding::as_received;
  return write_response_head(head, delivery, extra);
}

// The server agreed to switch protocols: the two connections become one tunnel, whose bytes
// are all payload both ways until each side has closed.
bool HttpSession::forward_upgrade(const http::ResponseHead& head) noexcept {
  if (!write_response_head(head, http::ClientDelivery::close, {})) {
    return false;
  }
  phase_ = Phase::tunnel;
  request_body_.start(http::BodyKind::until_close, 0);
  return true;
}

// Writes the response head for the client behind what client_out_ holds, growing the buffer
// for a head larger than usual (up to the parser's 64 KiB and what ballast adds). False when
// even that does not fit.
bool HttpSession::write_response_head(const http::ResponseHead& head, http::ClientDelivery delivery,
                                      std::span<const http::Header> extra) noexcept {
  const http::HeadEdits edits = exchange_.response_edits(tls_ != nullptr ? "https" : "http");
  size_t written =
      http::write_client_response(head, delivery, extra, edits, client_out_.writable());
  if (written == 0) {
    size_t extra_bytes = 0;
    for (const http::Header& field : extra) {
      extra_bytes += field.name.size() + field.value.size() + 4;
    }
    client_out_.grow(client_out_.size() + head.head_bytes + extra_bytes + 4 * head.headers.count +
                     http::edits_length(edits) + http::kSerializeSlackBytes);
    written = http::write_client_response(head, delivery, extra, edits, client_out_.writable());
  }
  if (written == 0) {
    return false;
  }
  client_out_.commit(written);
  return true;
}

// The response went to the client whole (or is queued for it), and the request reached the
// server (or was cut short): counted, the server's connection pooled or closed, and the client's
// connection ready for its next request — or closing.
void HttpSession::response_complete() noexcept {
  const bool cut_short = upstream_.request_cut_short();
  finish_exchange(upstream_.response().status, exchange_.server());
  upstream_.complete();
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
  exchange_.release_cluster();
  idle_since_ns_ = now_ns();
  head_started_ns_ = client_in_.empty() ? 0 : idle_since_ns_;  // a pipelined head has begun
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
  const bool cut_short =
      server != balance::kNoServer && phase_ != Phase::tunnel && upstream_.request_cut_short();
  exchange_.finish({status, server, request_bytes_, response_bytes_ + queued, cut_short}, now_ns());
}

void HttpSession::respond_locally(uint16_t status, std::string_view reason,
                                  std::span<const http::Header> extra) noexcept {
  if (upstream_.response_started()) {
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
  upstream_.stop_timer();
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
  exchange_.count_redirect();
  exchange_.set_request_line(request_.method, request_.target);  // read before the head goes
  client_in_.consume(request_.head_bytes);
  request_parser_.reset();
  respond_locally(safe ? 301 : 308, safe ? "moved to https" : "use https",
                  std::span<const http::Header>(&location, 1));
}

// A redirect route: its status, and its Location with the request's values put in.
void HttpSession::redirect_by_route() noexcept {
  const config::RedirectConfig& redirect = exchange_.route_config().redirect;
  exchange_.redirect_location(request_, tls_ != nullptr ? "https" : "http", redirect_location_);
  const http::Header location{"Location", redirect_location_};
  exchange_.count_redirect();
  exchange_.set_request_line(request_.method, request_.target);  // read before the head goes
  client_in_.consume(request_.head_bytes);
  request_parser_.reset();
  respond_locally(redirect.status, "moved", std::span<const http::Header>(&location, 1));
}

// A rate limit refused the request: 429 with Retry-After and the RateLimit fields.
void HttpSession::refuse_over_rate_limit() noexcept {
  exchange_.set_request_line(request_.method, request_.target);  // read before the head goes
  client_in_.consume(request_.head_bytes);
  request_parser_.reset();
  respond_locally(429, "too many requests", exchange_.rate_limit_fields());
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

// An idle keep-alive connection closes at once, unless the drain gives it a grace
// (Worker::drain): its client may be sending its next request as we close, and would see the
// connection reset. Within the grace, counted from its last response, a request is answered with
// `Connection: close`; an idle one closes at its end.
void HttpSession::begin_drain() noexcept {
  if (phase_ == Phase::reading_head && client_in_.empty()) {
    if (host_.drain_idle_grace_ms() == 0) {
      close();
    } else {
      update_client_timer();
    }
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
  const bool started = upstream_.response_started();
  finish_exchange(started ? upstream_.response().status : 499,
                  started ? exchange_.server() : balance::kNoServer);
  if (tunnel) {
    cluster().cluster_stats().tunnels_closed.add();
  }
  if (exchange_.server() != balance::kNoServer) {
    // Cut short on our side, not the server's; a tunnel's end is its attempt's (successful) end.
    upstream_.end_attempt(tunnel ? AttemptEnd::success : AttemptEnd::cancelled);
  }
  client_timer_.cancel();
  upstream_.stop_timer();
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
  return !client_writable_ && (!client_out_.empty() || (upstream_.response_started() &&
                                                        upstream_.response_ready_bytes() != 0));
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
      return after(idle_since_ns_, host_.draining()
                                       ? std::min(timeouts.keepalive(), host_.drain_idle_grace_ms())
                                       : timeouts.keepalive());
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
      phase_ == Phase::proxying && !waiting_on_client_send() && !upstream_.response_started();
  if (head_due) {
    exchange_.begin(head_started_ns_);  // the access log measures from the head's first byte
    request_active_ = true;
    request_bytes_ = client_in_.size();
    response_bytes_ = 0;
    respond_locally(408, "request head not received in time");
    drive();
  } else if (body_due) {
    upstream_.end_attempt(AttemptEnd::cancelled);  // the client's delay, not the server's
    respond_locally(408, "request body not received in time");
    drive();
  } else {
    // Idle keep-alive, an unread answer, an idle tunnel: nothing more can be said to the client.
    abort_exchange(phase_ == Phase::tunnel ? "tunnel idle" : "client timed out");
  }
}

void HttpSession::on_timer(core::Timer& /*timer*/) noexcept {
  if (closed_) {
    return;
  }
  if (queued()) {
    client_timer_deferred_ = true;  // replayed by on_io_done
    return;
  }
  on_client_timer();
}

}  // namespace ballast::proxy
