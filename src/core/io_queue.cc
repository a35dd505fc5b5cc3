#include "core/io_queue.h"

#include <liburing.h>

#include <cerrno>
#include <utility>

namespace ballast::core {
namespace {

constexpr int kSendFlags = MSG_DONTWAIT | MSG_NOSIGNAL;
constexpr int kReadFlags = MSG_DONTWAIT;

// SUBMIT_ALL: one failing operation does not stop the ones after it; COOP_TASKRUN: no interrupt
// to run completion work, which inline operations never need. Both exist since Linux 5.19; an
// older kernel gets a plain ring.
std::unique_ptr<io_uring> open_ring(unsigned entries) {
  auto ring = std::make_unique<io_uring>();
  if (io_uring_queue_init(entries, ring.get(),
                          IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN) == 0 ||
      io_uring_queue_init(entries, ring.get(), 0) == 0) {
    return ring;
  }
  return nullptr;
}

}  // namespace

IoQueue::IoQueue(bool use_ring) : ring_(use_ring ? open_ring(kRingEntries) : nullptr) {}

IoQueue::~IoQueue() {
  if (ring_ != nullptr) {
    io_uring_queue_exit(ring_.get());
  }
}

void IoQueue::queue_send(QueuedIo& io, int fd, std::string_view head,
                         std::string_view body) noexcept {
  io.parts_[0] = {const_cast<char*>(head.data()), head.size()};
  io.parts_[1] = {const_cast<char*>(body.data()), body.size()};
  io.message_ = {};
  io.message_.msg_iov = head.empty() ? io.parts_ + 1 : io.parts_;
  io.message_.msg_iovlen = head.empty() || body.empty() ? 1 : 2;
  link(io, fd, false);
}

void IoQueue::queue_read(QueuedIo& io, int fd, std::span<char> space) noexcept {
  io.parts_[0] = {space.data(), space.size()};
  link(io, fd, true);
}

void IoQueue::link(QueuedIo& io, int fd, bool read) noexcept {
  io.fd_ = fd;
  io.read_ = read;
  io.state_ = QueuedIo::State::waiting;
  io.next_ = waiting_;
  waiting_ = &io;
}

void IoQueue::cancel(QueuedIo& io) noexcept {
  for (QueuedIo** link = &waiting_; *link != nullptr; link = &(*link)->next_) {
    if (*link == &io) {
      *link = io.next_;
      io.state_ = QueuedIo::State::idle;
      return;
    }
  }
  // In the chunk being flushed: its result is dropped when it comes.
  if (io.state_ != QueuedIo::State::idle) {
    io.state_ = QueuedIo::State::cancelled;
  }
}

void IoQueue::flush() noexcept {
  QueuedIo* batch = std::exchange(waiting_, nullptr);
  while (batch != nullptr) {
    batch = take_chunk(batch);
    if (ring_ == nullptr) {
      for (uint32_t i = 0; i < chunk_size_; ++i) {
        const bool cancelled = chunk_[i]->state_ == QueuedIo::State::cancelled;
        chunk_[i]->state_ = QueuedIo::State::idle;
        if (!cancelled) {
          make_directly(*chunk_[i]);  // the ring was given up earlier in this flush
        }
      }
    } else if (chunk_size_ != 0) {
      submit_chunk();
    }
  }
  chunk_size_ = 0;
}

// Moves up to a ring's worth of operations from `batch` into chunk_; returns the rest.
QueuedIo* IoQueue::take_chunk(QueuedIo* batch) noexcept {
  chunk_size_ = 0;
  while (batch != nullptr && chunk_size_ < kRingEntries) {
    QueuedIo* io = batch;
    batch = io->next_;
    io->state_ = QueuedIo::State::submitted;
    chunk_[chunk_size_++] = io;
  }
  return batch;
}

void IoQueue::submit_chunk() noexcept {
  for (uint32_t i = 0; i < chunk_size_; ++i) {
    QueuedIo& io = *chunk_[i];
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());  // the ring holds a whole chunk
    if (io.read_) {
      io_uring_prep_recv(sqe, io.fd_, io.parts_[0].iov_base, io.parts_[0].iov_len, kReadFlags);
    } else {
      io_uring_prep_sendmsg(sqe, io.fd_, &io.message_, kSendFlags);
    }
    io_uring_sqe_set_data(sqe, &io);
  }
  const int taken = io_uring_submit(ring_.get());
  if (taken != static_cast<int>(chunk_size_) || !deliver(chunk_size_)) {
    give_up(taken > 0 ? static_cast<uint32_t>(taken) : 0);
  }
}

// Delivers `expected` results; false if the ring failed on the way.
bool IoQueue::deliver(uint32_t expected) noexcept {
  while (expected > 0) {
    io_uring_cqe* cqe = nullptr;
    const int waited = io_uring_wait_cqe(ring_.get(), &cqe);  // no syscall: they are there
    if (waited == -EINTR) {
      continue;
    }
    if (waited != 0) {
      return false;
    }
    unsigned head = 0;
    unsigned seen = 0;
    io_uring_for_each_cqe(ring_.get(), head, cqe) {
      auto* io = static_cast<QueuedIo*>(io_uring_cqe_get_data(cqe));
      const bool cancelled = io->state_ == QueuedIo::State::cancelled;
      io->state_ = QueuedIo::State::idle;
      if (!cancelled) {
        io->on_io_done(cqe->res);
      }
      ++seen;
    }
    io_uring_cq_advance(ring_.get(), seen);
    expected -= seen < expected ? seen : expected;
  }
  return true;
}

// The ring failed (only a kernel out of memory does): the kernel took the first `taken`
// operations of the chunk. Their results not yet delivered are unknown, and their owners hear
// -EIO (the connection is closed, as on any socket error); the ones it did not take are made
// directly. The ring is closed for good, unsubmitted entries and all — nothing left in it may
// reach a descriptor that by then is another connection's — and every later operation is made
// directly.
void IoQueue::give_up(uint32_t taken) noexcept {
  io_uring_queue_exit(ring_.get());
  ring_.reset();
  for (uint32_t i = 0; i < chunk_size_; ++i) {
    QueuedIo& io = *chunk_[i];
    const QueuedIo::State state = io.state_;
    if (state != QueuedIo::State::submitted && state != QueuedIo::State::cancelled) {
      continue;  // delivered (and perhaps queued again since)
    }
    io.state_ = QueuedIo::State::idle;
    if (state == QueuedIo::State::cancelled) {
      continue;
    }
    if (i < taken) {
      io.on_io_done(-EIO);
    } else {
      make_directly(io);
    }
  }
}

void IoQueue::make_directly(QueuedIo& io) noexcept {
  const ssize_t result = io.read_
                             ? recv(io.fd_, io.parts_[0].iov_base, io.parts_[0].iov_len, kReadFlags)
                             : sendmsg(io.fd_, &io.message_, kSendFlags);
  io.on_io_done(result >= 0 ? result : -errno);
}

}  // namespace ballast::core
