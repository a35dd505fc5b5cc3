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
#include "proxy/router.h"
#include "upstream/connection_pool.h"

namespace ballast::proxy {
namespace {

using config::LogLevel;

// How much one drive() may move before it yields to the loop's other connections.
constexpr int kMaxRoundsPerDrive = 32;

bool is_idempotent(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

uint8_t retry_flag(config::RetryOn on) noexcept {
  return static_cast<uint8_t>(on);
}

// A request with a partly read head larger than the usual buffer may grow it to the limit.
constexpr size_t kMaxHeadBufferBytes = 64 * 1024 + 1024;

// One recv into the buffer's free space: bytes read, 0 on EOF, -1 with errno (ENOBUFS when the
// buffer is full). `drained` is set when the read came up short of the space: the socket had
// no more, and edge-triggered epoll reports the next arrival, so no second recv is needed to
// hear EAGAIN (nginx saves the same call) — unless the peer has hung up, whose EOF raises no
// further edge and must still be read.
ssize_t receive_into(int fd, core::ByteBuffer& buffer, bool& drained) noexcept {
  if (buffer.writable().empty()) {
    buffer.compact();
  }
  const std::span<char> space = buffer.writable();
  if (space.empty()) {
    errno = ENOBUFS;
    return -1;
  }
  const ssize_t received = recv(fd, space.data(), space.size(), 0);
  if (received > 0) {
    buffer.commit(static_cast<size_t>(received));
    drained = static_cast<size_t>(received) < space.size();
  }
  return received;
}

// Sends a head and the body bytes after it in one call (sendmsg gathers both buffers), so a
// small response leaves as one segment and costs one syscall, with no copy.
ssize_t send_gathered(int fd, std::string_view head, std::string_view body) noexcept {
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
  msghdr message{};
  message.msg_iov = head.empty() ? parts + 1 : parts;
  message.msg_iovlen = head.empty() || body.empty() ? 1 : 2;
  return sendmsg(fd, &message, MSG_NOSIGNAL);
}

// The value of cookie `name` in the request's Cookie header ("a=1; b=2"), or empty.
std::string_view cookie_value(const http::HeaderFields& headers, std::string_view name) noexcept {
  const http::Header* cookie = headers.find("Cookie");
  std::string_view rest = cookie == nullptr ? std::string_view{} : cookie->value;
  while (!rest.empty()) {
    const size_t end = rest.find(';');
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') {
      pair.remove_prefix(1);
    }
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
  }
  return {};
}

// A request id of 32 hex digits (128 random bits), as nginx's $request_id.
size_t write_request_id(core::Random& random, std::span<char> out) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t length = 0;
  for (int word = 0; word < 2; ++word) {
    uint64_t bits = random.next();
    for (int digit = 0; digit < 16; ++digit, bits >>= 4) {
      out[length++] = kHex[bits & 0xF];
    }
  }
  return length;
}

// A peer's request id is kept only if it is a short run of visible characters: it goes into
// logs and spans as it is.
bool is_usable_request_id(std::string_view id, size_t max_bytes) noexcept {
  if (id.empty() || id.size() > max_bytes) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7F && c != '"'; });
}

// Failure's enumerators in order: connect_failure, reset, timeout, server_error, bad_response.
AttemptEnd attempt_end_of(uint8_t failure) noexcept {
  constexpr AttemptEnd kEnds[] = {AttemptEnd::connect_failure, AttemptEnd::reset,
                                  AttemptEnd::timeout, AttemptEnd::server_error, AttemptEnd::reset};
  return kEnds[failure];
}

std::string_view failure_name(uint8_t kind) noexcept {
  switch (kind) {
    case 0:
      return "connect_failure";
    case 1:
      return "reset";
    case 2:
      return "timeout";
    case 3:
      return "5xx";
    default:
      return "bad_response";
  }
}

}  // namespace

HttpSession::HttpSession(SessionHost& host, WorkerGeneration& generation,
                         const config::ListenerConfig& listener, core::FileDescriptor client,
                         const core::SocketAddress& peer)
    : Session(host, generation),
      listener_(listener),
      client_(std::move(client)),
      client_ip_(core::ip_text(peer)) {
  for (const core::AddressRange& range : generation.shared->config->forwarding.trusted_proxies) {
    peer_trusted_ |= core::contains(range, peer);
  }
  const std::string port = std::to_string(listener.listen.port);
  listen_port_length_ = port.copy(listen_port_.data(), listen_port_.size());
}

HttpSession::~HttpSession() = default;

bool HttpSession::start() noexcept {
  core::set_no_delay(client_.get());
  if (!host_.loop().watch(client_.get(), *this)) {
    return false;
  }
  // The first request's head is due within client_header of the connection's start: a client
  // that connects and sends nothing is a slowloris too.
  head_started_ns_ = host_.loop().now_ns();
  update_client_timer();
  return true;
}

void HttpSession::on_io(uint32_t events) noexcept {
  if (closed_) {
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    client_readable_ = true;
  }
  client_hung_up_ |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    client_writable_ = true;
  }
  drive();
}

void HttpSession::on_upstream_io(uint32_t events) noexcept {
  if (closed_ || upstream_ == nullptr) {
    return;
  }
  if (connecting_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    const int error = core::connect_error(upstream_->fd());
    if (error != 0) {
      fail_attempt(Failure::connect_failure, std::strerror(error));
      drive();
      return;
    }
    connecting_ = false;
    if (attempt_.pending) {
      cluster_->health().pending.remove();
      attempt_.pending = false;
    }
    arm_upstream_timer(response_timeout_ms());
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    upstream_readable_ = true;
  }
  upstream_hung_up_ |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & EPOLLOUT) {
    upstream_writable_ = true;
  }
  drive();
}

