#pragma once
// One client connection speaking HTTP/2 (RFC 9113): over TLS when ALPN chose "h2", or in clear
// when the listener takes prior knowledge (`h2c: true`) and the connection opened with the
// preface. An HttpSession accepts every connection and hands it over here at that point, with
// the bytes it has read (adopt in SessionHost).
//
// The protocol is http2::ServerConnection's (nghttp2: framing, HPACK, stream states, flow
// control, the published attacks' limits); this class moves the connection's bytes, runs each
// stream as an Http2Stream, and keeps the connection's deadlines.
//
// Deadlines (timeouts.*): the first request is due within client_header of the hand-over; with
// no stream open the connection lasts keepalive; bytes we owe the client it must take within
// client_send; a stream whose body stopped coming waits client_body, one whose response the
// client's window holds waits client_send (a zero-window stall) — then that stream alone ends.
//
// Drain and reload: GOAWAY naming the last stream taken (graceful), the streams in flight
// finish, then the connection closes. A connection of a retired generation sends it after its
// next response, so new streams go to a connection under the new configuration.
//
// Owns: the client socket, its TLS stream (if any), the protocol state, the streams (kept for
// reuse while the connection lives). Threading: one worker's; never shared.

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/byte_buffer.h"
#include "core/io_queue.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "http2/server_connection.h"
#include "proxy/http2_stream.h"
#include "proxy/session.h"
#include "tls/tls_stream.h"

namespace ballast::proxy {

class Http2Session final : public Session,
                           public core::IoHandler,
                           public core::Resumable,
                           public core::Timer::Handler,
                           public http2::StreamListener {
 public:
  // `received`: what the HTTP/1 side read before handing over (the preface, frames after it).
  Http2Session(SessionHost& host, WorkerGeneration& generation,
               const config::ListenerConfig& listener, core::FileDescriptor client,
               std::unique_ptr<tls::TlsStream> tls, const core::SocketAddress& peer, bool trusted,
               std::string_view received);
  ~Http2Session() override;

  // Watches the socket and handles what was received; false if the loop refused it.
  bool start() noexcept;

  void on_io(uint32_t events) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;
  // The result of the read (send) queued in the loop's I/O queue.
  void on_queued_io_done(bool send, ssize_t result) noexcept;
  void begin_drain() noexcept override;
  void close_now() noexcept override { close(); }
  void resume() noexcept override;
  void release() noexcept override { delete this; }

  // http2::StreamListener.
  void on_request(int32_t stream, const http2::Request& request) noexcept override;
  void on_request_data(int32_t stream, std::string_view bytes) noexcept override;
  void on_request_end(int32_t stream, std::span<const http::Header> trailers) noexcept override;
  void on_stream_closed(int32_t stream, uint32_t error_code) noexcept override;

  // For its streams.
  void drive() noexcept;
  http2::ServerConnection& protocol() noexcept { return protocol_; }
  SessionHost& host() noexcept { return host_; }
  WorkerGeneration& generation() noexcept { return generation_; }
  const config::ListenerConfig& listener() const noexcept { return listener_; }
  const ClientInfo& client() const noexcept { return client_info_; }
  // Room for the values a stream renders into a head it hands to the protocol, which copies
  // them: one buffer for all the connection's streams, grown once.
  std::string& scratch() noexcept { return scratch_; }
  bool secure() const noexcept { return tls_ != nullptr; }
  std::string_view listen_port() const noexcept { return listen_port_; }
  // A stream answered: on a retired generation, the connection asks for no more streams.
  void stream_answered() noexcept;

 private:
  static constexpr size_t kInBufferBytes = 16 * 1024;
  // nghttp2 hands its output over one frame at a time; gathered here, a round's frames (every
  // stream's) leave in one send.
  static constexpr size_t kOutBufferBytes = 32 * 1024;
  static constexpr size_t kTlsRecordBytes = 16 * 1024;  // a full record goes at once

  bool read_client() noexcept;
  bool client_received(ssize_t received, bool drained) noexcept;
  bool write_client() noexcept;
  bool client_sent(ssize_t sent, size_t size) noexcept;
  bool pump_streams() noexcept;
  Http2Stream* find(int32_t id) noexcept;
  void shut_down() noexcept;
  uint64_t client_deadline_ns() const noexcept;
  void update_timer() noexcept;
  void close() noexcept;
  void count_stream_closed() noexcept;
  uint64_t now_ns() const noexcept { return host_.loop().now_ns(); }

  const config::ListenerConfig& listener_;
  core::FileDescriptor client_;
  std::unique_ptr<tls::TlsStream> tls_;  // null in clear
  const core::SocketAddress peer_;  // the client, as accepted or as its proxy's header named it
  core::IpText client_ip_;
  ClientInfo client_info_;  // views client_ip_ and tls_
  std::string listen_port_;
  std::string scratch_;
  http2::ServerConnection protocol_;
  core::ByteBuffer in_{kInBufferBytes};
  core::ByteBuffer out_{kOutBufferBytes};
  // Queued I/O: in_'s free space (a read) and out_'s bytes (a send) stay put until the result.
  core::IoSlot<Http2Session> reader_{*this, false};
  core::IoSlot<Http2Session> writer_{*this, true};
  size_t queued_send_bytes_ = 0;
  core::Timer timer_{*this};
  std::vector<std::unique_ptr<Http2Stream>> streams_;  // open, in no order
  std::vector<std::unique_ptr<Http2Stream>> spare_;    // closed, kept for the next streams
  bool readable_ = true;
  bool writable_ = true;
  bool client_eof_ = false;
  bool closed_ = false;
  bool driving_ = false;
  // TLS: frames wait for the end of the loop iteration (a resume) to leave in as few records
  // and sends as they fill, unless a record's worth is ready.
  bool tls_write_due_ = false;
  bool shut_down_ = false;  // GOAWAY sent: no new streams
  bool ever_streamed_ = false;
  // Loop time: the hand-over (the first request's deadline), when the last stream closed (the
  // idle deadline), and when the client last took bytes (or had none owed).
  uint64_t started_ns_ = 0;
  uint64_t idle_since_ns_ = 0;
  uint64_t client_write_ns_ = 0;
};

}  // namespace ballast::proxy
