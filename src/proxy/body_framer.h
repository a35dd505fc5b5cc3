#pragma once
// Where a message body ends in a byte stream that the proxy forwards as it is.
//
// ballast forwards bodies raw (chunked framing, extensions and trailers included) and never
// re-encodes them; this tracks how many of the buffered bytes after a head belong to the body
// and are validated, so the session writes exactly those and no byte of the next message.
//
// Owns: the framing state of one body. Threading: one session's.
// Cost: O(1) for Content-Length, one pass of the chunked parser over each byte otherwise.

#include <cstdint>
#include <string_view>

#include "http/chunked_parser.h"
#include "http/head.h"

namespace ballast::proxy {

class BodyFramer {
 public:
  void start(http::BodyKind kind, uint64_t content_length) noexcept;

  // Frames the bytes that follow the ones already framed. Returns false on a framing error
  // (bad chunk), with error_reason() set.
  bool frame(std::string_view unframed) noexcept;
  // `bytes` of the framed body bytes were forwarded.
  void forwarded(size_t bytes) noexcept { ready_bytes_ -= bytes; }

  // Framed bytes at the front of the buffer, not yet forwarded.
  size_t ready_bytes() const noexcept { return ready_bytes_; }
  // Every byte of the body has been framed (until_close: never; the peer's close ends it).
  bool complete() const noexcept { return complete_; }
  // Complete and forwarded.
  bool finished() const noexcept { return complete_ && ready_bytes_ == 0; }
  bool until_close() const noexcept { return kind_ == http::BodyKind::until_close; }
  std::string_view error_reason() const noexcept { return error_reason_; }

 private:
  http::BodyKind kind_ = http::BodyKind::none;
  uint64_t remaining_bytes_ = 0;  // content_length: body bytes not yet framed
  size_t ready_bytes_ = 0;
  bool complete_ = true;
  http::ChunkedParser chunked_;
  std::string_view error_reason_;
};

}  // namespace ballast::proxy
