#pragma once
// One client connection on an HTTP listener: reads requests, chooses a server for each, and
// streams the request to it and the response back, with keep-alive and pipelining on both sides.
//
// Owns: the client socket and its two buffers (bytes in; response heads and local answers out),
// the serialized head of the current request (kept for a retry), and, while an attempt runs,
// the upstream connection it uses. Threading: one worker's; never shared.
//
// The exchange, per request:
//   reading_head --(head parsed, server chosen)--> proxying --(response forwarded)--> reading_head
//                                                     |      \--(close needed)--> closing
//                                                     \--(101 to an Upgrade request)--> tunnel
// In a tunnel (WebSocket and other upgrades) bytes flow both ways unframed until both sides have
// closed, or the tunnel has been idle for timeouts.tunnel.
//
// Deadlines (timeouts.*): the client's waits each have their own timer, apart from the server's,
// so a client that trickles, stalls or stops reading is closed on its own clock and never blamed
// on a server: a request head must arrive whole within client_header of its first byte (of the
// connection's start, for the first one); a body may pause client_body at most; the client may
// leave answers unread for client_send at most; an idle keep-alive connection lasts keepalive.
// Every socket is edge-triggered; readable/writable flags remember readiness until a call says
// EAGAIN, and drive() makes every step that can progress until none can. Bodies stream through
// the fixed buffers: when the receiver is slow the buffer fills and the sender is no longer read,
// which is the back-pressure, so memory per connection stays fixed whatever the body's size.
//
// Attempts and retries (Envoy's and nginx's rules): a failed attempt is retried on another
// server while `retry.attempts` allows, the failure kind is in `retry.on`, the request may be
// sent again (below), no body byte has been streamed to a server, no response byte has reached
// the client, and the cluster's retry budget has room. A reused keep-alive connection that turns
// out closed is retried once on a fresh connection to the same server, without counting: that
// race is the pool's, not the server's — but only for a request that may be sent again.
//
// Sent again: a request that is not idempotent (RFC 9110 §9.2.2: POST, PATCH, any unknown
// method) is never sent a second time once a byte of it reached a server, since the server may
// have acted on it, unless retry.non_idempotent is set or it carries Idempotency-Key.

#include <array>
#include <cstdint>
#include <string_view>

#include "balance/policy.h"
#include "core/byte_buffer.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "http/head.h"
#include "http/request_parser.h"
#include "http/response_parser.h"
#include "observe/trace_context.h"
#include "proxy/body_framer.h"
#include "proxy/session.h"
#include "upstream/upstream_connection.h"

