#pragma once
// Finds where a head ends in a growing buffer, remembering how far it has looked, so a head that
// arrives byte by byte costs O(total bytes), not O(n²). Shared by the request and response parsers.
//
// Owns: three offsets into the caller's buffer (never pointers: the buffer may move between
// calls, as long as it keeps the bytes already seen). Threading: one per connection.
//
// Invariant: every LF in buffered[0, next_) is preceded by CR, and no empty line lies in
// [head_start_, line_start_). Cost: one memchr per line, over each byte once.

#include <cstddef>
#include <string_view>

namespace ballast::http {

struct HeadScan {
  enum Status : uint8_t { found, more, too_large, bare_lf, leading_empty_line };
  Status status = more;
  size_t head_start = 0;  // first byte of the start line (after skipped empty lines)
  size_t head_end = 0;    // one past the LF of the empty line that ends the head
};

class HeadScanner {
 public:
  // skip_leading_empty_lines: RFC 9112 §2.2 lets a server ignore CRLFs before a request line
  // (some clients send one after a POST body); a response gets no such leniency.
  HeadScanner(size_t max_head_bytes, bool skip_leading_empty_lines) noexcept
      : max_head_bytes_(max_head_bytes), skip_leading_empty_lines_(skip_leading_empty_lines) {}

  // `buffered` starts at the same byte on every call and extends what earlier calls saw.
  // Reports too_large as soon as max_head_bytes bytes hold no end of head.
  HeadScan scan(std::string_view buffered) noexcept;
  void reset() noexcept;

 private:
  size_t max_head_bytes_;
  bool skip_leading_empty_lines_;
  size_t next_ = 0;        // first byte not yet searched for LF
  size_t line_start_ = 0;  // first byte of the line being scanned
  size_t head_start_ = 0;  // first byte after the skipped empty lines
  size_t head_end_ = 0;    // once found, the end of the head; 0 before
};

}  // namespace ballast::http
