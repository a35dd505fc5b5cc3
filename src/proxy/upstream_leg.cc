#include "proxy/upstream_leg.h"

#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "core/clock.h"
#include "core/socket.h"
#include "edge/proxy_header_send.h"
#include "http/serializer.h"
#include "proxy/read_space.h"
#include "upstream/connection_pool.h"

namespace ballast::proxy {
namespace {

// Interim (1xx) responses a server may send before its final one. Each is passed on and resets
// the server's timer, so without a cap a server sending 103 after 103 would hold the request
// (and the client) forever. Real servers send one or two.
constexpr uint32_t kMaxInterimResponses = 16;

}  // namespace

void UpstreamLeg::begin_request(bool method_is_head, bool upgrade_requested) noexcept {
  method_is_head_ = method_is_head;
  upgrade_requested_ = upgrade_requested;
  stale_connection_retried_ = false;
  response_started_ = false;
  body_after_answer_ = false;
  tunnel_ = false;
}

void UpstreamLeg::start() noexcept {
  prefer_private_server();
  if (exchange_.start_attempt(now_ns()) == balance::kNoServer) {
    const FailureAnswer answer = exchange_.no_server_answer();
    owner_.answer_locally(answer.status, answer.reason);
    return;
  }
  if (exchange_.attempts_made() > 1 && !exchange_.traceparent().empty()) {
    http::replace_traceparent(request_head_.readable_in_place(), exchange_.traceparent());
  }
  switch (open(true)) {
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

// Connects the admitted attempt to its server: a pooled connection when one is idle, else a new
// one, which counts against max_pending_requests until it is established. On `failed` errno is
// set and the caller fails the attempt.
UpstreamLeg::Opened UpstreamLeg::open(bool allow_pooled) noexcept {
  head_sent_ = 0;
  handshaking_ = false;
  eof_ = false;
  hung_up_ = false;
  write_failed_ = false;
  response_bytes_seen_ = false;
  interim_responses_ = 0;
  response_parser_.reset();

  upstream::ConnectionPool& pool = home_pool();
  connection_ = allow_pooled ? pool.take() : nullptr;
  if (connection_ != nullptr) {
    connection_->attach(*this);
    connecting_ = false;
    // An idle pooled connection has nothing to read (anything arriving while idle closes it),
    // and edge-triggered epoll reports what the server sends next.
    readable_ = false;
    writable_ = true;
    arm_timer(cluster().config().response_timeout_ms());
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
  connection_ = new upstream::UpstreamConnection(host_.loop(), std::move(fd), pool);
  connection_->attach(*this);
  if (const tls::ClientContext* tls = cluster().state().upstream_tls.get();
      tls != nullptr &&
      !connection_->start_tls(*tls, cluster().server(exchange_.server()).config.sni())) {
    errno = ENOMEM;
    return Opened::failed;
  }
  if (!host_.loop().watch(raw_fd, *connection_)) {
    return Opened::failed;
  }
  connecting_ = true;
  readable_ = false;
  writable_ = false;
  arm_timer(cluster().config().timeouts.connect_ms);
  return Opened::yes;
}

// The pool a connection to the attempt's server comes from and goes back to: the worker's, or,
// for a cluster that sends the PROXY protocol, this client's own (HAProxy's private
// connections): a header speaks for one client, so its connection never serves another. That
// one keeps at most one idle connection, to the server of the client's last request.
upstream::ConnectionPool& UpstreamLeg::home_pool() {
  if (cluster().config().send_proxy_protocol == config::ProxyProtocolVersion::none) {
    return cluster().pool(exchange_.server());
  }
  const std::shared_ptr<upstream::ServerState>& server =
      cluster().state().servers[exchange_.server()];
  if (private_pool_ == nullptr || private_server_ != server) {
    private_pool_.reset();  // closes its idle connection, to another server
    const config::PoolConfig& settings = cluster().config().pool;
    private_pool_ = std::make_unique<upstream::ConnectionPool>(
        host_.loop(), std::min<uint32_t>(settings.idle_per_server, 1), settings.idle_timeout_ms);
    private_server_ = server;
  }
  private_cluster_ = &cluster();
  private_index_ = exchange_.server();
  return *private_pool_;
}

// With a private connection idle, the client's next request goes to that server when it can
// take it (HAProxy's prefer-last-server, which it applies to private connections): balancing
// each request of a keep-alive client across the servers would open a connection per request.
// The cluster must be the one that connection was made for, with the server where it was.
void UpstreamLeg::prefer_private_server() noexcept {
  if (private_pool_ == nullptr || private_pool_->idle_count() == 0 ||
      private_cluster_ != exchange_.cluster()) {
    return;
  }
  const auto& servers = private_cluster_->state().servers;
  if (private_index_ < servers.size() && servers[private_index_] == private_server_) {
    exchange_.prefer_server(private_index_);
  }
}

void UpstreamLeg::on_upstream_io(uint32_t events) noexcept {
  if (connection_ == nullptr) {
    return;
  }
  if (owner_.io_busy()) {
    deferred_events_ |= events;
    return;
  }
  if (connecting_ && !finish_connect(events)) {
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readable_ = true;
  }
  hung_up_ |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & EPOLLOUT) {
    writable_ = true;
  }
  if (const tls::TlsStream* tls = connection_->tls()) {
    readable_ |= (events & EPOLLOUT) != 0 && tls->wants_writable_to_read();
    writable_ |= (events & EPOLLIN) != 0 && tls->wants_readable_to_write();
  }
  owner_.drive();
}

void UpstreamLeg::replay_deferred_events() noexcept {
  if (const uint32_t events = std::exchange(deferred_events_, 0); events != 0) {
    on_upstream_io(events);
  }
}

// A timer re-armed while the owner's operation was queued is no longer due.
void UpstreamLeg::replay_deferred_timer() noexcept {
  if (std::exchange(timer_deferred_, false) && !timer_.armed()) {
    on_timer(timer_);
  }
}

// The TCP connect, then (upstream_tls) the TLS handshake; true once the connection is
// established, which is when the attempt counts as connected. Either failing is a connect
// failure, retried as one: nothing of the request has been sent. The connect timeout covers
// both, as nginx's proxy_connect_timeout does.
bool UpstreamLeg::finish_connect(uint32_t events) noexcept {
  if (!handshaking_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
      return false;
    }
    const int error = core::connect_error(connection_->fd());
    if (error != 0) {
      fail_attempt(Failure::connect_failure, std::strerror(error));
      owner_.drive();
      return false;
    }
    const ClientInfo& client = exchange_.client();
    if (const config::ProxyProtocolVersion version = cluster().config().send_proxy_protocol;
        version != config::ProxyProtocolVersion::none &&
        (client.address == nullptr ||
         !edge::send_proxy_header(connection_->fd(), version, *client.address, client.fd))) {
      fail_attempt(Failure::connect_failure, "PROXY protocol header not sent");
      owner_.drive();
      return false;
    }
    handshaking_ = connection_->tls() != nullptr;
  }
  if (handshaking_) {
    switch (connection_->tls()->handshake()) {
      case tls::TlsStream::Step::blocked:
        return false;
      case tls::TlsStream::Step::failed:
        return fail_handshake();
      case tls::TlsStream::Step::done:
        handshaking_ = false;
        cluster().state().upstream_tls->stats().count_done(connection_->tls()->resumed());
        break;
    }
  }
  connecting_ = false;
  // Writable: the connect's EPOLLOUT, or the socket that just took the handshake's last flight
  // (a send that finds it full hears EAGAIN).
  writable_ = true;
  exchange_.connected();
  arm_timer(cluster().config().response_timeout_ms());
  return true;
}

bool UpstreamLeg::fail_handshake() noexcept {
  cluster().state().upstream_tls->stats().count_failed();
  const std::string detail =
      "TLS handshake failed: " + std::string(connection_->tls()->failure_detail());
  fail_attempt(Failure::connect_failure, detail);
  owner_.drive();
  return false;
}

bool UpstreamLeg::request_written() const noexcept {
  return head_sent_ == request_head_.size() && owner_.request_body_finished();
}

// Whether the server answered a request that did not all reach it: it closed after an early
// answer (before the rest of the body was sent, or before it read what went after the answer),
// or the client stopped sending.
bool UpstreamLeg::request_cut_short() const noexcept {
  return !request_written() || (body_after_answer_ && (eof_ || write_failed_));
}

bool UpstreamLeg::write() noexcept {
  if (connection_ == nullptr || connecting_ || !writable_ || owner_.io_busy()) {
    return false;
  }
  const std::string_view head = request_head_.readable().substr(head_sent_);
  const std::string_view body = owner_.request_body();
  if (head.empty() && body.empty()) {
    return false;
  }
  if (connection_->tls() == nullptr && owner_.queue_upstream_send(connection_->fd(), head, body)) {
    return false;  // sent() follows, from the owner's on_io_done
  }
  const ssize_t result = connection_->send(head, body);
  return sent(result >= 0 ? result : -errno, head.size(), head.size() + body.size());
}

// The result of sending the request's next bytes (head_bytes of head, then body bytes) to the
// server, as sendmsg's.
bool UpstreamLeg::sent(ssize_t result, size_t head_bytes, size_t total_bytes) noexcept {
  if (result > 0) {
    const size_t total = static_cast<size_t>(result);
    // Short: the buffer is full (TLS takes at most a gathered record at a time: only its EAGAIN
    // says full).
    writable_ = connection_->tls() != nullptr || total == total_bytes;
    const size_t head_part = std::min(total, head_bytes);
    const size_t body_part = total - head_part;
    head_sent_ += head_part;
    owner_.request_body_sent(body_part);
    body_after_answer_ |= body_part != 0 && response_started_ && response_body_.finished();
    exchange_.request_reached_server(body_part != 0);
    cluster().stats(exchange_.server()).bytes_sent.add(total);
    arm_timer(cluster().config().response_timeout_ms());
    return true;
  }
  if (result == -EAGAIN) {
    writable_ = false;
    return false;
  }
  // The server closed while we were sending. It may have answered first (an early response to
  // an upload); read what it sent, and its close, before deciding.
  writable_ = false;
  write_failed_ = true;
  readable_ = true;
  return true;
}

bool UpstreamLeg::read() noexcept {
  return read_now(Io::batched);
}

bool UpstreamLeg::read_now(Io io) noexcept {
  if (connection_ == nullptr || connecting_ || !readable_ || eof_ || owner_.io_busy()) {
    return false;
  }
  const std::span<char> space = free_space(connection_->in());
  if (space.empty()) {
    return received(-ENOBUFS, false);
  }
  if (io == Io::batched && connection_->tls() == nullptr &&
      owner_.queue_upstream_read(connection_->fd(), space)) {
    return false;  // received() follows, from the owner's on_io_done
  }
  bool drained = false;
  const ssize_t result = connection_->receive(space.data(), space.size(), drained);
  return received(result >= 0 ? result : -errno, drained);
}

// The result of reading the server's next bytes into the connection's free space, as recv's.
bool UpstreamLeg::received(ssize_t result, bool drained) noexcept {
  if (result > 0) {
    connection_->in().commit(static_cast<size_t>(result));
    readable_ = !drained || hung_up_;
    response_bytes_seen_ = true;
    cluster().stats(exchange_.server()).bytes_received.add(static_cast<uint64_t>(result));
    arm_timer(cluster().config().response_timeout_ms());
    return true;
  }
  if (result == 0) {
    eof_ = true;
    return true;
  }
  if (result == -EAGAIN || result == -ENOBUFS) {
    readable_ = result != -EAGAIN;
    return false;
  }
  eof_ = true;  // reset: treated as an abrupt close
  return true;
}

bool UpstreamLeg::handle_response() noexcept {
  if (connection_ == nullptr) {
    return false;
  }
  if (!response_started_) {
    const bool progress = handle_head();
    if (!response_started_ || connection_ == nullptr || tunnel_) {
      return progress;  // no final head yet, the attempt ended, or a tunnel (the owner's now)
    }
    // Frame the body bytes that came with the head now, so head and body leave together.
  }
  core::ByteBuffer& in = connection_->in();
  const size_t before = response_body_.ready_bytes();
  if (!response_body_.frame(in.readable().substr(before))) {
    log_failure("bad response body", "reset", response_body_.error_reason());
    end_attempt(AttemptEnd::reset);
    owner_.abort("bad response body");
    return true;
  }
  const size_t skipped = response_body_.take_skipped();  // chunk framing a client is spared
  in.consume(skipped);
  if (response_body_.finished()) {
    // An early answer (before the whole request was sent) waits for the rest of the request to
    // reach the server, unless the server has closed: then the body was cut short.
    if (!request_written() && !eof_ && !write_failed_) {
      return skipped != 0;
    }
    if (body_after_answer_ && !eof_) {
      // The rest of the body went after the answer. A server that had closed by then (its FIN
      // waiting in the socket, its event not handled yet) never read it: one look tells.
      readable_ = true;
      read_now(Io::direct);  // its answer is needed now, before the connection is pooled
    }
    owner_.response_complete();
    return true;
  }
  if (eof_ && response_body_.ready_bytes() == 0) {
    if (response_body_.until_close()) {
      owner_.response_complete();
    } else {
      log_failure("server closed mid-response", "reset", {});
      end_attempt(AttemptEnd::reset);
      owner_.abort("server closed mid-response");
    }
    return true;
  }
  return skipped != 0 || response_body_.ready_bytes() != before;
}

bool UpstreamLeg::handle_head() noexcept {
  core::ByteBuffer& in = connection_->in();
  const http::ParseResult parsed =
      in.empty() ? http::ParseResult{}
                 : response_parser_.parse(in.readable(), method_is_head_, response_);
  if (parsed.status == http::ParseResult::incomplete) {
    if (eof_) {
      fail_attempt(Failure::reset,
                   response_bytes_seen_ ? "truncated response head" : "connection closed");
      return true;
    }
    if (in.full()) {
      if (in.capacity() >= kMaxHeadBufferBytes) {
        refuse_oversized();
        return true;
      }
      // A head past the usual buffer may grow it up to the parser's limit, which says when a
      // head is too large.
      in.grow(kMaxHeadBufferBytes);
      readable_ = true;
      return true;
    }
    return false;
  }
  if (parsed.status == http::ParseResult::error) {
    if (parsed.oversized) {
      refuse_oversized();
    } else {
      fail_attempt(Failure::bad_response, parsed.reason);
    }
    return true;
  }
  if (response_.status == 101) {
    if (!upgrade_requested_) {
      fail_attempt(Failure::bad_response, "101 to a request that did not ask to upgrade");
    } else {
      accept_upgrade();
    }
    return true;
  }
  if (response_.status >= 100 && response_.status < 200) {
    return handle_interim();
  }
  return handle_final_head();
}

// Interim (100 Continue and friends): the owner passes it on (or not, to an HTTP/1.0 client),
// and the final head is still to come.
bool UpstreamLeg::handle_interim() noexcept {
  if (++interim_responses_ > kMaxInterimResponses) {
    fail_attempt(Failure::bad_response, "too many interim (1xx) responses");
    return true;
  }
  if (!owner_.forward_interim(response_)) {
    refuse_oversized();
    return true;
  }
  connection_->in().consume(response_.head_bytes);
  response_parser_.reset();
  return true;
}

bool UpstreamLeg::handle_final_head() noexcept {
  if (exchange_.retry_after_status(response_.status)) {
    fail_attempt(Failure::server_error, "server error status");
    return true;
  }
  // Cookie affinity: tell the client its server, unless its cookie already named that one.
  const http::Header cookie{"Set-Cookie", exchange_.affinity_cookie()};
  BodyFramer::Coding coding = BodyFramer::Coding::as_received;
  if (!owner_.forward_response(response_,
                               cookie.value.empty() ? std::span<const http::Header>()
                                                    : std::span<const http::Header>(&cookie, 1),
                               coding)) {
    refuse_oversized();
    return true;
  }
  connection_->in().consume(response_.head_bytes);
  // The request's body need not be complete: it goes on to the server after an early answer.
  response_body_.start(response_.body_kind, response_.content_length, coding);
  response_started_ = true;
  exchange_.response_started();
  exchange_.answered(response_.status, now_ns());
  return true;
}

// The server agreed to switch protocols: its 101 goes to the client and the two connections
// become one tunnel. The attempt stays open (least connections still sees it) until the tunnel
// closes; its verdict, a success, is given now. Every byte from the server is then payload.
void UpstreamLeg::accept_upgrade() noexcept {
  if (!owner_.forward_upgrade(response_)) {
    refuse_oversized();
    return;
  }
  connection_->in().consume(response_.head_bytes);
  response_started_ = true;
  tunnel_ = true;
  exchange_.response_started();
  timer_.cancel();
  response_body_.start(http::BodyKind::until_close, 0);
  cluster().cluster_stats().tunnels_opened.add();
  exchange_.answered(101, now_ns());
}

bool UpstreamLeg::frame_tunnel() noexcept {
  const size_t before = response_body_.ready_bytes();
  response_body_.frame(connection_->in().readable().substr(before));
  return response_body_.ready_bytes() != before;
}

// A head over the limit is refused as nginx and HAProxy do (502), but counted apart: a server
// that sends large headers is not failing, and must not be ejected for it.
void UpstreamLeg::refuse_oversized() noexcept {
  cluster().cluster_stats().oversized_responses.add();
  log_failure("response head too large", {}, "over 64 KiB");
  end_attempt(AttemptEnd::cancelled);
  owner_.answer_locally(502, "response head too large");
}

std::string_view UpstreamLeg::response_body() noexcept {
  if (!response_started_ || connection_ == nullptr) {
    return {};
  }
  return connection_->in().readable().substr(0, response_body_.ready_bytes());
}

void UpstreamLeg::response_body_sent(size_t bytes) noexcept {
  if (bytes != 0) {
    connection_->in().consume(bytes);
    response_body_.forwarded(bytes);
  }
}

void UpstreamLeg::fail_attempt(Failure failure, std::string_view detail) noexcept {
  if (retry_on_fresh_connection(failure)) {
    return;
  }
  log_failure("upstream attempt failed", failure_name(failure), detail);
  timer_.cancel();
  if (connection_ != nullptr) {
    connection_->close();
    connection_ = nullptr;
  }
  if (exchange_.attempt_failed(failure, now_ns())) {
    start();
    return;
  }
  const FailureAnswer answer = exchange_.failure_answer();
  owner_.answer_locally(answer.status, answer.reason);
}

// A pooled connection the server had closed before we used it: not the server's failure. The
// attempt keeps its server, slot and permit, on a fresh connection — once, and only if the
// request may be sent again (the server may have read it before the reset). True when that
// took the failure over.
bool UpstreamLeg::retry_on_fresh_connection(Failure failure) noexcept {
  const bool stale_reuse = connection_ != nullptr && connection_->reused() &&
                           !response_bytes_seen_ && failure == Failure::reset &&
                           !exchange_.body_streamed() && exchange_.may_send_again() &&
                           !stale_connection_retried_;
  if (!stale_reuse) {
    return false;
  }
  stale_connection_retried_ = true;
  timer_.cancel();
  connection_->close();
  connection_ = nullptr;
  switch (open(false)) {
    case Opened::yes:
      return true;
    case Opened::overflow:
      exchange_.cancel_attempt(now_ns());  // a limit of ours, not the server's failure
      owner_.answer_locally(503, "too many requests waiting for a server");
      return true;
    case Opened::failed:
      fail_attempt(Failure::connect_failure, std::strerror(errno));
      return true;
  }
  return true;
}

void UpstreamLeg::end_attempt(AttemptEnd end) noexcept {
  exchange_.end_attempt(end, now_ns());
  timer_.cancel();
  if (connection_ != nullptr) {
    connection_->close();
    connection_ = nullptr;
  }
}

void UpstreamLeg::complete() noexcept {
  // Still readable: the socket may hold more bytes or the server's FIN (one segment can bring
  // a bodiless response and the FIN), whose edge came while the connection was ours; idle, it
  // would hear of them no more, and the next request would.
  const bool reusable = response_.keep_alive && !response_body_.until_close() && !eof_ &&
                        !write_failed_ && !readable_ && connection_->in().empty() &&
                        request_written();
  upstream::UpstreamConnection* connection = std::exchange(connection_, nullptr);
  end_attempt(AttemptEnd::success);  // its verdict came with the response head
  if (reusable) {
    connection->home().give_back(*connection);
  } else {
    connection->close();
  }
  response_started_ = false;
}

void UpstreamLeg::arm_timer(uint64_t timeout_ms) noexcept {
  timer_.arm(host_.loop().timers(), now_ns() + timeout_ms * core::kNsPerMs);
}

void UpstreamLeg::on_timer(core::Timer& /*timer*/) noexcept {
  if (owner_.io_busy()) {
    timer_deferred_ = true;  // replayed by the owner after its operation
    return;
  }
  // While the client is the one holding things up, the client's own deadlines deal with it; the
  // server is not to blame.
  if (!connecting_ && owner_.client_holds_up()) {
    arm_timer(cluster().config().response_timeout_ms());
    return;
  }
  if (connecting_) {
    if (handshaking_) {
      cluster().state().upstream_tls->stats().count_failed();
    }
    fail_attempt(Failure::connect_failure,
                 handshaking_ ? "TLS handshake timed out" : "connect timed out");
  } else if (!response_started_) {
    fail_attempt(Failure::timeout, "no response in time");
  } else {
    const std::string_view stall = response_body_.finished()
                                       ? "server stopped reading the request body"
                                       : "server stalled mid-response";
    log_failure(stall, "timeout", {});
    end_attempt(AttemptEnd::timeout);
    owner_.abort(stall);
    return;
  }
  owner_.drive();
}

}  // namespace ballast::proxy
