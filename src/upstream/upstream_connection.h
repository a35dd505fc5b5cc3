#pragma once
// One connection from a worker to an upstream server: its socket, its read buffer, and whose
// it is right now — a session's, while an attempt uses it, or its pool's, while it idles.
//
// Owned by the worker: created by a session when no idle connection is pooled, handed back to
// the pool when a response leaves it reusable, freed (at the end of a loop iteration) when it
// closes. Threading: one worker's.

#include <cstdint>

#include "core/byte_buffer.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "core/timer_wheel.h"

namespace ballast::upstream {

class ConnectionPool;

class UpstreamConnection final : public core::IoHandler,
                                 public core::Releasable,
                                 public core::Timer::Handler {
 public:
  static constexpr size_t kBufferBytes = 16 * 1024;

  // Whoever is using the connection for an attempt gets its I/O events.
  class User {
   public:
    virtual void on_upstream_io(uint32_t events) noexcept = 0;

   protected:
    ~User() = default;
  };

  UpstreamConnection(core::EventLoop& loop, core::FileDescriptor fd, ConnectionPool& home);

  int fd() const noexcept { return fd_.get(); }
  core::ByteBuffer& in() noexcept { return in_; }
  ConnectionPool& home() noexcept { return *home_; }
  bool reused() const noexcept { return reused_; }

  void attach(User& user) noexcept { user_ = &user; }
  void detach() noexcept { user_ = nullptr; }
  void mark_reused() noexcept { reused_ = true; }

  // Starts the pool's idle timeout; any event while idle means the server closed or sent
  // garbage, so the connection closes.
  void start_idling(uint64_t idle_timeout_ms) noexcept;
  void stop_idling() noexcept { idle_timer_.cancel(); }

  // Closes the socket now and frees the object at the end of this loop iteration.
  void close() noexcept;
  bool closed() const noexcept { return !fd_.valid(); }

  void on_io(uint32_t events) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;
  void release() noexcept override { delete this; }

 private:
  core::EventLoop& loop_;
  core::FileDescriptor fd_;
  ConnectionPool* home_;
  core::ByteBuffer in_{kBufferBytes};
  core::Timer idle_timer_{*this};
  User* user_ = nullptr;
  bool reused_ = false;
};

}  // namespace ballast::upstream
