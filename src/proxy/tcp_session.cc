#include "proxy/tcp_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "edge/proxy_header_send.h"
#include "observe/log.h"
#include "proxy/router.h"
#include "proxy/server_failure_log.h"

namespace ballast::proxy {
namespace {

constexpr int kMaxRoundsPerDrive = 16;

}  // namespace

TcpSession::TcpSession(SessionHost& host, WorkerGeneration& generation,
                       const config::ListenerConfig& listener,
                       std::shared_ptr<WorkerCluster> cluster, const tls::ServerContext* tls,
                       core::FileDescriptor client, const core::SocketAddress& peer)
    : Session(host, generation),
      listener_(listener),
      cluster_(std::move(cluster)),
      tls_context_(tls),
      client_(std::move(client)),
      peer_(peer),
      client_ip_(core::ip_text(peer)) {}

TcpSession::~TcpSession() = default;

bool TcpSession::start() noexcept {
  if (tls_context_ != nullptr) {
    tls_ = std::make_unique<tls::TlsStream>(tls_context_->new_connection(), client_.get());
    if (!tls_->valid()) {
      return false;
    }
  }
  if (!host_.loop().watch(client_.get(), client_endpoint_)) {
    return false;
  }
  if (tls_ != nullptr) {
    timer_.arm(host_.loop().timers(),
               host_.loop().now_ns() + tls_context_->handshake_timeout_ms() * core::kNsPerMs);
    advance_handshake();
    return true;
  }
  if (cluster_ == nullptr) {
    const uint64_t deadline_ms = generation_.shared->config->timeouts.client_header_ms;
    timer_.arm(host_.loop().timers(), host_.loop().now_ns() + deadline_ms * core::kNsPerMs);
    read_client_hello();
    return true;
  }
  connect_next();
  return true;
}

// Reads until the ClientHello is whole, then routes on its server name. The bytes stay in the
// buffer towards the server, which passes them on first.
void TcpSession::read_client_hello() noexcept {
  core::ByteBuffer& buffer = to_upstream_.buffer;
  while (to_upstream_.source_readable && !closed_) {
    const std::span<char> space = buffer.writable();
    if (space.empty()) {
      refuse("ClientHello larger than the buffer");
      return;
    }
    const ssize_t received = recv(client_.get(), space.data(), space.size(), 0);
    if (received == 0 || (received < 0 && errno != EAGAIN)) {
      close();  // gone before saying which server it wants
      return;
    }
    if (received < 0) {
      to_upstream_.source_readable = false;
      return;
    }
    buffer.commit(static_cast<size_t>(received));
    const tls::ClientHello hello = tls::read_client_hello(buffer.readable());
    switch (hello.status) {
      case tls::ClientHello::Status::incomplete:
        continue;
      case tls::ClientHello::Status::not_tls:
        refuse("not TLS");
        return;
      case tls::ClientHello::Status::malformed:
        refuse(hello.reason);
        return;
      case tls::ClientHello::Status::complete:
        break;
    }
    route_by_name(hello.server_name());
    return;
  }
}

// The client's TLS handshake, on a listener that terminates it; once done, the connection is
// routed (by the name agreed, with sni routes) and its server connected.
void TcpSession::advance_handshake() noexcept {
  switch (tls_->handshake()) {
    case tls::TlsStream::Step::blocked:
      return;  // the socket's next turn brings the next step
    case tls::TlsStream::Step::failed:
      tls_context_->stats().count_error(tls_->handshake_error());
      refuse(tls::handshake_error_name(tls_->handshake_error()));
      return;
    case tls::TlsStream::Step::done:
      break;
  }
  tls::TlsStats& stats = tls_context_->stats();
  (tls_->resumed() ? stats.resumed_handshakes : stats.full_handshakes)
      .fetch_add(1, std::memory_order_relaxed);
  to_upstream_.source_readable = true;  // application data may have come with the last flight
  if (cluster_ != nullptr) {
    timer_.cancel();
    connect_next();
    return;
  }
  // Routes match lowercase names; a name is at most 255 bytes (RFC 6066).
  std::array<char, tls::kMaxServerNameBytes> lowered;
  const std::string_view name = tls_->server_name();
  const size_t length = std::min(name.size(), lowered.size());
  std::transform(name.begin(), name.begin() + static_cast<std::ptrdiff_t>(length), lowered.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; });
  route_by_name({lowered.data(), length});
}

void TcpSession::route_by_name(std::string_view server_name) noexcept {
  const config::RouteConfig* route = find_sni_route(listener_, server_name);
  const size_t index = route == nullptr ? generation_.clusters.size()
                                        : generation_.shared->cluster_index(route->cluster);
  if (index >= generation_.clusters.size()) {
    observe::log_event(
        config::LogLevel::info, "no route for this server name",
        {{"listener", listener_.name}, {"client", client_ip_.view()}, {"sni", server_name}});
    close();
    return;
  }
  cluster_ = generation_.clusters[index];
  timer_.cancel();
  connect_next();
}

