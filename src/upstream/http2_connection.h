#pragma once
// One multiplexed HTTP/2 connection from a worker to one server (a cluster with `protocol: h2`
// or `h2c`): the socket (and TLS, which must agree on ALPN h2), the protocol state
// (http2::ClientConnection), and the requests in flight on it, each a stream with a user — a
// proxy's leg — that hears its response.
//
// A request that finds no connection with room opens a new one and waits on it (wait()) until
// it is established; others may wait on the same connection while it connects, up to its
// stream cap. Frames that users queue (new requests, body bytes, resets) are gathered into one
// send — through the loop's io_uring queue in clear, so many streams' requests share a write
// and an io_uring_enter with the iteration's other I/O (flush_soon).
//
// Ends: the server's GOAWAY lets the streams it took finish and admits no more; a connection
// lost or broken (EOF, reset, a protocol error) ends every stream on it with kConnectionLost;
// an idle connection closes after the pool's idle timeout.
//
// Owns: its UpstreamConnection (socket, TLS, read buffer) and the protocol state. Owned by its
// Http2Pool, which lists it until it closes; freed by the loop at the end of the iteration in
// which it closed (release_later), so a user's call never finds it gone mid-call.
// Threading: one worker's.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "core/io_queue.h"
#include "core/timer_wheel.h"
#include "http/head.h"
#include "http2/client_connection.h"
#include "upstream/upstream_connection.h"

namespace ballast::upstream {

class Http2Pool;

class Http2Connection final : public UpstreamConnection::User,
                              public http2::ResponseListener,
                              public core::Resumable,
                              public core::Releasable,
                              public core::Timer::Handler {
 public:
  // on_stream_closed's code when the connection itself was lost.
  static constexpr uint32_t kConnectionLost = 0xffffffff;

  // A request's side of a stream: what its user hears.
  class User {
   public:
    // The connection this user waited on is established (ok) or could not be (why).
    virtual void on_connected(bool ok, std::string_view why) noexcept = 0;
    virtual void on_response(const http2::Response& response) noexcept = 0;
    // Body bytes, valid during the call; consume() them as they are passed on.
    virtual void on_response_data(std::string_view bytes) noexcept = 0;
    virtual void on_response_end(std::span<const http::Header> trailers) noexcept = 0;
    // The stream ended without on_response_end (a reset: its code; or kConnectionLost).
    virtual void on_stream_failed(uint32_t error_code) noexcept = 0;
    // Frames went out: there may be room for more of the request's body.
    virtual void on_sent() noexcept = 0;

   protected:
    ~User() = default;
  };

  Http2Connection(core::EventLoop& loop, Http2Pool& home, UpstreamConnection& socket,
                  const http2::ClientLimits& limits, uint64_t connect_timeout_ms);

  bool established() const noexcept { return established_; }
  // Room for one more request: open (or connecting) and under the stream cap, no GOAWAY heard.
  bool has_room() const noexcept;

  // Waits for the connection to be established (on_connected follows).
  void wait(User& user) noexcept;
  // Opens a stream for `user` (established only); its id, or -1 when there is no room.
  int32_t open(User& user, const http2::RequestLine& line, std::span<const http::Header> fields,
               bool body_follows) noexcept;
  size_t send_body(int32_t stream, std::string_view bytes) noexcept;
  void end_body(int32_t stream, std::span<const http::Header> trailers) noexcept;
  void consume(int32_t stream, size_t bytes) noexcept;
  // The user gives up its stream (or its wait): the stream is reset with CANCEL, and the user
  // hears nothing more of it.
  void abandon(User& user, int32_t stream) noexcept;

  // UpstreamConnection::User, http2::ResponseListener and the loop's hooks.
  void on_upstream_io(uint32_t events) noexcept override;
  void on_response(int32_t stream, const http2::Response& response) noexcept override;
  void on_response_data(int32_t stream, std::string_view bytes) noexcept override;
  void on_response_end(int32_t stream, std::span<const http::Header> trailers) noexcept override;
  void on_stream_closed(int32_t stream, uint32_t error_code) noexcept override;
  void resume() noexcept override { flush(); }
  void release() noexcept override { delete this; }
  void on_timer(core::Timer& timer) noexcept override;
  // The result of the read (send) queued in the loop's I/O queue.
  void on_queued_io_done(bool send, ssize_t result) noexcept;

  // Closes at once; every user left hears of it. `why` goes to the waiting users.
  void close(std::string_view why) noexcept;

 private:
  static constexpr size_t kOutputBytes = 32 * 1024;

  struct OpenStream {
    int32_t id;
    User* user;
  };

  bool finish_connect(uint32_t events) noexcept;
  void connected() noexcept;
  void read() noexcept;
  void received(ssize_t result, bool drained) noexcept;
  void flush() noexcept;
  void sent(ssize_t result, size_t size) noexcept;
  void flush_soon() noexcept;
  void after_change() noexcept;
  User* user_of(int32_t stream) const noexcept;
  void forget_stream(std::vector<OpenStream>::iterator open) noexcept;
  void arm_timer(uint64_t timeout_ms) noexcept;
  ~Http2Connection() = default;

  core::EventLoop& loop_;
  Http2Pool& home_;
  UpstreamConnection* socket_;  // null once closed
  http2::ClientConnection protocol_;
  uint32_t max_streams_;
  uint64_t connect_timeout_ms_;
  core::Timer timer_{*this};            // connect deadline, then the idle timeout
  core::ByteBuffer out_{kOutputBytes};  // frames gathered for one send
  // Queued I/O: the socket buffer's room (a read) and out_'s bytes (a send) stay put until the
  // result.
  core::IoSlot<Http2Connection> reader_{*this, false};
  core::IoSlot<Http2Connection> writer_{*this, true};
  size_t queued_send_bytes_ = 0;
  bool readable_ = false;
  bool busy_ = false;  // within read(), a queued result, or flush(): no flush from users now
  std::vector<User*> waiting_;       // reserved to max_streams_
  std::vector<OpenStream> streams_;  // reserved to max_streams_
  bool established_ = false;
  bool handshaking_ = false;
  bool writable_ = false;
  bool closed_ = false;
};

}  // namespace ballast::upstream
