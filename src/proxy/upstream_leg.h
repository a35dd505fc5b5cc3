#pragma once
// The server side of one request over HTTP/1.1: each attempt's connection (pooled or new, in
// clear or TLS), the serialized request head and the body bytes its owner hands over, the
// response head and body framing, retries through the request's Exchange, the stale pooled
// connection tried once more, and the server's timer.
//
// Its owner is the client side — an HTTP/1 connection (http_session.h) or an HTTP/2 stream —
// which parses the request, decides what the client is told and how, and carries the response
// body to the client from this leg's buffer. The two talk through Owner, so the rules for a
// server (what counts as its failure, when a request may go again, when a connection may be
// pooled) are written once, whatever protocol the client speaks.
//
// Owns: the attempt's upstream connection while it uses it (given back to its pool or closed
// when the attempt ends), the request head as sent (kept for a retry), the response head and
// the framing of its body, the server's timer. Threading: one worker's, as its owner.
//
// Reads and sends in clear go through the owner's slot in the loop's I/O queue (the owner is
// the core::QueuedIo and routes results to sent() and received()); while the owner has an
// operation queued, events and the timer are kept and replayed by the owner afterwards.
//
// A reused keep-alive connection that turns out closed is tried once more on a fresh connection
// to the same server, without counting as a failure or a retry — that race is the pool's, not
// the server's — but only for a request the exchange says may be sent again.
//
// Deadlines: while connecting, timeouts.connect; then, from each byte either way, the
// response timeout (retry.per_try_timeout, else timeouts.server) — except while the client is
// the one holding things up (Owner::client_holds_up), which the client's own deadlines bound.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/byte_buffer.h"
#include "core/timer_wheel.h"
#include "http/head.h"
#include "http/response_parser.h"
#include "proxy/body_framer.h"
#include "proxy/exchange.h"
#include "proxy/leg_owner.h"
#include "proxy/session.h"
#include "upstream/connection_pool.h"
#include "upstream/upstream_connection.h"

namespace ballast::proxy {

class UpstreamLeg final : public upstream::UpstreamConnection::User, public core::Timer::Handler {
 public:
  // What the leg needs from the client side of its request, beyond LegOwner's.
  class Owner : public LegOwner {
   public:
    // The owner has an I/O operation queued: events and timers are to be kept for later.
    virtual bool io_busy() const noexcept = 0;
    // Queue a send (a read) in the owner's slot of the loop's queue; false: make it directly.
    virtual bool queue_upstream_send(int fd, std::string_view head,
                                     std::string_view body) noexcept = 0;
    virtual bool queue_upstream_read(int fd, std::span<char> space) noexcept = 0;

    // Pass on an interim (1xx) head; false when it does not fit (the leg refuses the response).
    virtual bool forward_interim(const http::ResponseHead& head) noexcept = 0;
    // Pass on the final head, with `extra` fields; sets how the body is to be framed for the
    // client. False when it does not fit.
    virtual bool forward_response(const http::ResponseHead& head,
                                  std::span<const http::Header> extra,
                                  BodyFramer::Coding& coding) noexcept = 0;
    // The server agreed to an upgrade: pass its 101 on and become a tunnel; false: no fit.
    virtual bool forward_upgrade(const http::ResponseHead& head) noexcept = 0;
    // The response has been forwarded whole and the request delivered (or cut short): the owner
    // finishes the exchange and then calls complete().
    virtual void response_complete() noexcept = 0;

   protected:
    ~Owner() = default;
  };

  UpstreamLeg(Owner& owner, SessionHost& host, Exchange& exchange) noexcept
      : owner_(owner), host_(host), exchange_(exchange) {}

  // A new request: its method HEAD (no body in the response) and whether it asked to upgrade.
  void begin_request(bool method_is_head, bool upgrade_requested) noexcept;
  // The buffer the owner serializes the request head into (before start()).
  core::ByteBuffer& request_head() noexcept { return request_head_; }

  // Chooses a server through the exchange and opens a connection to it (or answers the client
  // when none can take the request).
  void start() noexcept;

  // Steps, each true when it moved something: send the head and ready body bytes, read the
  // server's bytes, handle the response head and frame its body.
  bool write() noexcept;
  bool read() noexcept;
  bool handle_response() noexcept;
  // Results of queued operations (as sendmsg's and recv's).
  bool sent(ssize_t result, size_t head_bytes, size_t total_bytes) noexcept;
  bool received(ssize_t result, bool drained) noexcept;
  // What came while the owner's operation was queued.
  void replay_deferred_events() noexcept;
  void replay_deferred_timer() noexcept;

