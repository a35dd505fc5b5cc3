#include "upstream/upstream_connection.h"

#include <sys/socket.h>

#include <cerrno>

#include "core/clock.h"
#include "upstream/connection_pool.h"

namespace ballast::upstream {

UpstreamConnection::UpstreamConnection(core::EventLoop& loop, core::FileDescriptor fd,
                                       ConnectionPool& home)
    : loop_(loop), fd_(std::move(fd)), home_(&home) {}

UpstreamConnection::~UpstreamConnection() = default;

bool UpstreamConnection::start_tls(const tls::ClientContext& context,
                                   const std::string& server_host) noexcept {
  tls_ = std::make_unique<tls::TlsStream>(context.new_connection(server_host, home_->session()),
                                          fd_.get());
  return tls_->valid();
}

ssize_t UpstreamConnection::receive(char* data, size_t size, bool& drained) noexcept {
  return tls::receive_on(tls_.get(), fd_.get(), data, size, drained);
}

ssize_t UpstreamConnection::send(std::string_view head, std::string_view body) noexcept {
  return tls_ != nullptr ? tls_->send_gathered(head, body)
                         : core::send_gathered(fd_.get(), head, body);
}

void UpstreamConnection::shut_write() noexcept {
  if (tls_ != nullptr) {
    tls_->close_notify();
  }
  shutdown(fd_.get(), SHUT_WR);
}

void UpstreamConnection::start_idling(uint64_t idle_timeout_ms) noexcept {
  idle_timer_.arm(loop_.timers(), loop_.now_ns() + idle_timeout_ms * core::kNsPerMs);
}

void UpstreamConnection::close() noexcept {
  if (closed()) {
    return;
  }
  if (user_ == nullptr) {
    home_->forget(*this);
  }
  idle_timer_.cancel();
  if (tls_ != nullptr) {
    // A clean end, and without it OpenSSL marks the session unresumable when the SSL is freed.
    tls_->close_notify();
  }
  fd_.reset();  // closing the descriptor takes it out of the loop's epoll set
  user_ = nullptr;
  loop_.release_later(*this);
}

void UpstreamConnection::on_io(uint32_t events) noexcept {
  if (closed()) {
    return;  // closed earlier in this batch of events
  }
  if (user_ != nullptr) {
    user_->on_upstream_io(events);
  } else if (tls_ != nullptr &&
             (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == EPOLLIN) {
    read_while_idle();
  } else if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    close();  // idle: the server hung up (or spoke out of turn)
  }
}

// TLS records arriving on an idle connection: a session ticket is taken (the context's callback
// keeps it) and the connection stays; anything else ends it.
void UpstreamConnection::read_while_idle() noexcept {
  char byte;
  bool drained = false;
  if (tls_->receive(&byte, 1, drained) < 0 && errno == EAGAIN) {
    return;  // only handshake messages: nothing for the application
  }
  close();
}

void UpstreamConnection::on_timer(core::Timer& /*timer*/) noexcept {
  close();
}

}  // namespace ballast::upstream
