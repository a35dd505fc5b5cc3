#pragma once
// The server side of one request to a cluster that speaks HTTP/2 (`protocol: h2` or `h2c`): a
// stream on one of the worker's multiplexed connections to the chosen server (http2_pool.h),
// the request's fields and body out, its response head, body and trailers back, retries through
// the request's Exchange, and the server's timer. The sibling of UpstreamLeg (HTTP/1.1), with
// the same rules for what counts as the server's failure and when a request may go again.
//
// The request is built from the HTTP/1.1 head ballast would send an HTTP/1.1 server
// (serializer.h), so both carry the same forwarding fields, request id and trace context: its
// request line becomes the pseudo-header fields, Host the :authority, and what HTTP/2 forbids
// (connection-specific fields) is dropped; `te: trailers`, which gRPC servers require, goes on
// when the client sent it.
//
// gRPC: a response whose content-type is application/grpc is judged by its grpc-status (in
// the trailers, or the head of a Trailers-Only response): the codes in the cluster's
// grpc.failure_codes count as the server's failure, the rest as answers. The verdict — and the
// latency the breaker measures — waits for that status.
//
// Flow control: the response's DATA is granted back to the server (stream window) only as the
// owner passes it on, so a slow client slows its stream's server and nothing else; the
// connection's window is granted at once, so one stream never stalls the connection's others.
//
// Owns: the request head as serialized (kept for retries), the response body not yet passed
// on, the response's trailers. Threading: one worker's, as its owner.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/byte_buffer.h"
#include "core/timer_wheel.h"
#include "http/head.h"
#include "proxy/exchange.h"
#include "proxy/leg_owner.h"
#include "proxy/session.h"
#include "upstream/http2_connection.h"

namespace ballast::proxy {

class Http2UpstreamLeg final : public upstream::Http2Connection::User, public core::Timer::Handler {
 public:
  // What the leg needs from the client side of its request, beyond LegOwner's.
  class Owner : public LegOwner {
   public:
    // The request's trailers, once it ended (valid until the owner's stream closes).
    virtual std::span<const http::Header> request_trailers() const noexcept = 0;
    // Pass on the response head (`extra` fields added); false when it does not fit.
    virtual bool forward_response(uint16_t status, std::span<const http::Header> fields,
                                  std::span<const http::Header> extra, bool has_body) noexcept = 0;
    // The response's body has all been passed on: end it with `trailers`. The owner finishes
    // the exchange and then calls complete().
    virtual void response_complete(std::span<const http::Header> trailers) noexcept = 0;

   protected:
    ~Owner() = default;
  };

  Http2UpstreamLeg(Owner& owner, SessionHost& host, Exchange& exchange) noexcept
      : owner_(owner), host_(host), exchange_(exchange) {}

  // A new request: the client's scheme, whether it sent `te: trailers`, whether a body follows.
  void begin_request(std::string_view scheme, bool te_trailers, bool body_follows) noexcept;
  // The buffer the owner serializes the HTTP/1.1 request head into (before start()).
  core::ByteBuffer& request_head() noexcept { return request_head_; }

  // Chooses a server through the exchange and opens a stream to it (or answers the client when
  // none can take the request).
  void start() noexcept;
  // Hands ready body bytes to the stream; true when some went.
  bool write() noexcept;
  // Ends the response once its body has all been passed on; true when it did.
  bool handle_response() noexcept;

  // The response body's bytes, ready for the client; `bytes` of them were passed on.
  std::string_view response_body() const noexcept { return response_body_.readable(); }
  void response_body_sent(size_t bytes) noexcept;

  // The owner finished the exchange after response_complete(): the attempt ends in success.
  void complete() noexcept;
  // Ends the attempt; a stream still open is reset (CANCEL).
  void end_attempt(AttemptEnd end) noexcept;
  void stop_timer() noexcept { timer_.cancel(); }

  bool response_started() const noexcept { return response_started_; }
  uint16_t response_status() const noexcept { return status_; }
  // Whether the server answered before the whole request body reached it.
  bool request_cut_short() const noexcept { return !body_ended_; }

  // upstream::Http2Connection::User and the timer.
  void on_connected(bool ok, std::string_view why) noexcept override;
  void on_response(const http2::Response& response) noexcept override;
  void on_response_data(std::string_view bytes) noexcept override;
  void on_response_end(std::span<const http::Header> trailers) noexcept override;
  void on_stream_failed(uint32_t error_code) noexcept override;
  void on_sent() noexcept override;
  void on_timer(core::Timer& timer) noexcept override;

 private:
  enum class Opened : uint8_t { yes, failed, overflow };

  Opened attach() noexcept;
  void open_stream() noexcept;
  void build_request() noexcept;
  void judge_grpc(std::span<const http::Header> fields) noexcept;
  void keep_trailers(std::span<const http::Header> trailers) noexcept;
  void fail_attempt(Failure failure, std::string_view detail) noexcept;
  void lose_stream(std::string_view why) noexcept;
  void fail_stream(Failure failure, std::string_view why) noexcept;
  void release_stream() noexcept;
  void log_failure(std::string_view message, std::string_view failure,
                   std::string_view detail) noexcept {
    exchange_.log_attempt_failure(message, failure, detail, now_ns());
  }
  void arm_timer(uint64_t timeout_ms) noexcept;
  uint64_t now_ns() const noexcept { return host_.loop().now_ns(); }
  WorkerCluster& cluster() const noexcept { return *exchange_.cluster(); }

  static constexpr size_t kMaxFields = http::kMaxHeaders + 16;

  Owner& owner_;
  SessionHost& host_;
  Exchange& exchange_;

  // The request.
  core::ByteBuffer request_head_{4 * 1024};  // HTTP/1.1, serialized; kept for retries
  http2::RequestLine line_;                  // views into request_head_
  std::array<http::Header, kMaxFields> fields_{};
  size_t field_count_ = 0;
  std::string_view scheme_;
  bool te_trailers_ = false;
  bool body_follows_ = false;

  // The current attempt.
  upstream::Http2Connection* connection_ = nullptr;  // while waiting on it or streaming
  int32_t stream_ = -1;                              // the stream, once open
  bool body_ended_ = false;                          // END_STREAM handed over
  core::Timer timer_{*this};

  // The response.
  bool response_started_ = false;  // its head went to the client: no retry now
  bool response_ended_ = false;    // the server ended it (trailers kept)
  bool grpc_ = false;              // a gRPC call whose grpc-status is still to come
  uint16_t status_ = 0;
  core::ByteBuffer response_body_{0};  // made on the first DATA; a stream window's worth
  std::string trailer_bytes_;          // the trailers' names and values, reused
  std::array<http::Header, 16> trailers_{};
  size_t trailer_count_ = 0;
};

}  // namespace ballast::proxy
