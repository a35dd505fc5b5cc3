#pragma once
// The client side of one HTTP/2 connection to a server (a cluster with `protocol: h2` or `h2c`):
// many requests multiplexed as streams, each with its request body and trailers out and its
// response head, body and trailers in. Over nghttp2, as ServerConnection; no socket, so it is
// tested in memory against ballast's own server side (tests/unit/http2/client_connection_test.cc).
//
// nghttp2 checks what the server sends (pseudo-headers, connection-specific fields, content-length
// against DATA): a malformed response is a stream error and never reaches the listener. Flow
// control is by hand here too: response bytes are granted back to the server as consume() says
// the client took them, so a slow client slows its stream's server.
//
// Owns: the nghttp2 session and each open stream's queued request body and trailers.
// Threading: one worker's.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_buffer.h"
#include "http/head.h"
#include "http2/field_list.h"
#include "http2/spare_streams.h"

struct nghttp2_session;

namespace ballast::http2 {

struct ClientLimits {
  uint32_t max_streams = 100;                  // our cap, below the server's own
  uint32_t stream_window_bytes = 64 * 1024;    // response body a stream may have in flight
  uint32_t max_header_list_bytes = 64 * 1024;  // a response head, counted decoded
  size_t request_buffer_bytes = 64 * 1024;     // a stream's queued request body
  size_t max_continuations = 8;
};

// What a request is made of: the pseudo-header fields and the regular ones, in order.
struct RequestLine {
  std::string_view method, scheme, authority, path;
};

// One stream's response head, valid during on_response (and, for a response without a body,
// through the on_response_end that follows it at once).
struct Response {
  uint16_t status = 0;
  std::span<const http::Header> fields;
  bool has_body = false;
};

class ResponseListener {
 public:
  virtual void on_response(int32_t stream, const Response& response) noexcept = 0;
  // A piece of the response body, valid during the call; consume() it once passed on.
  virtual void on_response_data(int32_t stream, std::string_view bytes) noexcept = 0;
  // The response ended, with its trailers (gRPC's status) if any, valid during the call.
  virtual void on_response_end(int32_t stream, std::span<const http::Header> trailers) noexcept = 0;
  // The stream is gone (error_code 0: completed); no call names it again.
  virtual void on_stream_closed(int32_t stream, uint32_t error_code) noexcept = 0;

 protected:
  ~ResponseListener() = default;
};

class ClientConnection {
 public:
  ClientConnection(const ClientLimits& limits, ResponseListener& listener);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // Feeds the server's bytes. False once the connection is over.
  bool receive(std::string_view bytes) noexcept;
  std::string_view output() noexcept;
  void sent(size_t bytes) noexcept;
  bool finished() const noexcept;

  // Room for another stream: under our cap and the server's, and no GOAWAY heard.
  bool can_open() const noexcept;
  // Opens a stream; its id, or -1. Connection-specific fields are dropped, names lowercased.
  int32_t request(const RequestLine& line, std::span<const http::Header> fields,
                  bool body_follows) noexcept;
  size_t send_body(int32_t stream, std::string_view bytes) noexcept;
  size_t body_room(int32_t stream) const noexcept;
  void end_body(int32_t stream, std::span<const http::Header> trailers = {}) noexcept;
  void reset(int32_t stream, uint32_t error_code) noexcept;
  void consume(int32_t stream, size_t bytes) noexcept;
  // The two windows apart: the connection's granted as bytes arrive (one slow stream must not
  // stall the others), the stream's as its bytes are passed on.
  void consume_connection(size_t bytes) noexcept;
  void consume_stream(int32_t stream, size_t bytes) noexcept;

  size_t open_streams() const noexcept;

 private:
  struct Stream;
  struct Callbacks;

  Stream* find(int32_t stream) const noexcept;
  void close_stream(int32_t id, uint32_t error_code) noexcept;

  ClientLimits limits_;
  ResponseListener& listener_;
  nghttp2_session* session_ = nullptr;
  std::vector<std::unique_ptr<Stream>> streams_;
  SpareStreams<Stream> spares_;
  FieldList fields_;  // the request head being submitted
  std::string_view pending_output_;
  std::string field_names_;
  bool goaway_ = false;
  bool over_ = false;
};

}  // namespace ballast::http2