namespace ballast::proxy {

class HttpSession final : public Session,
                          public core::IoHandler,
                          public core::Resumable,
                          public core::Timer::Handler,
                          public upstream::UpstreamConnection::User {
 public:
  HttpSession(SessionHost& host, WorkerGeneration& generation,
              const config::ListenerConfig& listener, core::FileDescriptor client,
              const core::SocketAddress& peer);
  ~HttpSession() override;

  // Registers the client socket and starts reading; false if the loop refused it.
  bool start() noexcept;

  void on_io(uint32_t events) noexcept override;
  void on_upstream_io(uint32_t events) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;
  void begin_drain() noexcept override;
  void close_now() noexcept override { close(); }
  void resume() noexcept override { drive(); }
  void release() noexcept override { delete this; }

 private:
  enum class Phase : uint8_t { reading_head, proxying, tunnel, closing };
  enum class Failure : uint8_t { connect_failure, reset, timeout, server_error, bad_response };

  static constexpr size_t kClientBufferBytes = 16 * 1024;
  static constexpr size_t kClientOutBytes = 8 * 1024;
  static constexpr size_t kHashKeyBytes = 256;
  static constexpr uint64_t kLingerMs = 2'000;
  // A request id kept from a trusted peer is at most this long (nginx's $request_id is 32).
  static constexpr size_t kMaxRequestIdBytes = 64;

  void drive() noexcept;
  void drive_rounds() noexcept;
  bool read_client() noexcept;
  bool start_request() noexcept;
  bool prepare_target() noexcept;
  void write_upstream_head(std::string_view traceparent) noexcept;
  void set_request_id(const http::RequestHead& request) noexcept;
  bool pump_tunnel() noexcept;
  void start_tunnel() noexcept;
  void refuse_oversized_response() noexcept;
  bool frame_request_body() noexcept;
  bool write_upstream() noexcept;
  bool read_upstream() noexcept;
  bool handle_response() noexcept;
  bool handle_response_head() noexcept;
  bool write_client() noexcept;

  enum class Opened : uint8_t { yes, failed, overflow };

  void start_attempt() noexcept;
  Opened open_upstream(bool allow_pooled) noexcept;
  void end_attempt(AttemptEnd end) noexcept;
  void fail_attempt(Failure failure, std::string_view detail) noexcept;
  bool may_retry(Failure failure) const noexcept;
  bool may_send_again() const noexcept;
  bool forward_response_head(bool keep_alive, std::span<const http::Header> extra) noexcept;
  void complete_exchange() noexcept;
  void request_done(uint16_t status, balance::ServerIndex server) noexcept;
  std::string_view begin_trace(const http::RequestHead& request) noexcept;
  void trace_retry() noexcept;
  void submit_attempt_span(AttemptEnd end) noexcept;
  void log_access(uint16_t status, balance::ServerIndex server) noexcept;
  void submit_request_span(uint16_t status, balance::ServerIndex server) noexcept;
  // The method and target of the request in progress, from the head kept for retries; empty
  // when it was answered before a head was written (a bad request, no route).
  std::pair<std::string_view, std::string_view> request_line() const noexcept;
  void finish_request() noexcept;
  void respond_locally(uint16_t status, std::string_view reason) noexcept;
  void abort_exchange(std::string_view why) noexcept;
  void enter_closing() noexcept;
  bool linger() noexcept;
  void close() noexcept;

  uint64_t client_deadline_ns() const noexcept;
  void update_client_timer() noexcept;
  void on_client_timer() noexcept;
  bool waiting_on_client_send() const noexcept;
  bool waiting_on_client_body() const noexcept;
  void arm_upstream_timer(uint64_t timeout_ms) noexcept;
  uint64_t response_timeout_ms() const noexcept;
  void set_hash_key(const http::RequestHead& request) noexcept;
  void set_affinity(const http::RequestHead& request) noexcept;
  static bool in_retry_budget(Failure failure) noexcept;
  bool take_retry(Failure failure) noexcept;
  void refuse_overflow() noexcept;
  void respond_to_failure(Failure failure) noexcept;
  void give_back_retry() noexcept;
  bool upstream_request_written() const noexcept;

  const config::ListenerConfig& listener_;
  core::FileDescriptor client_;
  core::IpText client_ip_;
  core::ByteBuffer client_in_{kClientBufferBytes};
  core::ByteBuffer client_out_{kClientOutBytes};
  core::Timer client_timer_{*this};
  bool client_readable_ = true;
  bool client_writable_ = true;
  bool client_eof_ = false;
  bool client_hung_up_ = false;  // epoll reported the peer's FIN (or an error)
  bool peer_trusted_ = false;    // forwarding.trusted_proxies holds the client's address
  std::array<char, 6> listen_port_{};
  size_t listen_port_length_ = 0;
  // The client's clocks (loop time): when the head being read began (0: none begun), and the
  // last time the client gave bytes, or took all we had for it.
  uint64_t head_started_ns_ = 0;
  uint64_t client_read_ns_ = 0;
  uint64_t client_write_ns_ = 0;
  uint64_t idle_since_ns_ = 0;  // the last response's end (keep-alive idle)
  bool closed_ = false;
  bool lingering_ = false;
  Phase phase_ = Phase::reading_head;

  // The current request.
  http::RequestHeadParser request_parser_;
  http::RequestHead request_;  // valid while its head is in client_in_ (until start_request ends)
  BodyFramer request_body_;
  core::ByteBuffer upstream_request_{4 * 1024};  // the serialized head, kept for retries
  WorkerCluster* cluster_ = nullptr;
  bool request_active_ = false;
  bool holds_request_limit_ = false;  // counts against the cluster's max_requests
  bool request_counted_ = false;      // its answer is in the counters (request_done)
  uint64_t request_started_ns_ = 0;
  bool request_line_ready_ = false;  // upstream_request_ holds this request's head
  uint64_t request_bytes_ = 0;       // read from the client for this request: head and body
  uint64_t response_bytes_ = 0;      // written to the client for it

  // Tracing, while the worker traces: the request's trace, its current attempt's span id (sent
  // upstream in traceparent), and the status that attempt got (0: none).
  observe::RequestTrace trace_;
  observe::SpanId attempt_span_;
  uint16_t attempt_status_ = 0;
  std::array<char, observe::kTraceParentBytes> traceparent_{};
  bool method_is_head_ = false;
  bool request_replayable_ = false;  // may be sent again once a byte of it reached a server
  bool upgrade_requested_ = false;   // the head asked to switch protocols
  bool upstream_shut_ = false;       // tunnel: our write side to the server is shut down
  bool client_shut_ = false;         // tunnel: our write side to the client is shut down
  std::array<char, kMaxRequestIdBytes> request_id_{};
  size_t request_id_length_ = 0;
  bool request_keep_alive_ = false;
  uint64_t request_body_bytes_sent_ = 0;  // to any server: once > 0, no replay
  std::array<char, kHashKeyBytes> hash_key_storage_{};
  size_t hash_key_length_ = 0;
  balance::ExcludedServers excluded_;
  balance::ServerIndex affinity_server_ = balance::kNoServer;  // the cookie's server, if any
  uint32_t attempts_made_ = 0;
  bool stale_connection_retried_ = false;
  Failure last_failure_ = Failure::connect_failure;  // the one a retry is retrying

  // The current attempt.
  upstream::UpstreamConnection* upstream_ = nullptr;
  Attempt attempt_;
  core::Timer upstream_timer_{*this};
  size_t upstream_head_sent_ = 0;
  bool attempt_is_retry_ = false;
  bool retry_in_budget_ = false;  // the current retry counts in the worker's retry budget
  bool connecting_ = false;
  bool upstream_readable_ = false;
  bool upstream_writable_ = false;
  bool upstream_eof_ = false;
  bool upstream_hung_up_ = false;
  bool response_bytes_seen_ = false;
  bool response_started_ = false;  // a response head went to the client: no retry now
  http::ResponseHeadParser response_parser_;
  http::ResponseHead response_;
  BodyFramer response_body_;
  bool client_keep_alive_ = false;
};

}  // namespace ballast::proxy
