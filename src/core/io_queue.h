#pragma once
// Socket reads and writes gathered over part of a loop iteration and made together, in one
// io_uring_enter, instead of one recv or sendmsg syscall each.
//
// Why: entering the kernel costs more than the loopback TCP work of a small read or write on the
// virtual machines ballast runs on (page-table isolation: measured ~1.5 µs a syscall, against
// ~1.3 µs for a whole send and receive through io_uring). A worker handling seven sockets in an
// iteration pays that entry once instead of seven times.
//
// The operations are the same non-blocking calls (MSG_DONTWAIT): the kernel makes each one
// during the submission and completes it there — bytes moved, a short count, 0 at a peer's end,
// -EAGAIN when there is nothing to read or no room to write — so every result is delivered
// before the loop waits again, and its owner carries on as after a direct call. Without io_uring
// (an old kernel, a seccomp profile that forbids it, `io_uring: false`) the queue is inactive and
// owners call recv and sendmsg themselves.
//
// Owns: the ring (when the kernel gives one) and the list of queued operations. The bytes, the
// buffer and the descriptor of a queued operation are its owner's, which leaves them untouched
// until on_io_done, or cancels it before closing the descriptor. Threading: one loop's.

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

struct io_uring;

namespace ballast::core {

class QueuedIo {
 public:
  // The result, as recv's or sendmsg's: bytes moved (short when the socket had no more, or no
  // more room), 0 at the peer's end (reads), or -errno (-EAGAIN: nothing to move now).
  virtual void on_io_done(ssize_t result) noexcept = 0;

  bool queued() const noexcept { return state_ != State::idle; }

 protected:
  ~QueuedIo() = default;

 private:
  friend class IoQueue;
  enum class State : uint8_t { idle, waiting, submitted, cancelled };

  iovec parts_[2]{};
  msghdr message_{};
  int fd_ = -1;
  bool read_ = false;
  State state_ = State::idle;
  QueuedIo* next_ = nullptr;  // in the waiting list
};

// One of an owner's slots in the queue, for an owner that may have a read and a send queued at
// once: each result goes to owner.on_queued_io_done(send, result).
template <typename Owner>
class IoSlot final : public QueuedIo {
 public:
  IoSlot(Owner& owner, bool send) noexcept : owner_(owner), send_(send) {}
  void on_io_done(ssize_t result) noexcept override { owner_.on_queued_io_done(send_, result); }

 private:
  Owner& owner_;
  const bool send_;
};

class IoQueue {
 public:
  // With `use_ring`, asks the kernel for an io_uring; active() says whether it gave one.
  explicit IoQueue(bool use_ring);
  ~IoQueue();
  IoQueue(const IoQueue&) = delete;
  IoQueue& operator=(const IoQueue&) = delete;

  bool active() const noexcept { return ring_ != nullptr; }

  // Queues one send of `head` then `body` (either may be empty, not both) on `fd`, or one read
  // into `space`; the result comes to io.on_io_done() in the next flush(). Only when active(),
  // and not while `io` is still queued.
  void queue_send(QueuedIo& io, int fd, std::string_view head, std::string_view body) noexcept;
  void queue_read(QueuedIo& io, int fd, std::span<char> space) noexcept;

  // Forgets a queued operation (its owner is closing): a waiting one is never made; one already
  // submitted gets no on_io_done.
  void cancel(QueuedIo& io) noexcept;

  bool pending() const noexcept { return waiting_ != nullptr; }

  // Makes every operation queued so far and delivers their results. Operations queued by the
  // on_io_done callbacks wait for the next flush.
  void flush() noexcept;

 private:
  static constexpr uint32_t kRingEntries = 256;

  void link(QueuedIo& io, int fd, bool read) noexcept;
  QueuedIo* take_chunk(QueuedIo* batch) noexcept;
  void submit_chunk() noexcept;
  bool deliver(uint32_t expected) noexcept;
  void give_up(uint32_t taken) noexcept;
  static void make_directly(QueuedIo& io) noexcept;

  std::unique_ptr<io_uring> ring_;
  QueuedIo* waiting_ = nullptr;  // LIFO: the order of operations on different sockets is free
  // The operations being submitted, in submission order (what the kernel took is a prefix).
  std::array<QueuedIo*, kRingEntries> chunk_{};
  uint32_t chunk_size_ = 0;
};

}  // namespace ballast::core
