#pragma once
// The server side of one HTTP/2 connection (RFC 9113) over nghttp2: the client's bytes in, our
// bytes out, and each stream's request and response as calls. No socket: every rule is tested in
// memory (tests/unit/http2/server_connection_test.cc).
//
// nghttp2 does the framing, HPACK and the protocol's own checks — the preface, frame sizes,
// stream states, flow-control windows, pseudo-headers, connection-specific fields, `te` other
// than "trailers", field bytes RFC 9113 §8.2.1 forbids, a content-length that disagrees with the
// DATA received: each becomes the stream or connection error the RFC names, and nothing
// malformed reaches the listener (the H2.CL and H2.TE smuggling family stops here). Ballast's
// part is the limits (Limits) and the defences nghttp2 offers, turned on: a cap on resets a
// client causes (rapid reset, CVE-2023-44487), on CONTINUATION frames per header block, on
// SETTINGS and on queued PING/SETTINGS acknowledgements; and flow control by hand: the bytes of a
// request body are granted back to the client (WINDOW_UPDATE) only when consume() says they went
// on, so a slow server slows its stream's client and nothing is buffered without bound.
//
// Owns: the nghttp2 session and each open stream's state — its request fields (nghttp2's
// reference-counted buffers, kept until the stream closes, so the request's views stay valid)
// and its queued response body. Threading: one worker's.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/head.h"
#include "http2/field_list.h"
#include "http2/spare_streams.h"

struct nghttp2_session;

namespace ballast::http2 {

struct Limits {
  uint32_t max_concurrent_streams = 128;       // nginx's http2_max_concurrent_streams
  uint32_t max_header_list_bytes = 64 * 1024;  // as HTTP/1's largest head
  uint32_t stream_window_bytes = 64 * 1024;    // request body a stream may have in flight
  uint32_t max_frame_bytes = 16 * 1024;
  // Resets a client may cause (RST_STREAM it sends, streams it opens that we refuse): a burst,
  // then so many a second; beyond, GOAWAY with ENHANCE_YOUR_CALM. nghttp2's defaults.
  uint64_t reset_burst = 1000;
  uint64_t resets_per_second = 33;
  size_t max_continuations = 8;              // CONTINUATION frames in one header block
  size_t response_buffer_bytes = 64 * 1024;  // a stream's queued response body
};

// One stream's request, valid until the stream closes. The head is filled as HTTP/1's parser
// fills it: method, target (:path), host (:authority, else the host field), the other fields in
// order; body_kind is none (END_STREAM on the HEADERS), content_length (the field was sent) or
// chunked, meaning "a body of unknown length" (as it must travel over HTTP/1.1).
struct Request {
  http::RequestHead head;
  std::string_view scheme;
};

class StreamListener {
 public:
  virtual void on_request(int32_t stream, const Request& request) noexcept = 0;
  // A piece of the request body, valid during the call; consume() it once passed on.
  virtual void on_request_data(int32_t stream, std::string_view bytes) noexcept = 0;
  // The request ended, with its trailers if any (views valid until the stream closes).
  virtual void on_request_end(int32_t stream, std::span<const http::Header> trailers) noexcept = 0;
  // The stream is gone (error_code 0: completed); no call names it again.
  virtual void on_stream_closed(int32_t stream, uint32_t error_code) noexcept = 0;

 protected:
  ~StreamListener() = default;
};

class ServerConnection {
 public:
  ServerConnection(const Limits& limits, StreamListener& listener);
  ~ServerConnection();
  ServerConnection(const ServerConnection&) = delete;
  ServerConnection& operator=(const ServerConnection&) = delete;

  // Feeds the client's bytes. False once the connection is over (a connection error, or the
  // client's GOAWAY): send what output() still holds, then close.
  bool receive(std::string_view bytes) noexcept;

  // The next bytes to send (empty: nothing now), valid until sent() or the next call that changes
  // the connection; sent(n) says how many left.
  std::string_view output() noexcept;
  void sent(size_t bytes) noexcept;
  // Neither side has anything more to say: the connection may close.
  bool finished() const noexcept;

  // The response's head (status and fields; names are lowercased, connection-specific fields
  // dropped). With body_follows, send_body() and end_body() follow.
  bool respond(int32_t stream, uint16_t status, std::span<const http::Header> fields,
               bool body_follows) noexcept;
  // Queues body bytes; returns how many fitted (the rest waits for body_room()).
  size_t send_body(int32_t stream, std::string_view bytes) noexcept;
  size_t body_room(int32_t stream) const noexcept;
  // Ends the body, with trailer fields if any (gRPC's status travels there).
  void end_body(int32_t stream, std::span<const http::Header> trailers = {}) noexcept;
  void reset(int32_t stream, uint32_t error_code) noexcept;
  // `bytes` of the stream's request body went on: the client may send as many more.
  void consume(int32_t stream, size_t bytes) noexcept;

  // Drain: GOAWAY with the last stream we took; those finish, no new ones start.
  void shut_down() noexcept;

  size_t open_streams() const noexcept;

 private:
  struct Stream;
  struct Callbacks;

  Stream* find(int32_t stream) const noexcept;
  Stream& open_stream(int32_t id);
  void close_stream(int32_t id, uint32_t error_code) noexcept;
  void write_farewell(uint32_t error_code) noexcept;
  bool submit_head(int32_t stream, uint16_t status, std::span<const http::Header> fields,
                   bool with_body);

  Limits limits_;
  StreamListener& listener_;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Stream>> streams_;  // open ones; few, so searched in order
  SpareStreams<Stream> spares_;
  std::string_view pending_output_;  // from nghttp2's buffer, not yet sent
  FieldList fields_;                 // the head being submitted
  bool over_ = false;  // a fatal error: nothing more is read, nothing but farewell_ sent
  static constexpr size_t kFarewellBytes = 17;
  std::array<char, kFarewellBytes> farewell_{};  // our GOAWAY after a fatal error
};

}  // namespace ballast::http2