void TcpSession::refuse(std::string_view why) noexcept {
  observe::log_event(
      config::LogLevel::info, "refused tls connection",
      {{"listener", listener_.name}, {"client", client_ip_.view()}, {"reason", why}});
  close();
}

void TcpSession::connect_next() noexcept {
  balance::PickContext ctx;
  ctx.now_ns = host_.loop().now_ns();
  ctx.hash_key = client_ip_.view();
  ctx.excluded = excluded_;
  while (attempts_made_ < cluster_->config().retry.attempts) {
    const balance::ServerIndex chosen = cluster_->start_attempt(ctx, balance::kNoServer, attempt_);
    if (chosen == balance::kNoServer) {
      break;
    }
    ++attempts_made_;
    upstream_ = core::connect_to(cluster_->server(chosen).address);
    if (const tls::ClientContext* tls = cluster_->state().upstream_tls.get();
        tls != nullptr && upstream_.valid()) {
      upstream_tls_ = std::make_unique<tls::TlsStream>(
          tls->new_connection(cluster_->server(chosen).config.sni(),
                              cluster_->pool(chosen).session()),
          upstream_.get());
    }
    const bool secured = upstream_tls_ == nullptr || upstream_tls_->valid();
    if (upstream_.valid() && secured && host_.loop().watch(upstream_.get(), upstream_endpoint_)) {
      connecting_ = true;
      upstream_handshaking_ = false;
      to_upstream_.sink_writable = false;
      to_client_.source_readable = false;
      timer_.arm(host_.loop().timers(),
                 host_.loop().now_ns() + cluster_->config().timeouts.connect_ms * core::kNsPerMs);
      return;
    }
    end_attempt(AttemptEnd::connect_failure);
    excluded_.add(chosen);
    ctx.excluded.add(chosen);
  }
  observe::log_event(config::LogLevel::warn, "no server for tcp connection",
                     {{"cluster", cluster_->config().name}, {"client", client_ip_.view()}});
  close();
}

void TcpSession::end_attempt(AttemptEnd end) noexcept {
  if (cluster_ == nullptr || attempt_.server == balance::kNoServer) {
    return;
  }
  cluster_->finish_attempt(attempt_, end, host_.loop().now_ns());
  if (upstream_tls_ != nullptr) {
    upstream_tls_->close_notify();  // when sound: a clean end keeps the session resumable
    upstream_tls_.reset();
  }
  upstream_.reset();  // closing the descriptor takes it out of the loop's epoll set
}

void TcpSession::on_endpoint_io(bool is_client, uint32_t events) noexcept {
  if (closed_) {
    return;
  }
  if (is_client && tls_ != nullptr && !tls_->established()) {
    advance_handshake();
    return;
  }
  if (cluster_ == nullptr) {
    to_upstream_.source_readable |= (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    read_client_hello();
    return;
  }
  if (!is_client && connecting_ && !finish_connect(events)) {
    return;
  }
  Direction& read_side = is_client ? to_upstream_ : to_client_;
  Direction& write_side = is_client ? to_client_ : to_upstream_;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    read_side.source_readable = true;
  }
  read_side.source_hung_up |= (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    write_side.sink_writable = true;
  }
  // TLS: a read that had to write (or a write that had to read) waits on the other direction.
  if (const tls::TlsStream* tls = tls_of(is_client)) {
    read_side.source_readable |= (events & EPOLLOUT) != 0 && tls->wants_writable_to_read();
    write_side.sink_writable |= (events & EPOLLIN) != 0 && tls->wants_readable_to_write();
  }
  drive();
}

// The TCP connect, then (upstream_tls) the TLS handshake; true once the connection to the server
// is established, which is the breaker's verdict on the attempt (it must not wait for the
// connection's end).
bool TcpSession::finish_connect(uint32_t events) noexcept {
  if (!upstream_handshaking_) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      return false;
    }
    const int error = core::connect_error(upstream_.get());
    if (error != 0) {
      connect_failed("upstream connect failed", std::strerror(error));
      return false;
    }
    if (const config::ProxyProtocolVersion version = cluster_->config().send_proxy_protocol;
        version != config::ProxyProtocolVersion::none &&
        !edge::send_proxy_header(upstream_.get(), version, peer_, client_.get())) {
      connect_failed("PROXY protocol header not sent", std::strerror(errno));
      return false;
    }
    upstream_handshaking_ = upstream_tls_ != nullptr;
  }
  if (upstream_handshaking_) {
    switch (upstream_tls_->handshake()) {
      case tls::TlsStream::Step::blocked:
        return false;
      case tls::TlsStream::Step::failed:
        cluster_->state().upstream_tls->stats().count_failed();
        connect_failed("upstream TLS handshake failed", upstream_tls_->failure_detail());
        return false;
      case tls::TlsStream::Step::done:
        upstream_handshaking_ = false;
        cluster_->state().upstream_tls->stats().count_done(upstream_tls_->resumed());
        break;
    }
  }
  connecting_ = false;
  cluster_->judge_attempt(attempt_, AttemptEnd::success, host_.loop().now_ns());
  to_upstream_.sink_writable = true;
  to_client_.source_readable = true;
  return true;
}

