#pragma once
// The parsed form of an HTTP/1.1 request head and response head, and the result of parsing one.
//
// Owns nothing: every string_view points into the caller's receive buffer (zero-copy), which
// must stay put, unchanged, while the head is in use. A head is a fixed-size value with its field
// lines in an inline array, so parsing never allocates: a connection keeps one head and reuses it
// for each message.
//
// Threading: plain values; a head belongs to the connection that parsed it.

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ballast::http {

// The most field lines a head can hold: the inline array's size and the ceiling of
// Limits::max_headers. nginx and Envoy default to 100 as well.
inline constexpr uint32_t kMaxHeaders = 100;

struct Header {
  std::string_view name;   // as received (field names are case-insensitive)
  std::string_view value;  // without the optional whitespace around it
};

struct Limits {
  size_t max_head_bytes = 64 * 1024;  // start line + field lines + the empty line
  uint32_t max_headers = 100;         // field lines; values above kMaxHeaders count as kMaxHeaders
};

// How the body that follows a head is delimited (RFC 9112 §6.3).
enum class BodyKind : uint8_t {
  none,            // no body: no framing fields on a request; HEAD, 1xx, 204, 304 responses
  content_length,  // exactly content_length bytes (possibly 0)
  chunked,         // chunked transfer coding: feed the bytes to a ChunkedParser
  until_close,     // responses only: the body ends when the server closes the connection
};

struct ParseResult {
  enum Status : uint8_t { complete, incomplete, error };
  Status status = incomplete;
  // On error, the status code to answer with: 400, 431, 501 or 505 for a request; always 502 for
  // a response, since a bad response is the upstream's fault, not the client's.
  uint16_t error_status = 0;
  std::string_view reason;  // on error, a static human-readable reason, fit for a log line
  bool oversized = false;   // on error: the head outgrew Limits::max_head_bytes
};

// The field lines of one head, in order of arrival.
struct HeaderFields {
  std::array<Header, kMaxHeaders> lines;
  uint32_t count = 0;
  // Lines a proxy must not pass on (RFC 9110 §7.6.1): hop-by-hop fields (header_role.h), fields
  // the Connection header names, and the framing fields, which the serializer re-emits itself.
  std::bitset<kMaxHeaders> not_forwarded;

  std::span<const Header> all() const noexcept { return {lines.data(), count}; }
  bool forwarded(uint32_t index) const noexcept { return !not_forwarded[index]; }
  // The first line with this name (case-insensitive), or nullptr.
  const Header* find(std::string_view name) const noexcept;
};

struct RequestHead {
  std::string_view method;    // a token, case-sensitive: "GET", "POST", ...
  std::string_view target;    // as sent: origin-form "/a?b", absolute-form, authority-form or "*"
  uint8_t version_minor = 1;  // HTTP/1.0 or HTTP/1.1
  HeaderFields headers;
  std::string_view host;  // the Host field's value; empty if absent (allowed for HTTP/1.0 only)
  bool has_host = false;
  bool host_from_target = false;  // host is an absolute-form target's authority, not the field's
  // The Upgrade field's value when the client asks to switch protocols ("Connection: upgrade"
  // and Upgrade on an HTTP/1.1 request without a body); empty otherwise.
  std::string_view upgrade;
  BodyKind body_kind = BodyKind::none;  // never until_close: a request without framing has no body
  uint64_t content_length = 0;          // when body_kind is content_length
  bool keep_alive = true;               // the client may send another request on this connection
  bool expect_continue = false;         // "Expect: 100-continue" on an HTTP/1.1 request
  size_t skipped_bytes = 0;  // empty lines skipped before the request line (RFC 9112 §2.2)
  size_t head_bytes = 0;     // from the first buffered byte through the empty line: the body
                             // (or the next request) starts at buffered[head_bytes]
};

struct ResponseHead {
  uint16_t status = 0;      // 100..599
  std::string_view reason;  // may be empty
  uint8_t version_minor = 1;
  HeaderFields headers;
  BodyKind body_kind = BodyKind::none;  // what follows this head on the wire
  // The framing fields as declared, validated. They matter even when no body follows: a response
  // to HEAD, or a 304, passes its Content-Length on to the client.
  bool chunked = false;  // "Transfer-Encoding: chunked"
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool keep_alive = true;  // the upstream connection may carry another request afterwards
  size_t head_bytes = 0;   // status line through the empty line
};

}  // namespace ballast::http
