#include "proxy/tcp_session.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "observe/log.h"
#include "proxy/router.h"
#include "proxy/server_failure_log.h"

namespace ballast::proxy {
namespace {

constexpr int kMaxRoundsPerDrive = 16;

}  // namespace

TcpSession::TcpSession(SessionHost& host, WorkerGeneration& generation,
                       const config::ListenerConfig& listener, WorkerCluster* cluster,
                       core::FileDescriptor client, const core::SocketAddress& peer)
    : Session(host, generation),
      listener_(listener),
      cluster_(cluster),
      client_(std::move(client)),
      client_ip_(core::ip_text(peer)) {}

bool TcpSession::start() noexcept {
  if (!host_.loop().watch(client_.get(), client_endpoint_)) {
    return false;
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
    const config::RouteConfig* route = find_sni_route(listener_, hello.server_name());
    const size_t index = route == nullptr ? generation_.clusters.size()
                                          : generation_.shared->cluster_index(route->cluster);
    if (index >= generation_.clusters.size()) {
      observe::log_event(config::LogLevel::info, "no route for this server name",
                         {{"listener", listener_.name},
                          {"client", client_ip_.view()},
                          {"sni", hello.server_name()}});
      close();
      return;
    }
    cluster_ = generation_.clusters[index].get();
    timer_.cancel();
    connect_next();
    return;
  }
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
    if (upstream_.valid() && host_.loop().watch(upstream_.get(), upstream_endpoint_)) {
      connecting_ = true;
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
  upstream_.reset();  // closing the descriptor takes it out of the loop's epoll set
}

void TcpSession::on_endpoint_io(bool is_client, uint32_t events) noexcept {
  if (closed_) {
    return;
  }
  if (cluster_ == nullptr) {
    to_upstream_.source_readable |= (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    read_client_hello();
    return;
  }
  if (!is_client && connecting_) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      return;
    }
    const int error = core::connect_error(upstream_.get());
    if (error != 0) {
      log_server_failure(cluster_->server(attempt_.server),
                         {"upstream connect failed", cluster_->config().name, "connect_failure",
                          std::strerror(error)},
                         host_.loop().now_ns());
      excluded_.add(attempt_.server);
      end_attempt(AttemptEnd::connect_failure);
      connecting_ = false;
      connect_next();
      return;
    }
    connecting_ = false;
    // Established: the verdict for the breaker, which must not wait for the connection's end.
    cluster_->judge_attempt(attempt_, AttemptEnd::success, host_.loop().now_ns());
    to_upstream_.sink_writable = true;
    to_client_.source_readable = true;
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
  drive();
}

void TcpSession::drive() noexcept {
  if (connecting_) {
    return;
  }
  timer_.arm(host_.loop().timers(),
             host_.loop().now_ns() + cluster_->config().timeouts.client_ms * core::kNsPerMs);
  for (int round = 0; round < kMaxRoundsPerDrive && !closed_; ++round) {
    bool progress = pump(to_upstream_, client_.get(), upstream_.get());
    if (!closed_) {
      progress |= pump(to_client_, upstream_.get(), client_.get());
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

bool TcpSession::pump(Direction& direction, int from_fd, int to_fd) noexcept {
  bool progress = false;
  core::ByteBuffer& buffer = direction.buffer;
  if (direction.source_readable && !direction.source_eof) {
    buffer.compact();
    const std::span<char> space = buffer.writable();
    if (!space.empty()) {
      const ssize_t received = recv(from_fd, space.data(), space.size(), 0);
      if (received > 0) {
        buffer.commit(static_cast<size_t>(received));
        // Short of the space: drained, and edge-triggered epoll reports the next arrival.
        direction.source_readable =
            static_cast<size_t>(received) == space.size() || direction.source_hung_up;
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
    const ssize_t sent = send(to_fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      direction.sink_writable = static_cast<size_t>(sent) == pending.size();
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
    shutdown(to_fd, SHUT_WR);  // pass the half-close on
    direction.shut_down = true;
    progress = true;
  }
  return progress;
}

void TcpSession::on_timer(core::Timer& /*timer*/) noexcept {
  if (cluster_ == nullptr) {
    refuse("no ClientHello in time");
    return;
  }
  if (connecting_) {
    log_server_failure(
        cluster_->server(attempt_.server),
        {"upstream connect timed out", cluster_->config().name, "connect_failure", {}},
        host_.loop().now_ns());
    excluded_.add(attempt_.server);
    end_attempt(AttemptEnd::connect_failure);
    connecting_ = false;
    connect_next();  // closes the session when no attempt is left
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
  client_.reset();  // closing the descriptor takes it out of the loop's epoll set
  host_.session_closed(*this);
}

}  // namespace ballast::proxy
