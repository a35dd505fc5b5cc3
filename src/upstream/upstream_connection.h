#pragma once
// One connection from a worker to an upstream server: its socket, its read buffer, and whose
// it is right now — a session's, while an attempt uses it, or its pool's, while it idles.
//
// Owned by the worker: created by a session when no idle connection is pooled, handed back to
// the pool when a response leaves it reusable, freed (at the end of a loop iteration) when it
// closes. Threading: one worker's.
//
// TLS (a cluster with upstream_tls): start_tls() puts a TLS stream over a new connection; its
// user runs the handshake (handshake()) before the first byte, and every byte then goes through
// receive() and send(), which are plain socket calls otherwise. While idle, a TLS connection
// reads what the server sends without being asked — a TLS 1.3 session ticket — and stays; any
// application byte, alert or close while idle closes it, as on a plain one.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/byte_buffer.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "tls/client_context.h"
#include "tls/tls_stream.h"

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
  ~UpstreamConnection();

  int fd() const noexcept { return fd_.get(); }
  core::ByteBuffer& in() noexcept { return in_; }
  ConnectionPool& home() noexcept { return *home_; }
  bool reused() const noexcept { return reused_; }

  // Puts TLS over this new connection, naming the server `server_host` (its configured host)
  // and offering the home pool's session; false when OpenSSL cannot make the connection.
  bool start_tls(const tls::ClientContext& context, const std::string& server_host) noexcept;
  tls::TlsStream* tls() noexcept { return tls_.get(); }
  // Whether the next byte may flow: a plain connection, or a TLS one whose handshake is done.
  bool secured() const noexcept { return tls_ == nullptr || tls_->established(); }

  // As recv and send (tls_stream.h for the TLS behaviour): bytes moved, 0 at EOF (receive),
  // -1 with errno EAGAIN when the socket cannot move.
  ssize_t receive(char* data, size_t size, bool& drained) noexcept;
  ssize_t send(std::string_view head, std::string_view body) noexcept;
  // Ends what we send (close_notify first, on TLS); the server may still answer.
  void shut_write() noexcept;

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
  void read_while_idle() noexcept;

  core::EventLoop& loop_;
  core::FileDescriptor fd_;
  ConnectionPool* home_;
  core::ByteBuffer in_{kBufferBytes};
  core::Timer idle_timer_{*this};
  User* user_ = nullptr;
  bool reused_ = false;
  std::unique_ptr<tls::TlsStream> tls_;  // null on a plain connection
};

}  // namespace ballast::upstream
