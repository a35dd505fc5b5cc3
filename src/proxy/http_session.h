#pragma once
// One client connection on an HTTP/1.1 listener: bytes in and out, request and response heads,
// body framing, keep-alive and pipelining, the client's deadlines, and upgrades to a tunnel.
// What happens to each request — its route, its attempts and retries, what is counted and
// logged — is its Exchange's (exchange.h); this class carries the bytes the exchange decides on.
//
// Owns: the client socket and its two buffers (bytes in; response heads and local answers out),
// the request's exchange, and its server side (upstream_leg.h: each attempt's connection, the
// response head and body framing). Threading: one worker's; never shared.
//
// The connection, per request:
//   reading_head --(head parsed, server chosen)--> proxying --(response forwarded and request
//                                                              delivered)--> reading_head
//                                                     |      \--(close needed)--> closing
//                                                     \--(101 to an Upgrade request)--> tunnel
// In a tunnel (WebSocket and other upgrades) bytes flow both ways unframed until both sides have
// closed, or the tunnel has been idle for timeouts.tunnel.
//
// Every socket is edge-triggered; readable/writable flags remember readiness until a call says
// EAGAIN, and drive() makes every step that can progress until none can. Bodies stream through
// the fixed buffers: when the receiver is slow the buffer fills and the sender is no longer read,
// which is the back-pressure, so memory per connection stays fixed whatever the body's size.
//
// Deadlines (timeouts.*): the client's waits each have their own timer, apart from the server's,
// so a client that trickles, stalls or stops reading is closed on its own clock and never blamed
// on a server: a request head must arrive whole within client_header of its first byte (of the
// connection's start, for the first one); a body may pause client_body at most; the client may
// leave answers unread for client_send at most; an idle keep-alive connection lasts keepalive.
//
// The request's body and the response stream independently (full duplex): a server may answer
// before it has read the whole body (an early answer) and read the rest afterwards, and the body
// still reaches it; the exchange ends when the response has been forwarded and the request has
// been delivered, or the server has closed — then the body was cut short, which the access log
// and ballast_request_bodies_cut_short_total say.
//
// Reads and sends in clear go through the loop's I/O queue when it is active (core/io_queue.h):
// the session queues one operation, on the client's socket or the server's, and does nothing
// else until its result comes back in the same loop iteration (on_io_done) — the buffers it
// names stay as they are. What happens meanwhile (readiness, a timer) is kept and replayed then.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/byte_buffer.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "http/head.h"
#include "http/request_parser.h"
#include "http/serializer.h"
#include "proxy/body_framer.h"
#include "proxy/exchange.h"
#include "proxy/session.h"
#include "proxy/upstream_leg.h"
#include "tls/server_context.h"
#include "tls/tls_stream.h"

