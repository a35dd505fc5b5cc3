#pragma once
// Validates a chunked message body (RFC 9112 §7.1) as it streams through, so the proxy can
// forward the raw bytes it has validated without re-encoding them.
//
// Owns: the position in the chunk grammar (a small state, the current chunk's remaining size and
// the length of the current line), so input may be split at any byte and resumed.
//
// Threading: one parser per message. Cost: one switch per byte of chunk-size lines and trailers;
// chunk data is skipped in one step. Strict, like the head parsers: a chunk-size line must match
// the grammar exactly (hex size, then extensions `;name[=token|"quoted"]` with whitespace only
// before `;` and `=`), a size above 2^64 - 1 is an error, chunk data must be followed by CRLF,
// and trailer fields follow the header-field rules. A chunk-size line is bounded at
// kMaxChunkLineBytes and the trailer section at kMaxTrailerBytes, so extensions or trailers cannot
// make a body unbounded work (Node's CVE-2024-22019).

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ballast::http {

struct ChunkResult {
  size_t consumed = 0;  // bytes of the input that belong to the body, validated: forward them
  bool done = false;    // the body, trailers included, ends at `consumed`
  bool error = false;   // the bytes at `consumed` break the grammar; the message is unusable
  std::string_view reason;
  // decode() only: the chunk payload among the consumed bytes, a view into the input ending at
  // `consumed`.
  std::string_view data;
};

class ChunkedParser {
 public:
  static constexpr size_t kMaxChunkLineBytes = 4096;
  static constexpr size_t kMaxTrailerBytes = 64 * 1024;

  // For forwarding: consumes the input up to its end, the end of the body, or an error.
  // After done or error, consumes nothing and repeats that outcome.
  ChunkResult consume(std::string_view bytes) noexcept { return run(bytes, false); }

  // For reading the payload: as consume(), but also stops at the end of each stretch of chunk
  // data, returned in `data`. Call again with the rest of the input.
  ChunkResult decode(std::string_view bytes) noexcept { return run(bytes, true); }

  void reset() noexcept { *this = ChunkedParser(); }
  bool done() const noexcept { return state_ == State::done; }

 private:
  // Order matters: step() counts bytes against kMaxChunkLineBytes in the states up to size_lf and
  // against kMaxTrailerBytes from trailer_line on.
  enum class State : uint8_t {
    size_first,            // the first hex digit of a chunk size
    size,                  // further hex digits
    bws_before_semicolon,  // whitespace that must lead to ";"
    ext_before_name,       // after ";"
    ext_name,
    ext_after_name,    // whitespace after a name: "=" or ";" must follow
    ext_before_value,  // after "="
    ext_token_value,
    ext_quoted_value,
    ext_quoted_pair,  // after a backslash in a quoted value
    ext_after_quoted,
    size_lf,  // the LF ending a chunk-size line
    data,
    data_cr,
    data_lf,
    trailer_line,  // the start of a trailer field line, or the final CRLF
    trailer_name,
    trailer_value,
    trailer_lf,
    final_lf,
    done,
    failed,
  };

  ChunkResult run(std::string_view bytes, bool stop_after_data) noexcept;
  // Advances over one byte outside chunk data; false (with error_reason_ set) on an error.
  bool step(char c) noexcept;
  bool fail(std::string_view reason) noexcept;

  State state_ = State::size_first;
  uint64_t size_ = 0;      // the chunk size being read, then how much of the chunk's data is left
  size_t line_bytes_ = 0;  // bytes so far of the chunk-size line, or of the trailer section
  std::string_view error_reason_;
};

}  // namespace ballast::http