void HttpSession::drive() noexcept {
  drive_rounds();
  if (!closed_) {
    update_client_timer();
  }
}

void HttpSession::drive_rounds() noexcept {
  for (int round = 0; round < kMaxRoundsPerDrive && !closed_; ++round) {
    bool progress = read_client();
    if (closed_) {
      return;  // the client's socket failed: no request may start on a closed session
    }
    // A response still waiting for the client holds the next request back: a client that is
    // not reading gets no more answers queued, and each head has the whole buffer to fit in.
    if (phase_ == Phase::reading_head && client_out_.empty()) {
      progress |= start_request();
    }
    if (phase_ == Phase::proxying) {
      progress |= frame_request_body();
      progress |= write_upstream();
      progress |= read_upstream();
      progress |= handle_response();
    }
    if (phase_ == Phase::tunnel) {
      progress |= pump_tunnel();
      if (closed_) {
        return;
      }
    }
    progress |= write_client();
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
  if (!client_readable_ || client_eof_ || phase_ == Phase::closing) {
    return false;
  }
  if (client_in_.writable().empty() && client_in_.full()) {
    if (phase_ != Phase::reading_head || client_in_.capacity() >= kMaxHeadBufferBytes) {
      return false;  // back-pressure: the server has not taken what we hold
    }
    client_in_.grow(kMaxHeadBufferBytes);
  }
  bool drained = false;
  const ssize_t received = receive_into(client_.get(), client_in_, drained);
  if (received > 0) {
    client_readable_ = !drained || client_hung_up_;  // a hang-up's EOF is still to be read
    client_read_ns_ = host_.loop().now_ns();
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
  if (errno == EAGAIN || errno == ENOBUFS) {
    client_readable_ = errno != EAGAIN;
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
  request_line_ready_ = false;
  trace_.sampled = false;
  const http::ParseResult parsed = request_parser_.parse(client_in_.readable(), request_);
  if (parsed.status == http::ParseResult::incomplete) {
    if (client_eof_) {
      close();  // the client gave up mid-head
    }
    return false;
  }
  // A new request: nothing of the previous one's is counted again.
  cluster_ = nullptr;
  request_counted_ = false;
  request_started_ns_ = host_.loop().now_ns();
  request_bytes_ = parsed.status == http::ParseResult::error ? 0 : request_.head_bytes;
  response_bytes_ = 0;
  attempts_made_ = 0;
  if (parsed.status == http::ParseResult::error) {
    observe::log_event(LogLevel::info, "rejected request",
                       {{"client", client_ip_.view()}, {"reason", parsed.reason}});
    respond_locally(parsed.error_status, parsed.reason);
    return true;
  }
  head_started_ns_ = 0;
  if (!prepare_target()) {
    return true;
  }

  const config::RouteConfig* route = find_route(listener_, request_.host, request_.target);
  const size_t cluster_index = route == nullptr ? generation_.clusters.size()
                                                : generation_.shared->cluster_index(route->cluster);
  if (cluster_index >= generation_.clusters.size()) {
    client_in_.consume(request_.head_bytes);
    request_parser_.reset();
    // The body (if any) was not read, so the connection cannot carry on.
    respond_locally(404, "no route for this host and path");
    return true;
  }
  cluster_ = generation_.clusters[cluster_index].get();

  method_is_head_ = request_.method == "HEAD";
  request_replayable_ = is_idempotent(request_.method) || cluster_->config().retry.non_idempotent ||
                        request_.headers.find("Idempotency-Key") != nullptr;
  upgrade_requested_ = !request_.upgrade.empty();
  request_keep_alive_ = request_.keep_alive;
  set_hash_key(request_);
  set_affinity(request_);
  set_request_id(request_);
  write_upstream_head(host_.telemetry().tracing() ? begin_trace(request_) : std::string_view{});

  request_body_.start(request_.body_kind, request_.content_length);
  client_in_.consume(request_.head_bytes);
  // The client waits for a go-ahead before sending the body. The body streams to the server as
  // it comes, so the proxy gives it (as nginx does) and does not pass Expect on.
  if (request_.expect_continue && !request_body_.complete() && client_in_.empty()) {
    client_out_.append("HTTP/1.1 100 Continue\r\n\r\n");
  }
  request_parser_.reset();

  phase_ = Phase::proxying;
  request_active_ = true;
  request_body_bytes_sent_ = 0;
  excluded_ = {};
  attempts_made_ = 0;
  stale_connection_retried_ = false;
  response_started_ = false;
  ++cluster_->retry_budget().active_requests;
  if (request_body_.complete()) {
    client_timer_.cancel();
  }
  if (!cluster_->health().requests.try_add()) {
    if (cluster_->should_log(host_.loop().now_ns())) {
      observe::log_event(LogLevel::warn, "cluster at max_requests",
                         {{"cluster", cluster_->config().name}, {"client", client_ip_.view()}});
    }
    respond_locally(503, "too many requests to this cluster");
    return true;
  }
  holds_request_limit_ = true;
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
  const size_t offset = static_cast<size_t>(request_.target.data() - client_in_.readable().data());
  const std::span<char> target =
      client_in_.readable_in_place().subspan(offset, request_.target.size());
  const http::TargetError error = http::normalize_request_target(target, request_);
  return error.status == 0 || refuse(error.status, error.reason);
}

// The head sent to the server, kept for retries. It carries the forwarding fields (who the
// client is, as far as this hop can vouch) and the request's id.
void HttpSession::write_upstream_head(std::string_view traceparent) noexcept {
  const config::ForwardingConfig& forwarding = generation_.shared->config->forwarding;
  http::ForwardContext forward;
  forward.client_ip = client_ip_.view();
  forward.scheme = "http";
  forward.host_if_absent = listener_.listen.host;
  forward.port = {listen_port_.data(), listen_port_length_};
  forward.traceparent = traceparent;
  forward.request_id = {request_id_.data(), request_id_length_};
  forward.trusted_peer = peer_trusted_;
  forward.forwarded = forwarding.forwarded;
  upstream_request_.clear();
  size_t written = http::write_upstream_request(request_, forward, upstream_request_.writable());
  if (written == 0) {
    // The bound serializer.h gives: the head, three more copies of the host, the strings.
    const size_t host = request_.has_host ? request_.host.size() : forward.host_if_absent.size();
    upstream_request_.grow(request_.head_bytes + 3 * host + 3 * forward.client_ip.size() +
                           forward.port.size() + forward.traceparent.size() +
                           forward.request_id.size() + 4 * request_.headers.count +
                           http::kSerializeSlackBytes);
    written = http::write_upstream_request(request_, forward, upstream_request_.writable());
  }
  upstream_request_.commit(written);
  request_line_ready_ = true;
}

// X-Request-Id: a trusted peer's is kept, so one id follows the request through every hop;
// anyone else's is replaced, so a client cannot forge the id a server logs.
void HttpSession::set_request_id(const http::RequestHead& request) noexcept {
  const http::Header* given = peer_trusted_ ? request.headers.find("X-Request-Id") : nullptr;
  if (given != nullptr && is_usable_request_id(given->value, request_id_.size())) {
    request_id_length_ = given->value.copy(request_id_.data(), request_id_.size());
    return;
  }
  request_id_length_ = write_request_id(host_.telemetry().random, request_id_);
}

void HttpSession::set_affinity(const http::RequestHead& request) noexcept {
  const config::SessionAffinityConfig& affinity = cluster_->config().session_affinity;
  affinity_server_ =
      affinity.enabled && affinity.method == config::AffinityMethod::cookie
          ? cluster_->server_by_affinity_id(cookie_value(request.headers, affinity.cookie_name))
          : balance::kNoServer;
}

void HttpSession::set_hash_key(const http::RequestHead& request) noexcept {
  const config::ClusterConfig& cluster = cluster_->config();
  std::string_view key = client_ip_.view();
  if (cluster.algorithm != balance::Algorithm::ip_hash) {
    switch (cluster.hash_key.on) {
      case config::HashOn::client_ip:
        break;
      case config::HashOn::path:
        key = request.target.substr(0, request.target.find('?'));
        break;
      case config::HashOn::header: {
        const http::Header* header = request.headers.find(cluster.hash_key.name);
        key = header == nullptr ? std::string_view{} : header->value;
        break;
      }
      case config::HashOn::cookie:
        key = cookie_value(request.headers, cluster.hash_key.name);
        break;
    }
  }
  hash_key_length_ = std::min(key.size(), hash_key_storage_.size());
  std::memcpy(hash_key_storage_.data(), key.data(), hash_key_length_);
}

void HttpSession::start_attempt() noexcept {
  balance::PickContext ctx;
  ctx.now_ns = host_.loop().now_ns();
  ctx.hash_key = {hash_key_storage_.data(), hash_key_length_};
  ctx.excluded = excluded_;
  if (cluster_->start_attempt(ctx, affinity_server_, attempt_) != balance::kNoServer) {
    ++attempts_made_;
    attempt_status_ = 0;
    if (attempt_is_retry_) {
      cluster_->stats(attempt_.server).retries.add();
    }
    if (attempts_made_ > 1 && host_.telemetry().tracing()) {
      trace_retry();
    }
    switch (open_upstream(true)) {
      case Opened::yes:
        return;
      case Opened::failed:
        fail_attempt(Failure::connect_failure, std::strerror(errno));
        return;
      case Opened::overflow:
        refuse_overflow();
        return;
    }
  }
  if (attempt_is_retry_) {
    // Every server left has been tried, or refuses: the client gets the last failure's answer.
    give_back_retry();
    respond_to_failure(last_failure_);
    return;
  }
  if (cluster_->should_log(host_.loop().now_ns())) {
    observe::log_event(LogLevel::warn, "no server available",
                       {{"cluster", cluster_->config().name}, {"client", client_ip_.view()}});
  }
  respond_locally(503, "no server available");
}

void HttpSession::refuse_overflow() noexcept {
  end_attempt(AttemptEnd::cancelled);
  if (cluster_->should_log(host_.loop().now_ns())) {
    observe::log_event(LogLevel::warn, "cluster at max_pending_requests",
                       {{"cluster", cluster_->config().name}, {"client", client_ip_.view()}});
  }
  respond_locally(503, "too many requests waiting for a server");
}

void HttpSession::respond_to_failure(Failure failure) noexcept {
  if (failure == Failure::timeout) {
    respond_locally(504, "upstream timed out");
  } else {
    respond_locally(502, "upstream failed");
  }
}

// Connects the admitted attempt to its server: a pooled connection when one is idle, else a new
// one, which counts against max_pending_requests until it is established. On `failed` errno is
// set and the caller fails the attempt.
HttpSession::Opened HttpSession::open_upstream(bool allow_pooled) noexcept {
  upstream_head_sent_ = 0;
  upstream_eof_ = false;
  upstream_hung_up_ = false;
  response_bytes_seen_ = false;
  response_parser_.reset();

  upstream::ConnectionPool& pool = cluster_->pool(attempt_.server);
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
  if (!attempt_.pending) {
    if (!cluster_->health().pending.try_add()) {
      return Opened::overflow;
    }
    attempt_.pending = true;
  }
  core::FileDescriptor fd = core::connect_to(cluster_->server(attempt_.server).address);
  if (!fd.valid()) {
    return Opened::failed;
  }
  core::set_no_delay(fd.get());
  const int raw_fd = fd.get();
  upstream_ = new upstream::UpstreamConnection(host_.loop(), std::move(fd), pool);
  upstream_->attach(*this);
  if (!host_.loop().watch(raw_fd, *upstream_)) {
    return Opened::failed;
  }
  connecting_ = true;
  upstream_readable_ = false;
  upstream_writable_ = false;
  arm_upstream_timer(cluster_->config().timeouts.connect_ms);
  return Opened::yes;
}

uint64_t HttpSession::response_timeout_ms() const noexcept {
  const config::ClusterConfig& cluster = cluster_->config();
  return cluster.retry.per_try_timeout_ms != 0 ? cluster.retry.per_try_timeout_ms
                                               : cluster.timeouts.server_ms;
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
  if (upstream_ == nullptr || connecting_ || !upstream_writable_ ||
      (response_started_ && phase_ != Phase::tunnel)) {
    return false;
  }
  const std::string_view head = upstream_request_.readable().substr(upstream_head_sent_);
  const std::string_view body = client_in_.readable().substr(0, request_body_.ready_bytes());
  if (head.empty() && body.empty()) {
    return false;
  }
  const ssize_t sent = send_gathered(upstream_->fd(), head, body);
  if (sent > 0) {
    const size_t total = static_cast<size_t>(sent);
    upstream_writable_ = total == head.size() + body.size();  // short: the buffer is full
    const size_t head_part = std::min(total, head.size());
    const size_t body_part = total - head_part;
    upstream_head_sent_ += head_part;
    client_in_.consume(body_part);
    request_body_.forwarded(body_part);
    request_body_bytes_sent_ += body_part;
    request_bytes_ += body_part;
    cluster_->stats(attempt_.server).bytes_sent.add(total);
    arm_upstream_timer(response_timeout_ms());
    return true;
  }
  if (sent < 0 && errno == EAGAIN) {
    upstream_writable_ = false;
    return false;
  }
  // The server closed while we were sending. It may have answered first (an early response to
  // an upload); read what it sent before deciding.
  upstream_writable_ = false;
  upstream_eof_ = true;
  return true;
}

bool HttpSession::read_upstream() noexcept {
  if (upstream_ == nullptr || connecting_ || !upstream_readable_ || upstream_eof_) {
    return false;
  }
  bool drained = false;
  const ssize_t received = receive_into(upstream_->fd(), upstream_->in(), drained);
  if (received > 0) {
    upstream_readable_ = !drained || upstream_hung_up_;
    response_bytes_seen_ = true;
    cluster_->stats(attempt_.server).bytes_received.add(static_cast<uint64_t>(received));
    arm_upstream_timer(response_timeout_ms());
    return true;
  }
  if (received == 0) {
    upstream_eof_ = true;
    return true;
  }
  if (errno == EAGAIN || errno == ENOBUFS) {
    upstream_readable_ = errno != EAGAIN;
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
    observe::log_event(LogLevel::warn, "bad response body",
                       {{"server", cluster_->server(attempt_.server).name},
                        {"reason", response_body_.error_reason()}});
    end_attempt(AttemptEnd::reset);
    abort_exchange("bad response body");
    return true;
  }
  if (response_body_.finished()) {
    complete_exchange();  // possibly before the whole request was sent: an early answer
    return true;
  }
  if (upstream_eof_ && response_body_.ready_bytes() == 0) {
    if (response_body_.until_close()) {
      client_keep_alive_ = false;
      complete_exchange();
    } else {
      observe::log_event(LogLevel::warn, "server closed mid-response",
                         {{"server", cluster_->server(attempt_.server).name}});
      end_attempt(AttemptEnd::reset);
      abort_exchange("server closed mid-response");
    }
    return true;
  }
  return response_body_.ready_bytes() != before;
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
    // Interim (100 Continue and friends): pass it on and wait for the final head.
    if (!forward_response_head(true, {})) {
      return true;
    }
    in.consume(response_.head_bytes);
    response_parser_.reset();
    return true;
  }
  attempt_status_ = response_.status;
  if (response_.status >= 500 && may_retry(Failure::server_error)) {
    fail_attempt(Failure::server_error, "server error status");
    return true;
  }
  // A connection of a retired generation closes after this response, so its client's next
  // request follows the new configuration (and the health its checks now publish).
  client_keep_alive_ = request_keep_alive_ && !host_.draining() && generation_.retired_at_ns == 0 &&
                       response_.body_kind != http::BodyKind::until_close &&
                       request_body_.complete();
  // Cookie affinity: tell the client its server, unless its cookie already named that one.
  const config::SessionAffinityConfig& affinity = cluster_->config().session_affinity;
  const http::Header cookie{"Set-Cookie", cluster_->affinity_cookie(attempt_.server)};
  const bool set_cookie = affinity.enabled && affinity.method == config::AffinityMethod::cookie &&
                          attempt_.server != affinity_server_;
  if (!forward_response_head(client_keep_alive_, set_cookie
                                                     ? std::span<const http::Header>(&cookie, 1)
                                                     : std::span<const http::Header>())) {
    return true;
  }
  in.consume(response_.head_bytes);
  response_body_.start(response_.body_kind, response_.content_length);
  response_started_ = true;
  cluster_->judge_attempt(attempt_,
                          response_.status >= 500 ? AttemptEnd::server_error : AttemptEnd::success,
                          host_.loop().now_ns());
  return true;
}

// Writes the response head for the client behind what client_out_ holds, growing the buffer
// for a head larger than usual (up to the parser's 64 KiB and what ballast adds). False when
// even that does not fit, and the client has been answered 502.
bool HttpSession::forward_response_head(bool keep_alive,
                                        std::span<const http::Header> extra) noexcept {
  size_t written =
      http::write_client_response(response_, keep_alive, extra, client_out_.writable());
  if (written == 0) {
    size_t extra_bytes = 0;
    for (const http::Header& field : extra) {
      extra_bytes += field.name.size() + field.value.size() + 4;
    }
    client_out_.grow(client_out_.size() + response_.head_bytes + extra_bytes +
                     4 * response_.headers.count + http::kSerializeSlackBytes);
    written = http::write_client_response(response_, keep_alive, extra, client_out_.writable());
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
  cluster_->cluster_stats().oversized_responses.add();
  observe::log_event(
      LogLevel::warn, "response head too large",
      {{"cluster", cluster_->config().name}, {"server", cluster_->server(attempt_.server).name}});
  end_attempt(AttemptEnd::cancelled);
  respond_locally(502, "response head too large");
}

// The server agreed to switch protocols: its 101 goes to the client and the two connections
// become one tunnel. The attempt stays open (least connections still sees it) until the tunnel
// closes; its verdict, a success, is given now.
void HttpSession::start_tunnel() noexcept {
  if (!forward_response_head(false, {})) {
    return;
  }
  upstream_->in().consume(response_.head_bytes);
  response_started_ = true;
  phase_ = Phase::tunnel;
  client_timer_.cancel();
  upstream_timer_.cancel();
  request_body_.start(http::BodyKind::until_close, 0);
  response_body_.start(http::BodyKind::until_close, 0);
  cluster_->cluster_stats().tunnels_opened.add();
  cluster_->judge_attempt(attempt_, AttemptEnd::success, host_.loop().now_ns());
}

// One round of the tunnel: frames whatever arrived (everything is payload), writes it on, and
// passes each side's close to the other once what it sent before has been written.
bool HttpSession::pump_tunnel() noexcept {
  bool progress = read_upstream();
  const size_t to_server = request_body_.ready_bytes();
  request_body_.frame(client_in_.readable().substr(to_server));
  const size_t to_client = response_body_.ready_bytes();
  response_body_.frame(upstream_->in().readable().substr(to_client));
  progress |= request_body_.ready_bytes() != to_server || response_body_.ready_bytes() != to_client;
  progress |= write_upstream();
  if (upstream_eof_ && !upstream_writable_ && request_body_.ready_bytes() != 0 && !upstream_shut_) {
    abort_exchange("server closed the tunnel");  // a write failed: the server is gone
    return true;
  }
  if (client_eof_ && request_body_.ready_bytes() == 0 && !upstream_shut_) {
    shutdown(upstream_->fd(), SHUT_WR);
    upstream_shut_ = true;
    progress = true;
  }
  if (upstream_eof_ && response_body_.ready_bytes() == 0 && client_out_.empty() && !client_shut_) {
    shutdown(client_.get(), SHUT_WR);
    client_shut_ = true;
    progress = true;
  }
  if (upstream_shut_ && client_shut_) {
    close();
    return true;
  }
  if (progress) {
    client_read_ns_ = host_.loop().now_ns();  // the tunnel's idle clock
  }
  return progress;
}

bool HttpSession::write_client() noexcept {
  if (!client_writable_) {
    return false;
  }
  const std::string_view head = client_out_.readable();
  const std::string_view body =
      response_started_ && upstream_ != nullptr
          ? upstream_->in().readable().substr(0, response_body_.ready_bytes())
          : std::string_view{};
  if (head.empty() && body.empty()) {
    client_write_ns_ = host_.loop().now_ns();  // the client has everything we had for it
    return false;
  }
  const ssize_t sent = send_gathered(client_.get(), head, body);
  if (sent > 0) {
    const size_t total = static_cast<size_t>(sent);
    client_write_ns_ = host_.loop().now_ns();
    client_writable_ = total == head.size() + body.size();  // short: the buffer is full
    const size_t head_part = std::min(total, head.size());
    const size_t body_part = total - head_part;
    response_bytes_ += total;
    client_out_.consume(head_part);
    if (body_part != 0) {
      upstream_->in().consume(body_part);
      response_body_.forwarded(body_part);
    }
    return true;
  }
  if (sent < 0 && errno == EAGAIN) {
    client_writable_ = false;
    return false;
  }
  abort_exchange("client went away");
  return true;
}

// A request may go to a server again if it is replayable or no byte of it has reached one yet
// (a connect failure, or a reset before the head left).
bool HttpSession::may_send_again() const noexcept {
  return request_replayable_ || (upstream_head_sent_ == 0 && request_body_bytes_sent_ == 0);
}

bool HttpSession::may_retry(Failure failure) const noexcept {
  const config::RetryConfig& retry = cluster_->config().retry;
  uint8_t needed = 0;
  switch (failure) {
    case Failure::connect_failure:
      needed = retry_flag(config::RetryOn::connect_failure);
      break;
    case Failure::timeout:
      needed = retry_flag(config::RetryOn::timeout);
      break;
    case Failure::reset:
    case Failure::server_error:
      needed = retry_flag(config::RetryOn::server_error);
      break;
    case Failure::bad_response:
      return false;
  }
  return attempts_made_ < retry.attempts && (retry.on & needed) != 0 && may_send_again() &&
         request_body_bytes_sent_ == 0 && !response_started_ &&
         (!in_retry_budget(failure) || cluster_->retry_budget().allows_retry(retry)) &&
         cluster_->health().retries.has_room();
}

void HttpSession::end_attempt(AttemptEnd end) noexcept {
  if (attempt_.server == balance::kNoServer) {
    return;
  }
  if (trace_.sampled && host_.telemetry().tracing()) {
    submit_attempt_span(end);
  }
  cluster_->finish_attempt(attempt_, end, host_.loop().now_ns());
  if (attempt_is_retry_) {
    give_back_retry();
  }
  upstream_timer_.cancel();
  if (upstream_ != nullptr) {
    upstream_->close();
    upstream_ = nullptr;
  }
}

// The retry budget exists to stop retries multiplying the load on a struggling fleet. A
// connection that could not be made did no work anywhere, so its retry adds no load: it is left
// out of the budget. Without that, a dead server that least connections keeps choosing (it never
// has a request in flight) would exhaust the budget and turn most requests into 502s.
bool HttpSession::in_retry_budget(Failure failure) noexcept {
  return failure != Failure::connect_failure;
}

// A retry counts against the cluster's max_retries and, unless it retries a connect failure,
// this worker's retry budget.
bool HttpSession::take_retry(Failure failure) noexcept {
  if (!cluster_->health().retries.try_add()) {
    return false;
  }
  retry_in_budget_ = in_retry_budget(failure);
  if (retry_in_budget_) {
    ++cluster_->retry_budget().active_retries;
  }
  cluster_->cluster_stats().retries.add();
  attempt_is_retry_ = true;
  return true;
}

void HttpSession::give_back_retry() noexcept {
  if (retry_in_budget_) {
    --cluster_->retry_budget().active_retries;
  }
  cluster_->health().retries.remove();
  attempt_is_retry_ = false;
  retry_in_budget_ = false;
}

void HttpSession::fail_attempt(Failure failure, std::string_view detail) noexcept {
  const balance::ServerIndex server = attempt_.server;
  const bool stale_reuse = upstream_ != nullptr && upstream_->reused() && !response_bytes_seen_ &&
                           failure == Failure::reset && request_body_bytes_sent_ == 0 &&
                           may_send_again();
  upstream::ServerState& state = cluster_->server(server);
  if (stale_reuse && !stale_connection_retried_) {
    // The pooled connection had been closed by the server: not the server's failure. The
    // attempt keeps its server, slot and permit, on a fresh connection.
    stale_connection_retried_ = true;
    upstream_timer_.cancel();
    upstream_->close();
    upstream_ = nullptr;
    const Opened opened = open_upstream(false);
    if (opened == Opened::yes) {
      return;
    }
    if (opened == Opened::overflow) {
      refuse_overflow();  // a limit of ours, not the server's failure
      return;
    }
    failure = Failure::connect_failure;
    detail = std::strerror(errno);
  }
  observe::log_event(LogLevel::warn, "upstream attempt failed",
                     {{"cluster", cluster_->config().name},
                      {"server", state.name},
                      {"failure", failure_name(static_cast<uint8_t>(failure))},
                      {"detail", detail}});
  end_attempt(attempt_end_of(static_cast<uint8_t>(failure)));
  if (may_retry(failure) && take_retry(failure)) {
    excluded_.add(server);
    last_failure_ = failure;
    start_attempt();
    return;
  }
  respond_to_failure(failure);
}

void HttpSession::complete_exchange() noexcept {
  // Still readable: the socket may hold more bytes or the server's FIN (one segment can bring
  // a bodiless response and the FIN), whose edge came while the connection was ours; idle, it
  // would hear of them no more, and the next request would.
  const bool reusable = response_.keep_alive && !response_body_.until_close() && !upstream_eof_ &&
                        !upstream_readable_ && upstream_->in().empty() &&
                        upstream_request_written();
  request_done(response_.status, attempt_.server);
  upstream::UpstreamConnection* connection = upstream_;
  upstream_ = nullptr;               // end_attempt must not close it
  end_attempt(AttemptEnd::success);  // its verdict came with the response head
  if (reusable) {
    connection->home().give_back(*connection);
  } else {
    connection->close();
  }
  finish_request();
  // An early answer leaves request body bytes we never sent; they are the request's, not the
  // next one's.
  client_in_.consume(request_body_.ready_bytes());
  request_body_.forwarded(request_body_.ready_bytes());
  if (!client_keep_alive_ || host_.draining() || client_eof_ || !request_body_.complete()) {
    enter_closing();
    return;
  }
  phase_ = Phase::reading_head;
  idle_since_ns_ = host_.loop().now_ns();
  head_started_ns_ = client_in_.empty() ? 0 : idle_since_ns_;  // a pipelined head has begun
}

// Counts a request's answer, once: the server's (forwarded) or ballast's own (server kNoServer).
void HttpSession::request_done(uint16_t status, balance::ServerIndex server) noexcept {
  if (request_counted_) {
    return;
  }
  request_counted_ = true;
  if (trace_.sampled && host_.telemetry().tracing()) {
    submit_request_span(status, server);
  }
  if (host_.telemetry().access_log->enabled()) {
    log_access(status, server);
  }
  if (cluster_ == nullptr) {
    return;  // refused before it had a cluster (a bad request, no route)
  } else if (server == balance::kNoServer) {
    cluster_->cluster_stats().local_responses[observe::status_class_index(status)].add();
  } else {
    cluster_->stats(server).record_response(status, host_.loop().now_ns() - request_started_ns_);
  }
}

std::pair<std::string_view, std::string_view> HttpSession::request_line() const noexcept {
  if (!request_line_ready_) {
    return {};
  }
  const std::string_view head = upstream_request_.readable();
  const size_t method_end = head.find(' ');
  const size_t target_end = head.find(' ', method_end + 1);
  if (method_end == std::string_view::npos || target_end == std::string_view::npos) {
    return {};
  }
  return {head.substr(0, method_end), head.substr(method_end + 1, target_end - method_end - 1)};
}

// W3C Trace Context: continues the caller's trace (or starts one), decides sampling, and returns
// the traceparent for the first attempt, which names that attempt's span as the parent.
std::string_view HttpSession::begin_trace(const http::RequestHead& request) noexcept {
  WorkerTelemetry& telemetry = host_.telemetry();
  const http::Header* parent = request.headers.find("traceparent");
  const http::Header* state = request.headers.find("tracestate");
  trace_ = observe::begin_request_trace(parent == nullptr ? "" : parent->value,
                                        state == nullptr ? "" : state->value, telemetry.sample_rate,
                                        telemetry.random);
  trace_.tracestate = {};  // a view into the head, gone by the time spans are written
  attempt_span_ = observe::new_span_id(telemetry.random);
  observe::format_traceparent(trace_.trace_id, attempt_span_, trace_.sampled, traceparent_);
  return {traceparent_.data(), traceparent_.size()};
}

// A retry is a new span: its id replaces the previous attempt's in the kept head's traceparent,
// whose value has a fixed length, so the head is patched in place.
void HttpSession::trace_retry() noexcept {
  attempt_span_ = observe::new_span_id(host_.telemetry().random);
  static constexpr std::string_view kField = "\r\ntraceparent: ";
  static constexpr size_t kSpanIdOffset = 3 + observe::kTraceIdHexBytes + 1;  // "00-" id "-"
  const std::span<char> head = upstream_request_.readable_in_place();
  const size_t field = std::string_view(head.data(), head.size()).find(kField);
  if (field != std::string_view::npos) {
    observe::write_hex(attempt_span_.bytes, head.data() + field + kField.size() + kSpanIdOffset);
  }
}

namespace {

void fill_request_fields(observe::SpanRecord& span, std::string_view method,
                         std::string_view target, std::string_view cluster) noexcept {
  span.name.assign(method);
  span.method.assign(method);
  span.path.assign(target.substr(0, target.find('?')));
  span.cluster.assign(cluster);
}

}  // namespace

void HttpSession::log_access(uint16_t status, balance::ServerIndex server) noexcept {
  WorkerTelemetry& telemetry = host_.telemetry();
  const auto [method, target] = request_line();
  std::array<char, observe::kTraceIdHexBytes> trace_hex;
  const bool traced = telemetry.tracing();
  if (traced) {
    observe::write_hex(trace_.trace_id.bytes, trace_hex.data());
  }
  observe::AccessRecord record;
  record.unix_ns = telemetry.unix_ns(request_started_ns_);
  record.client_ip = client_ip_.view();
  record.method = method;
  record.path = target;
  record.cluster = cluster_ == nullptr ? std::string_view{} : cluster_->config().name;
  record.server = server == balance::kNoServer ? std::string_view{} : cluster_->server(server).name;
  record.status = status;
  record.duration_ns = host_.loop().now_ns() - request_started_ns_;
  record.bytes_received = request_bytes_;
  record.bytes_sent = response_bytes_ + client_out_.size();  // what is queued will follow
  record.attempts = attempts_made_;
  record.trace_id = traced ? std::string_view(trace_hex.data(), trace_hex.size()) : "";
  record.request_id = request_line_ready_ ? std::string_view(request_id_.data(), request_id_length_)
                                          : std::string_view{};
  telemetry.access_log->record(record);
}

void HttpSession::submit_attempt_span(AttemptEnd end) noexcept {
  WorkerTelemetry& telemetry = host_.telemetry();
  const auto [method, target] = request_line();
  observe::SpanRecord span;
  span.trace_id = trace_.trace_id;
  span.span_id = attempt_span_;
  span.parent_span_id = trace_.span_id;
  span.kind = observe::SpanKind::client;
  span.start_unix_ns = telemetry.unix_ns(attempt_.started_ns);
  span.end_unix_ns = telemetry.unix_ns(host_.loop().now_ns());
  span.http_status_code = attempt_status_;
  span.status = end == AttemptEnd::success && attempt_status_ < 400 ? observe::SpanStatus::ok
                                                                    : observe::SpanStatus::error;
  span.attempt = static_cast<uint16_t>(attempts_made_);
  span.retry = attempts_made_ > 1;
  fill_request_fields(span, method, target, cluster_->config().name);
  span.request_id.assign({request_id_.data(), request_id_length_});
  span.server_address.assign(cluster_->server(attempt_.server).name);
  telemetry.spans->submit(telemetry.worker, span);
}

void HttpSession::submit_request_span(uint16_t status, balance::ServerIndex server) noexcept {
  WorkerTelemetry& telemetry = host_.telemetry();
  const auto [method, target] = request_line();
  observe::SpanRecord span;
  span.trace_id = trace_.trace_id;
  span.span_id = trace_.span_id;
  span.parent_span_id = trace_.parent_span_id;
  span.kind = observe::SpanKind::server;
  span.start_unix_ns = telemetry.unix_ns(request_started_ns_);
  span.end_unix_ns = telemetry.unix_ns(host_.loop().now_ns());
  span.http_status_code = status;
  span.status = status >= 500 ? observe::SpanStatus::error : observe::SpanStatus::unset;
  fill_request_fields(span, method, target,
                      cluster_ == nullptr ? std::string_view{} : cluster_->config().name);
  span.request_id.assign({request_id_.data(), request_id_length_});
  if (server != balance::kNoServer) {
    span.server_address.assign(cluster_->server(server).name);
  }
  telemetry.spans->submit(telemetry.worker, span);
}

void HttpSession::finish_request() noexcept {
  response_started_ = false;
  if (request_active_) {
    --cluster_->retry_budget().active_requests;
    request_active_ = false;
  }
  if (holds_request_limit_) {
    cluster_->health().requests.remove();
    holds_request_limit_ = false;
  }
}

void HttpSession::respond_locally(uint16_t status, std::string_view reason) noexcept {
  if (response_started_) {
    abort_exchange(reason);
    return;
  }
  // An answer of our own closes the connection (as HAProxy's do): the request's body may be
  // partly unread, and a client that hit an error is better served by a fresh connection.
  static constexpr http::Header kRetryAfter{"Retry-After", "1"};
  const std::span<const http::Header> extra = status == 503
                                                  ? std::span<const http::Header>(&kRetryAfter, 1)
                                                  : std::span<const http::Header>();
  client_out_.clear();
  client_out_.commit(http::write_error_response(status, reason, extra, client_out_.writable()));
  request_done(status, balance::kNoServer);
  if (cluster_ != nullptr) {
    finish_request();
  }
  upstream_timer_.cancel();
  enter_closing();
}

// Sends what client_out_ holds, then closes; the client timer bounds a client that never reads.
void HttpSession::enter_closing() noexcept {
  phase_ = Phase::closing;
  client_write_ns_ = host_.loop().now_ns();
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
    shutdown(client_.get(), SHUT_WR);
    client_timer_.arm(host_.loop().timers(), host_.loop().now_ns() + kLingerMs * core::kNsPerMs);
  }
  bool progress = false;
  while (client_readable_ && !closed_) {
    char discard[4096];
    const ssize_t received = recv(client_.get(), discard, sizeof(discard), 0);
    if (received > 0) {
      progress = true;
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
  // Otherwise complete_exchange() sees draining() and closes after this response.
}

void HttpSession::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  host_.loop().cancel_resume(*this);
  if (request_active_) {
    // Cut short: the response's status if it had begun (the server's answer, broken off), else
    // nginx's 499, "client closed request".
    request_done(response_started_ ? response_.status : 499,
                 response_started_ ? attempt_.server : balance::kNoServer);
  }
  if (phase_ == Phase::tunnel) {
    cluster_->cluster_stats().tunnels_closed.add();
  }
  if (attempt_.server != balance::kNoServer) {
    // Cut short on our side, not the server's; a tunnel's end is its attempt's (successful) end.
    end_attempt(phase_ == Phase::tunnel ? AttemptEnd::success : AttemptEnd::cancelled);
  }
  if (cluster_ != nullptr) {
    finish_request();
  }
  client_timer_.cancel();
  upstream_timer_.cancel();
  host_.loop().unwatch(client_.get());
  client_.reset();
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
  if (deadline_ns == 0 || deadline_ns > host_.loop().now_ns()) {
    update_client_timer();  // the wait it was armed for is over, or moved on
    return;
  }
  const bool head_due = phase_ == Phase::reading_head && client_out_.empty() && !client_in_.empty();
  const bool body_due =
      phase_ == Phase::proxying && !waiting_on_client_send() && !response_started_;
  if (head_due) {
    request_started_ns_ = head_started_ns_;  // what the access log's duration measures
    request_bytes_ = client_in_.size();
    respond_locally(408, "request head not received in time");
    drive();
  } else if (body_due) {
    if (upstream_ != nullptr || attempt_.server != balance::kNoServer) {
      end_attempt(AttemptEnd::cancelled);  // the client's delay, not the server's
    }
    respond_locally(408, "request body not received in time");
    drive();
  } else {
    // Idle keep-alive, an unread answer, an idle tunnel: nothing more can be said to the client.
    abort_exchange(phase_ == Phase::tunnel ? "tunnel idle" : "client timed out");
  }
}

void HttpSession::arm_upstream_timer(uint64_t timeout_ms) noexcept {
  upstream_timer_.arm(host_.loop().timers(), host_.loop().now_ns() + timeout_ms * core::kNsPerMs);
}

void HttpSession::on_timer(core::Timer& timer) noexcept {
  if (closed_) {
    return;
  }
  if (&timer == &client_timer_) {
    on_client_timer();
    return;
  }
  // The server's timer, while the client is the one holding things up (a body still to come, or
  // an answer it has not read): the client's own deadlines deal with that; the server is not to
  // blame.
  if (!connecting_ &&
      (waiting_on_client_send() ||
       (!response_started_ && waiting_on_client_body() && request_body_.ready_bytes() == 0))) {
    arm_upstream_timer(response_timeout_ms());
    return;
  }
  if (connecting_) {
    fail_attempt(Failure::connect_failure, "connect timed out");
  } else if (!response_started_) {
    fail_attempt(Failure::timeout, "no response in time");
  } else {
    observe::log_event(LogLevel::warn, "server stalled mid-response",
                       {{"server", cluster_->server(attempt_.server).name}});
    end_attempt(AttemptEnd::timeout);
    abort_exchange("server stalled mid-response");
    return;
  }
  drive();
}

}  // namespace ballast::proxy
