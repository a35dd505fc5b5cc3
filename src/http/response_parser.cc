#include "http/response_parser.h"

#include <algorithm>

#include "http/chars.h"
#include "http/field_lines.h"

namespace ballast::http {
namespace {

// A malformed response is the upstream's fault: the client is told 502 whatever went wrong.
constexpr uint16_t kBadGateway = 502;

ParseResult fail(std::string_view reason) noexcept {
  return {ParseResult::error, kBadGateway, reason};
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// "HTTP-version SP 3DIGIT SP [reason-phrase] CRLF" (RFC 9112 §4). A missing SP before an empty
// reason is accepted, as browsers do. Leaves p after the CRLF; returns a reason or "".
std::string_view parse_status_line(const char*& p, ResponseHead& out) noexcept {
  const char* version_begin = p;
  while (*p != ' ' && *p != '\r') {
    ++p;
  }
  const std::string_view version(version_begin, static_cast<size_t>(p - version_begin));
  if (version == "HTTP/1.1") {
    out.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    out.version_minor = 0;
  } else {
    return "unsupported HTTP version in the status line";
  }
  if (*p != ' ') {
    return "malformed status line";
  }
  ++p;
  // Each digit test stops at the CR before the next byte is read.
  if (!(is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]))) {
    return "invalid status code";
  }
  out.status = static_cast<uint16_t>((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
  if (out.status < 100 || out.status > 599) {
    return "status code out of range";
  }
  p += 3;
  const char* reason_begin = p;
  if (*p == ' ') {
    reason_begin = ++p;
    while (chars::is(*p, chars::kFieldValue)) {
      ++p;
    }
  }
  if (*p != '\r') {
    return "invalid character in the status line";
  }
  if (p[1] != '\n') {
    return "bare CR in the status line";
  }
  out.reason = {reason_begin, static_cast<size_t>(p - reason_begin)};
  p += 2;
  return {};
}

// Framing and persistence (RFC 9112 §6.1, §6.3, §9.3).
std::string_view apply_response_rules(const FieldFacts& facts, bool request_was_head,
                                      ResponseHead& out) noexcept {
  out.chunked = false;
  if (facts.has_transfer_encoding) {
    if (facts.has_content_length) {
      return "both Content-Length and Transfer-Encoding";
    }
    if (out.version_minor == 0) {
      return "Transfer-Encoding in an HTTP/1.0 response";
    }
    if (!facts.chunked_last || facts.coding_count != 1) {
      return "unsupported transfer coding";
    }
    out.chunked = true;
  }
  out.has_content_length = facts.has_content_length;
  out.content_length = facts.content_length;
  const bool no_body =
      request_was_head || out.status < 200 || out.status == 204 || out.status == 304;
  if (no_body) {
    out.body_kind = BodyKind::none;
  } else if (out.chunked) {
    out.body_kind = BodyKind::chunked;
  } else if (out.has_content_length) {
    out.body_kind = BodyKind::content_length;
  } else {
    out.body_kind = BodyKind::until_close;
  }
  out.keep_alive = !facts.connection_close &&
                   (out.version_minor == 1 || facts.connection_keep_alive) &&
                   out.body_kind != BodyKind::until_close;
  return {};
}

}  // namespace

ResponseHeadParser::ResponseHeadParser(Limits limits) noexcept
    : max_headers_(std::min(limits.max_headers, kMaxHeaders)),
      scanner_(limits.max_head_bytes, /*skip_leading_empty_lines=*/false) {}

ParseResult ResponseHeadParser::parse(std::string_view buffered, bool request_was_head,
                                      ResponseHead& out) noexcept {
  const HeadScan scan = scanner_.scan(buffered);
  switch (scan.status) {
    case HeadScan::found:
      break;
    case HeadScan::more:
      return {};
    case HeadScan::too_large:
      return {ParseResult::error, 502, "response head too large", /*oversized=*/true};
    case HeadScan::bare_lf:
      return fail("line ending without CR");
    case HeadScan::leading_empty_line:
      return fail("empty line before the status line");
  }
  const char* p = buffered.data() + scan.head_start;
  const char* end = buffered.data() + scan.head_end;
  std::string_view reason = parse_status_line(p, out);
  if (reason.empty()) {
    FieldFacts facts;
    const FieldError error = parse_field_lines(p, end, max_headers_, out.headers, facts);
    reason = error.status != 0 ? error.reason : apply_response_rules(facts, request_was_head, out);
  }
  if (!reason.empty()) {
    return fail(reason);
  }
  out.head_bytes = scan.head_end;
  return {ParseResult::complete, 0, {}};
}

}  // namespace ballast::http
