#pragma once
// Where a message body ends in a byte stream that the proxy forwards as it is.
//
// ballast forwards bodies raw (chunked framing, extensions and trailers included) and never
// re-encodes them; this tracks how many of the buffered bytes after a head belong to the body
// and are validated, so the session writes exactly those and no byte of the next message.
//
// The one exception is a chunked response to an HTTP/1.0 client, which cannot parse chunked
// (RFC 9112 §6.1): framed `dechunked`, only the chunks' payload is ready, and the framing bytes
// before it (sizes, extensions, trailers) are skipped — the caller drops them from its buffer.
// One stretch of payload is framed at a time, so the payload is always at the buffer's front
// and nothing is copied.
//
// Owns: the framing state of one body. Threading: one session's.
// Cost: O(1) for Content-Length, one pass of the chunked parser over each byte otherwise.

#include <cstdint>
#include <string_view>
#include <utility>

#include "http/chunked_parser.h"
#include "http/head.h"

namespace ballast::proxy {

class BodyFramer {
 public:
  enum class Coding : uint8_t { as_received, dechunked };

  void start(http::BodyKind kind, uint64_t content_length,
             Coding coding = Coding::as_received) noexcept;

  // Frames the bytes that follow the ones already framed. Returns false on a framing error
  // (bad chunk), with error_reason() set. Dechunked, frames only once the ready bytes have all
  // been forwarded, and then `unframed` starts at the buffer's front.
  bool frame(std::string_view unframed) noexcept;
  // Dechunked: the framing bytes at the buffer's front, before the ready payload, that the
  // caller must drop (once, now); 0 otherwise.
  size_t take_skipped() noexcept { return std::exchange(skipped_bytes_, 0); }
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
  size_t skipped_bytes_ = 0;  // dechunked: framing bytes before the ready payload
  bool complete_ = true;
  bool dechunked_ = false;
  http::ChunkedParser chunked_;
  std::string_view error_reason_;

  bool decode_chunked(std::string_view unframed) noexcept;
};

}  // namespace ballast::proxy
