#include "upstream/upstream_connection.h"

#include "core/clock.h"
#include "upstream/connection_pool.h"

namespace ballast::upstream {

UpstreamConnection::UpstreamConnection(core::EventLoop& loop, core::FileDescriptor fd,
                                       ConnectionPool& home)
    : loop_(loop), fd_(std::move(fd)), home_(&home) {}

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
  } else if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    close();  // idle: the server hung up (or spoke out of turn)
  }
}

void UpstreamConnection::on_timer(core::Timer& /*timer*/) noexcept {
  close();
}

}  // namespace ballast::upstream
