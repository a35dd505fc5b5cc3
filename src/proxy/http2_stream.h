#pragma once
// One HTTP/2 stream from a client, carried to a server. To an HTTP/1.1 server (UpstreamLeg): the
// request's fields become an HTTP/1.1 head (the same serializer, forwarding fields and trace
// context as an HTTP/1 client's), its DATA the body — as received when the client declared
// content-length, else chunked — and the server's response goes back as HEADERS and DATA, its
// chunked framing removed. To an HTTP/2 server (`protocol: h2`/`h2c`, Http2UpstreamLeg): stream
// to stream, DATA as it comes, trailers both ways' end (gRPC's status). The request's passage
// (route, limits, attempts, retries, telemetry) is its Exchange's and leg's, as for HTTP/1.
//
// Flow control end to end: a request body's bytes are granted back to the client (WINDOW_UPDATE)
// only as they go on to the server, so the client has at most a stream window in flight here;
// a response body moves into the connection's per-stream buffer only while it has room, which
// the client's window empties, so a slow client stops its stream's server reads.
//
// Owns: the request head (a copy with the normalised target), the body buffers, the exchange and
// the leg. Threading: one worker's. Made once per concurrent stream of a connection and reused
// (reset()) for the streams that follow.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/byte_buffer.h"
#include "core/io_queue.h"
#include "http/head.h"
#include "http2/server_connection.h"
#include "proxy/exchange.h"
#include "proxy/http2_upstream_leg.h"
#include "proxy/upstream_leg.h"

namespace ballast::proxy {

class Http2Session;

class Http2Stream final : public UpstreamLeg::Owner,
                          public Http2UpstreamLeg::Owner,
                          public core::QueuedIo {
 public:
  Http2Stream(Http2Session& connection, ClientInfo client);

  // Starts the stream `id`'s request: routed, admitted and sent to a server, or answered here.
  void start(int32_t id, const http2::Request& request) noexcept;
  void on_data(std::string_view bytes) noexcept;
  // The request ended; its trailers (views valid until on_closed) go on to an HTTP/2 server.
  void on_end(std::span<const http::Header> trailers) noexcept;
  // The stream is over at the protocol's level (completed or reset): whatever is still in
  // flight is ended, counted, and the stream may be reused.
  void on_closed() noexcept;
  // One round of the stream's steps; true when something moved.
  bool pump() noexcept;
  // The client has not moved this stream since this time (loop ns), while the stream waits on
  // it; 0 when it does not.
  uint64_t client_wait_since_ns() const noexcept;
  // A client wait ran out: a body that stopped coming, or a response the client's window holds.
  void client_timed_out() noexcept;

  int32_t id() const noexcept { return id_; }

  // UpstreamLeg::Owner.
  bool io_busy() const noexcept override { return queued(); }
  bool queue_upstream_send(int fd, std::string_view head, std::string_view body) noexcept override;
  bool queue_upstream_read(int fd, std::span<char> space) noexcept override;
  void on_io_done(ssize_t result) noexcept override;
  void drive() noexcept override;
  std::string_view request_body() const noexcept override;
  void request_body_sent(size_t bytes) noexcept override;
  bool request_body_finished() const noexcept override;
  bool client_holds_up() const noexcept override;
  bool forward_interim(const http::ResponseHead& head) noexcept override;
  bool forward_response(const http::ResponseHead& head, std::span<const http::Header> extra,
                        BodyFramer::Coding& coding) noexcept override;
  bool forward_upgrade(const http::ResponseHead& head) noexcept override;
  void response_complete() noexcept override;
  void answer_locally(uint16_t status, std::string_view reason) noexcept override;
  void abort(std::string_view why) noexcept override;

  // Http2UpstreamLeg::Owner (the rest is shared with UpstreamLeg::Owner above).
  bool forward_response(uint16_t status, std::span<const http::Header> fields,
                        std::span<const http::Header> extra, bool has_body) noexcept override;
  void response_complete(std::span<const http::Header> trailers) noexcept override;
  std::span<const http::Header> request_trailers() const noexcept override {
    return request_trailers_;
  }

 private:
  bool prepare_target() noexcept;
  void write_upstream_head(core::ByteBuffer& head) noexcept;
  void redirect_by_route() noexcept;
  void refuse_over_rate_limit() noexcept;
  static bool drops(const http::HeadEdits& edits, std::string_view name) noexcept;
  size_t add_route_fields(const http::HeadEdits& edits, size_t count) noexcept;
  std::string_view scheme() const noexcept;
  bool pump_http2_server() noexcept;
  std::string_view leg_response_body() noexcept;
  void leg_response_body_sent(size_t bytes) noexcept;
  bool leg_response_started() const noexcept;
  uint16_t leg_response_status() const noexcept;
  void end_leg_attempt(AttemptEnd end) noexcept;
  void frame_body() noexcept;
  bool push_response_body() noexcept;
  void finish(uint16_t status, balance::ServerIndex server) noexcept;
  uint64_t now_ns() const noexcept;

  Http2Session& connection_;
  int32_t id_ = 0;
  http::RequestHead request_;
  std::string target_;  // the :path, normalised in place (request_.target views it)
  Exchange exchange_;
  UpstreamLeg upstream_;          // to an HTTP/1.1 cluster
  Http2UpstreamLeg h2_upstream_;  // to an HTTP/2 cluster
  bool h2_ = false;               // this request's cluster speaks HTTP/2

  // The request body: DATA payload not yet sent on, and (a body of unknown length) the chunks
  // framed from it for the server. Made on the first body, kept for the streams that follow.
  core::ByteBuffer body_in_{0};
  core::ByteBuffer body_out_{0};
  bool chunked_ = false;
  bool request_ended_ = false;
  std::span<const http::Header> request_trailers_;
  bool last_chunk_framed_ = false;
  uint64_t request_bytes_ = 0;       // head (as encoded for HTTP/1.1) and body bytes sent on
  uint64_t response_bytes_ = 0;      // body bytes given to the connection for the client
  bool active_ = false;              // the exchange has begun and is not yet counted
  bool answered_ = false;            // a response head has gone to the client
  bool body_follows_ = false;        // ... with a body
  uint64_t client_progress_ns_ = 0;  // the client last sent body bytes or took response bytes

  // The response's, for nghttp2, and the route's set and add fields after them.
  std::array<http::Header, http::kMaxHeaders + 2 + 2 * http::kMaxRuleFields> fields_{};
  std::array<char, 20> length_text_{};  // its content-length value

  // The server-side operation in the loop's queue (queued()): a send or a read, and its sizes.
  bool queued_send_ = false;
  size_t queued_head_bytes_ = 0;
  size_t queued_bytes_ = 0;
};

}  // namespace ballast::proxy