namespace ballast::proxy {

class HttpSession final : public Session,
                          public core::IoHandler,
                          public core::Resumable,
                          public core::Timer::Handler,
                          public core::QueuedIo,
                          public UpstreamLeg::Owner {
 public:
  HttpSession(SessionHost& host, WorkerGeneration& generation,
              const config::ListenerConfig& listener, const tls::ServerContext* tls,
              core::FileDescriptor client, const core::SocketAddress& peer);
  ~HttpSession() override;

  // Registers the client socket and starts reading; false if the loop refused it.
  bool start() noexcept;

  void on_io(uint32_t events) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;
  void on_io_done(ssize_t result) noexcept override;
  void begin_drain() noexcept override;
  void close_now() noexcept override { close(); }
  void resume() noexcept override { drive(); }
  void release() noexcept override { delete this; }

  // UpstreamLeg::Owner.
  bool io_busy() const noexcept override { return queued(); }
  bool queue_upstream_send(int fd, std::string_view head, std::string_view body) noexcept override;
  bool queue_upstream_read(int fd, std::span<char> space) noexcept override;
  void drive() noexcept override;
  std::string_view request_body() const noexcept override;
  void request_body_sent(size_t bytes) noexcept override;
  bool request_body_finished() const noexcept override { return request_body_.finished(); }
  bool client_holds_up() const noexcept override;
  bool forward_interim(const http::ResponseHead& head) noexcept override;
  bool forward_response(const http::ResponseHead& head, std::span<const http::Header> extra,
                        BodyFramer::Coding& coding) noexcept override;
  bool forward_upgrade(const http::ResponseHead& head) noexcept override;
  void response_complete() noexcept override;
  void answer_locally(uint16_t status, std::string_view reason) noexcept override {
    respond_locally(status, reason);
  }
  void abort(std::string_view why) noexcept override { abort_exchange(why); }

 private:
  enum class Phase : uint8_t { reading_head, proxying, tunnel, closing };
  enum class QueuedOp : uint8_t { client_read, client_send, upstream_read, upstream_send };

  static constexpr size_t kClientBufferBytes = 16 * 1024;
  static constexpr size_t kClientOutBytes = 8 * 1024;
  static constexpr uint64_t kLingerMs = 2'000;

  // The client's bytes, in clear or through TLS.
  bool advance_handshake() noexcept;
  enum class Preface : uint8_t { no, maybe, yes };
  Preface h2c_preface() noexcept;
  void hand_over_to_http2() noexcept;
  void handshake_failed(tls::HandshakeError error) noexcept;
  bool handshaking() const noexcept { return tls_ != nullptr && !tls_->established(); }
  ssize_t receive_client(char* data, size_t size, bool& drained) noexcept;
  ssize_t send_client(std::string_view head, std::string_view body) noexcept;
  bool queue_send(QueuedOp op, int fd, std::string_view head, std::string_view body) noexcept;
  bool queue_read(QueuedOp op, int fd, std::span<char> space) noexcept;
  void replay_deferred() noexcept;
  void shut_client_write() noexcept;

  // The loop.
  void drive_rounds() noexcept;
  bool read_client() noexcept;
  bool client_received(ssize_t received, bool drained) noexcept;
  bool write_client() noexcept;
  bool client_sent(ssize_t result, size_t head_bytes, size_t total_bytes) noexcept;
  bool frame_request_body() noexcept;
  bool pump_tunnel() noexcept;

  // A request.
  bool start_request() noexcept;
  bool prepare_target() noexcept;
  bool apply_max_forwards() noexcept;
  void answer_options() noexcept;
  void answer_trace() noexcept;
  void write_upstream_head() noexcept;
  bool write_response_head(const http::ResponseHead& head, http::ClientDelivery delivery,
                           std::span<const http::Header> extra) noexcept;
  void finish_exchange(uint16_t status, balance::ServerIndex server) noexcept;
  void respond_locally(uint16_t status, std::string_view reason,
                       std::span<const http::Header> extra = {}) noexcept;
  void conclude_locally(uint16_t status) noexcept;
  void redirect_to_https() noexcept;
  void redirect_by_route() noexcept;
  void refuse_over_rate_limit() noexcept;

  // The connection's end.
  void abort_exchange(std::string_view why) noexcept;
  void enter_closing() noexcept;
  bool linger() noexcept;
  void close() noexcept;

  // Timers.
  uint64_t client_deadline_ns() const noexcept;
  void update_client_timer() noexcept;
  void on_client_timer() noexcept;
  bool waiting_on_client_send() const noexcept;
  bool waiting_on_client_body() const noexcept;

  uint64_t now_ns() const noexcept { return host_.loop().now_ns(); }
  WorkerCluster& cluster() const noexcept { return *exchange_.cluster(); }

  const config::ListenerConfig& listener_;
  const tls::ServerContext* tls_context_;  // null on a plaintext listener
  core::FileDescriptor client_;
  std::unique_ptr<tls::TlsStream> tls_;  // made at start() on a TLS listener
  const core::SocketAddress peer_;  // the client, as accepted or as its proxy's header named it
  core::IpText client_ip_;
  core::ByteBuffer client_in_{kClientBufferBytes};
  core::ByteBuffer client_out_{kClientOutBytes};
  core::Timer client_timer_{*this};
  bool client_readable_ = true;
  bool client_writable_ = true;
  bool client_eof_ = false;
  bool client_hung_up_ = false;  // epoll reported the peer's FIN (or an error)
  bool closed_ = false;
  bool lingering_ = false;
  Phase phase_ = Phase::reading_head;
  bool peer_trusted_ = false;  // forwarding.trusted_proxies holds the client's address
  bool h2c_possible_ = false;  // listener h2c, and no HTTP/1 request has begun
  std::array<char, 6> listen_port_{};
  size_t listen_port_length_ = 0;
  // The client's clocks (loop time): when the head being read began (0: none begun), the last
  // time the client gave bytes, the last time it took all we had for it (or took some), and
  // when the last response ended (keep-alive idle).
  uint64_t head_started_ns_ = 0;
  uint64_t client_read_ns_ = 0;
  uint64_t client_write_ns_ = 0;
  uint64_t idle_since_ns_ = 0;
  uint64_t accepted_ns_ = 0;       // the TLS handshake's deadline runs from here
  std::string redirect_location_;  // redirect_to_https's Location (its capacity is kept)

  // The operation in the loop's queue (queued()), and what happened while it was there.
  QueuedOp queued_op_ = QueuedOp::client_read;
  size_t queued_head_bytes_ = 0;  // sends: how much of the bytes is the head
  size_t queued_bytes_ = 0;       // the bytes to send, or the room to read into
  uint32_t deferred_client_events_ = 0;
  bool client_timer_deferred_ = false;

  // The current request.
  http::RequestHeadParser request_parser_;
  http::RequestHead request_;  // valid while its head is in client_in_ (until start_request ends)
  BodyFramer request_body_;
  Exchange exchange_;
  UpstreamLeg upstream_{*this, host_, exchange_};  // the server side: attempts and response
  bool request_active_ = false;                    // its exchange has begun and is not yet finished
  uint64_t request_bytes_ = 0;   // read from the client for this request: head and body
  uint64_t response_bytes_ = 0;  // written to the client for it
  bool request_keep_alive_ = false;
  bool client_keep_alive_ = false;
  // An HTTP/1.0 client: it gets no 1xx (RFC 9110 §15.2) and no chunked body (RFC 9112 §6.1).
  bool client_http10_ = false;
  bool upstream_shut_ = false;  // tunnel: our write side to the server is shut down
  bool client_shut_ = false;    // tunnel: our write side to the client is shut down
};

}  // namespace ballast::proxy
