#pragma once
// A stream's body on its way out — a response to a client, or a request to a server: bytes
// queued up to a fixed buffer (the back-pressure: the rest waits for room), its end, and the
// trailer fields that end it (gRPC's status travels there). nghttp2 pulls the bytes through
// read() as the peer's window allows.
//
// Owns: the buffer and the trailers. Threading: one connection's.

#include <nghttp2/nghttp2.h>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/byte_buffer.h"
#include "http/head.h"

namespace ballast::http2 {

class OutgoingBody {
 public:
  explicit OutgoingBody(size_t capacity) : bytes_(capacity) {}
  // Empty again, for another stream (the buffer is kept).
  void reset() noexcept;

  // Queues what fits; returns how much. True in `resume` when nghttp2 waits for bytes
  // (the caller calls nghttp2_session_resume_data).
  size_t append(std::string_view bytes, bool& resume) noexcept;
  size_t room() const noexcept { return ended_ ? 0 : bytes_.capacity() - bytes_.size(); }
  bool ended() const noexcept { return ended_; }
  // No more bytes; `trailers` (names lowercased, connection-specific ones dropped) end it.
  void end(std::span<const http::Header> trailers, bool& resume);

  // nghttp2's data source read callback, for `stream`.
  ssize_t read(nghttp2_session* session, int32_t stream, uint8_t* out, size_t length,
               uint32_t* flags) noexcept;

 private:
  core::ByteBuffer bytes_;
  bool ended_ = false;
  bool deferred_ = false;  // nghttp2 waits for resume_data
  std::string trailer_bytes_;
  std::vector<http::Header> trailers_;  // views into trailer_bytes_, set once it is whole
};

}  // namespace ballast::http2