  // The response body's framed bytes, ready for the client; `bytes` of them were forwarded.
  std::string_view response_body() noexcept;
  void response_body_sent(size_t bytes) noexcept;

  // The owner finished the exchange after response_complete(): the attempt ends in success and
  // the connection goes back to its pool when it can carry another request.
  void complete() noexcept;
  // Ends the attempt (if any connection is held, it is closed).
  void end_attempt(AttemptEnd end) noexcept;
  void stop_timer() noexcept { timer_.cancel(); }

  // A tunnel (after forward_upgrade): frames what the server sent (all payload); true if any.
  bool frame_tunnel() noexcept;
  void shut_write() noexcept { connection_->shut_write(); }

  bool has_connection() const noexcept { return connection_ != nullptr; }
  bool response_started() const noexcept { return response_started_; }
  const http::ResponseHead& response() const noexcept { return response_; }
  size_t response_ready_bytes() const noexcept { return response_body_.ready_bytes(); }
  bool eof() const noexcept { return eof_; }
  bool write_failed() const noexcept { return write_failed_; }
  bool writable() const noexcept { return writable_; }
  // Whether the request reached the server whole (head and body).
  bool request_written() const noexcept;
  // Whether the server answered a request that did not all reach it.
  bool request_cut_short() const noexcept;

  void on_upstream_io(uint32_t events) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;

 private:
  enum class Opened : uint8_t { yes, failed, overflow };
  enum class Io : uint8_t { batched, direct };

  Opened open(bool allow_pooled) noexcept;
  upstream::ConnectionPool& home_pool();
  void prefer_private_server() noexcept;
  bool finish_connect(uint32_t events) noexcept;
  bool fail_handshake() noexcept;
  bool read_now(Io io) noexcept;
  bool handle_head() noexcept;
  bool handle_interim() noexcept;
  bool handle_final_head() noexcept;
  void accept_upgrade() noexcept;
  void refuse_oversized() noexcept;
  void fail_attempt(Failure failure, std::string_view detail) noexcept;
  bool retry_on_fresh_connection(Failure failure) noexcept;
  void log_failure(std::string_view message, std::string_view failure,
                   std::string_view detail) noexcept {
    exchange_.log_attempt_failure(message, failure, detail, now_ns());
  }
  void arm_timer(uint64_t timeout_ms) noexcept;
  uint64_t now_ns() const noexcept { return host_.loop().now_ns(); }
  WorkerCluster& cluster() const noexcept { return *exchange_.cluster(); }

  Owner& owner_;
  SessionHost& host_;
  Exchange& exchange_;

  // The request.
  core::ByteBuffer request_head_{4 * 1024};  // serialized; kept for retries
  bool method_is_head_ = false;
  bool upgrade_requested_ = false;
  bool stale_connection_retried_ = false;
  bool body_after_answer_ = false;  // some of the body went to the server after its answer
  bool tunnel_ = false;             // the server accepted an upgrade

  // The client's own connection to a server, for a cluster that sends the PROXY protocol
  // (home_pool()), and the server it is to.
  std::unique_ptr<upstream::ConnectionPool> private_pool_;
  std::shared_ptr<upstream::ServerState> private_server_;
  const WorkerCluster* private_cluster_ = nullptr;  // where private_server_ was, when last used
  balance::ServerIndex private_index_ = balance::kNoServer;

  // The current attempt.
  upstream::UpstreamConnection* connection_ = nullptr;
  core::Timer timer_{*this};
  size_t head_sent_ = 0;
  bool connecting_ = false;   // the connection to the server is not established yet
  bool handshaking_ = false;  // connected over TCP; the TLS handshake runs
  bool readable_ = false;
  bool writable_ = false;
  bool eof_ = false;
  bool hung_up_ = false;
  bool write_failed_ = false;  // the server takes no more of the request
  bool response_bytes_seen_ = false;
  uint32_t interim_responses_ = 0;  // 1xx heads from the server in this attempt
  bool response_started_ = false;   // a response head went to the client: no retry now
  http::ResponseHeadParser response_parser_;
  http::ResponseHead response_;
  BodyFramer response_body_;

  // What came while the owner's operation was queued.
  uint32_t deferred_events_ = 0;
  bool timer_deferred_ = false;
};

}  // namespace ballast::proxy
