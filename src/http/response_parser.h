#pragma once
// Parses an HTTP/1.1 response head (RFC 9112 §4, §5, §6) from an upstream connection's buffer.
//
// The same scanner and field-line rules as RequestHeadParser; what differs is the status line and
// how the body is framed (RFC 9112 §6.3): nothing follows a response to HEAD or a 1xx, 204 or 304;
// without Content-Length or Transfer-Encoding the body runs until the upstream closes. Stricter
// than the RFC asks of a client in one way: a Transfer-Encoding other than exactly "chunked" is
// an error, not a body read until close, because the proxy re-frames what it forwards and could
// not pass the other codings on.
//
// Threading: one parser per upstream connection. Cost: O(head bytes); no allocation.

#include <string_view>

#include "http/head.h"
#include "http/head_scanner.h"

namespace ballast::http {

class ResponseHeadParser {
 public:
  explicit ResponseHeadParser(Limits limits = {}) noexcept;

  // As RequestHeadParser::parse; request_was_head says the request was HEAD, so no body follows.
  // Every error has error_status 502. After a 1xx head, reset() and parse the next head from
  // out.head_bytes on: the final response follows.
  ParseResult parse(std::string_view buffered, bool request_was_head, ResponseHead& out) noexcept;

  void reset() noexcept { scanner_.reset(); }

 private:
  uint32_t max_headers_;
  HeadScanner scanner_;
};

}  // namespace ballast::http
