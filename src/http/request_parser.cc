#include "http/request_parser.h"

#include <algorithm>

#include "http/chars.h"
#include "http/field_lines.h"

namespace ballast::http {
namespace {

ParseResult fail(const FieldError& error) noexcept {
  return {ParseResult::error, error.status, error.reason};
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// "method SP request-target SP HTTP-version CRLF" (RFC 9112 §3); leaves p after the CRLF.
FieldError parse_request_line(const char*& p, const char* end, RequestHead& out) noexcept {
  const char* method_begin = p;
  while (chars::is(*p, chars::kToken)) {
    ++p;
  }
  if (p == method_begin || *p != ' ') {
    return {400, "invalid method"};
  }
  out.method = {method_begin, static_cast<size_t>(p - method_begin)};
  const char* target_begin = ++p;
  p = chars::skip_target(p, end);
  if (p == target_begin) {
    return {400, "empty request target"};
  }
  if (*p == '\r') {
    return {400, p[1] == '\n' ? "missing HTTP version" : "bare CR in the request line"};
  }
  if (*p != ' ') {
    return {400, "invalid character in the request target"};
  }
  out.target = {target_begin, static_cast<size_t>(p - target_begin)};
  const char* version_begin = ++p;
  while (*p != '\r') {
    ++p;
  }
  if (p[1] != '\n') {
    return {400, "bare CR in the request line"};
  }
  const std::string_view version(version_begin, static_cast<size_t>(p - version_begin));
  p += 2;
  if (version == "HTTP/1.1") {
    out.version_minor = 1;
    return {};
  }
  if (version == "HTTP/1.0") {
    out.version_minor = 0;
    return {};
  }
  if (version.size() == 8 && version.starts_with("HTTP/") && is_digit(version[5]) &&
      version[6] == '.' && is_digit(version[7])) {
    return {505, "HTTP version not supported"};
  }
  return {400, "invalid HTTP version"};
}

// Host, framing and persistence (RFC 9112 §3.2, §6.1, §6.3, §9.3).
FieldError apply_request_rules(const FieldFacts& facts, RequestHead& out) noexcept {
  if (facts.host_count > 1) {
    return {400, "more than one Host"};
  }
  if (facts.host_count == 0 && out.version_minor == 1) {
    return {400, "missing Host"};
  }
  out.has_host = facts.host_count == 1;
  out.host = facts.host;
  out.host_from_target = false;
  out.body_kind = BodyKind::none;
  out.content_length = 0;
  if (facts.has_transfer_encoding) {
    // Two framings, or one an HTTP/1.0 server would not see, is how requests are smuggled.
    if (facts.has_content_length) {
      return {400, "both Content-Length and Transfer-Encoding"};
    }
    if (out.version_minor == 0) {
      return {400, "Transfer-Encoding in an HTTP/1.0 request"};
    }
    if (!facts.chunked_last) {
      return {400, "chunked is not the final transfer coding"};
    }
    if (facts.chunked_count > 1) {
      return {400, "chunked applied more than once"};
    }
    if (facts.coding_count > 1) {
      return {501, "unsupported transfer coding"};
    }
    out.body_kind = BodyKind::chunked;
  } else if (facts.has_content_length) {
    out.body_kind = BodyKind::content_length;
    out.content_length = facts.content_length;
  }
  out.keep_alive =
      !facts.connection_close && (out.version_minor == 1 || facts.connection_keep_alive);
  // RFC 9110 §10.1.1: an HTTP/1.0 client cannot have meant 100-continue.
  out.expect_continue = facts.expect_continue && out.version_minor == 1;
  // RFC 9110 §7.8: Upgrade is HTTP/1.1's, and a switch takes the connection right after the
  // head, so a request with a body is served without switching (its Upgrade is not passed on).
  const bool switches = facts.connection_upgrade && !facts.upgrade.empty() &&
                        out.version_minor == 1 && out.body_kind == BodyKind::none;
  out.upgrade = switches ? facts.upgrade : std::string_view{};
  return {};
}

}  // namespace

RequestHeadParser::RequestHeadParser(Limits limits) noexcept
    : max_headers_(std::min(limits.max_headers, kMaxHeaders)),
      scanner_(limits.max_head_bytes, /*skip_leading_empty_lines=*/true) {}

ParseResult RequestHeadParser::parse(std::string_view buffered, RequestHead& out) noexcept {
  const HeadScan scan = scanner_.scan(buffered);
  switch (scan.status) {
    case HeadScan::found:
      break;
    case HeadScan::more:
      return {};
    case HeadScan::too_large:
      return {ParseResult::error, 431, "request head too large", /*oversized=*/true};
    case HeadScan::bare_lf:
      return fail({400, "line ending without CR"});
    case HeadScan::leading_empty_line:
      return fail({400, "empty line before the request line"});
  }
  const char* p = buffered.data() + scan.head_start;
  const char* end = buffered.data() + scan.head_end;
  FieldError error = parse_request_line(p, end, out);
  if (error.status == 0) {
    FieldFacts facts;
    error = parse_field_lines(p, end, max_headers_, out.headers, facts);
    if (error.status == 0) {
      error = apply_request_rules(facts, out);
    }
  }
  if (error.status != 0) {
    return fail(error);
  }
  out.skipped_bytes = scan.head_start;
  out.head_bytes = scan.head_end;
  return {ParseResult::complete, 0, {}};
}

}  // namespace ballast::http
