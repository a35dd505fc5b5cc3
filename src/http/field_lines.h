#pragma once
// The field section shared by requests and responses (RFC 9112 §5): parses the field lines into
// HeaderFields and gathers, in the same pass, the facts that the framing and connection rules of
// each message kind need. The request and response parsers apply those rules.
//
// Strict, as a proxy must be so that it never reads a message differently from the server
// behind it: obs-fold, whitespace before the colon, bare CR, and control characters in a value
// are errors, never repaired.
//
// Threading: pure functions. Cost: one table lookup per byte, one length switch per name.
// Internal to the http module.

#include <cstdint>
#include <string_view>

#include "http/head.h"

namespace ballast::http {

// What the framing and connection rules need from the field lines.
struct FieldFacts {
  uint32_t host_count = 0;
  std::string_view host;  // the last Host value
  bool has_content_length = false;
  uint64_t content_length = 0;  // all Content-Length values agree on it
  bool has_transfer_encoding = false;
  uint32_t coding_count = 0;   // transfer codings over all Transfer-Encoding lines
  uint32_t chunked_count = 0;  // of which "chunked"
  bool chunked_last = false;   // the final coding is "chunked"
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;  // Connection names "upgrade"
  std::string_view upgrade;         // the last Upgrade value
  bool expect_continue = false;     // "Expect: 100-continue"
};

// A rejection: the status to answer with (400 or 431; 0 for none) and why.
struct FieldError {
  uint16_t status = 0;
  std::string_view reason;
};

// Parses the field lines in [begin, end) where `end` is one past the CRLF of the empty line that
// closes the head. Precondition (HeadScanner's): every LF in the range follows a CR and the only
// empty line is the last one. On success fields holds the lines in order, with not_forwarded set.
FieldError parse_field_lines(const char* begin, const char* end, uint32_t max_headers,
                             HeaderFields& fields, FieldFacts& facts) noexcept;

}  // namespace ballast::http