// The attempt failed before the connection was established: the next server, if any is left.
void TcpSession::connect_failed(std::string_view message, std::string_view detail) noexcept {
  log_server_failure(cluster_->server(attempt_.server),
                     {message, cluster_->config().name, "connect_failure", detail},
                     host_.loop().now_ns());
  excluded_.add(attempt_.server);
  end_attempt(AttemptEnd::connect_failure);
  connecting_ = false;
  connect_next();  // closes the session when no attempt is left
}

void TcpSession::drive() noexcept {
  if (connecting_) {
    return;
  }
  timer_.arm(host_.loop().timers(),
             host_.loop().now_ns() + cluster_->config().timeouts.client_ms * core::kNsPerMs);
  for (int round = 0; round < kMaxRoundsPerDrive && !closed_; ++round) {
    bool progress = pump(to_upstream_, true);
    if (!closed_) {
      progress |= pump(to_client_, false);
    }
    if (closed_) {
      return;
    }
    if (to_upstream_.shut_down && to_client_.shut_down) {
      end_attempt(AttemptEnd::success);
      close();
      return;
    }
    if (!progress) {
      return;
    }
  }
  host_.loop().resume_soon(*this);
}

// One recv from a side, as recv: through TLS for a client on a listener with tls and a server
// of a cluster with upstream_tls. `drained`:
// the socket holds no more (a short read; TLS also counts what OpenSSL holds decrypted).
ssize_t TcpSession::receive(bool from_client, std::span<char> space, bool& drained) noexcept {
  return tls::receive_on(tls_of(from_client), from_client ? client_.get() : upstream_.get(),
                         space.data(), space.size(), drained);
}

ssize_t TcpSession::send_to(bool to_client, std::string_view bytes) noexcept {
  if (tls::TlsStream* tls = tls_of(to_client)) {
    return tls->send(bytes.data(), bytes.size());
  }
  return send(to_client ? client_.get() : upstream_.get(), bytes.data(), bytes.size(),
              MSG_NOSIGNAL);
}

void TcpSession::shut_write(bool to_client) noexcept {
  if (tls::TlsStream* tls = tls_of(to_client)) {
    tls->close_notify();
  }
  shutdown(to_client ? client_.get() : upstream_.get(), SHUT_WR);
}

bool TcpSession::pump(Direction& direction, bool from_client) noexcept {
  bool progress = false;
  core::ByteBuffer& buffer = direction.buffer;
  if (direction.source_readable && !direction.source_eof) {
    buffer.compact();
    const std::span<char> space = buffer.writable();
    if (!space.empty()) {
      bool drained = false;
      const ssize_t received = receive(from_client, space, drained);
      if (received > 0) {
        buffer.commit(static_cast<size_t>(received));
        // Drained: edge-triggered epoll reports the next arrival.
        direction.source_readable = !drained || direction.source_hung_up;
        progress = true;
      } else if (received == 0) {
        direction.source_eof = true;
        progress = true;
      } else if (errno == EAGAIN) {
        direction.source_readable = false;
      } else {
        close();  // reset: nothing sensible to pass on
        return true;
      }
    }
  }
  if (direction.sink_writable && !buffer.empty()) {
    const std::string_view pending = buffer.readable();
    const ssize_t sent = send_to(!from_client, pending);
    if (sent > 0) {
      // Short: the socket's buffer is full (TLS takes a record at a time: only EAGAIN says so).
      direction.sink_writable =
          static_cast<size_t>(sent) == pending.size() || tls_of(!from_client) != nullptr;
      buffer.consume(static_cast<size_t>(sent));
      progress = true;
    } else if (sent < 0 && errno == EAGAIN) {
      direction.sink_writable = false;
    } else {
      close();
      return true;
    }
  }
  if (direction.source_eof && buffer.empty() && !direction.shut_down) {
    shut_write(!from_client);  // pass the half-close on
    direction.shut_down = true;
    progress = true;
  }
  return progress;
}

void TcpSession::on_timer(core::Timer& /*timer*/) noexcept {
  if (tls_ != nullptr && !tls_->established()) {
    tls_context_->stats().count_error(tls::HandshakeError::timeout);
    refuse("TLS handshake timed out");
    return;
  }
  if (cluster_ == nullptr) {
    refuse("no ClientHello in time");
    return;
  }
  if (connecting_) {
    if (upstream_handshaking_) {
      cluster_->state().upstream_tls->stats().count_failed();
    }
    connect_failed(
        upstream_handshaking_ ? "upstream TLS handshake timed out" : "upstream connect timed out",
        {});
    return;
  }
  close();  // idle for the client timeout
}

void TcpSession::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  host_.loop().cancel_resume(*this);
  timer_.cancel();
  end_attempt(AttemptEnd::cancelled);
  if (tls_ != nullptr && tls_->established()) {
    tls_->close_notify();  // a clean end; OpenSSL keeps the session for resumption
  }
  client_.reset();  // closing the descriptor takes it out of the loop's epoll set
  host_.session_closed(*this);
}

}  // namespace ballast::proxy
