#pragma once
// The short responses the proxy writes itself: errors (400 for a bad request, 502 for a bad
// upstream, 503 when no server is available, ...) and their reason phrases.
//
// Threading: pure functions. Cost: O(output), no allocation.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/head.h"

namespace ballast::http {

// The RFC 9110 reason phrase of a status code ballast may send; "" for others.
std::string_view reason_phrase(uint16_t status) noexcept;

// A complete response that closes the connection:
//   HTTP/1.1 SP status SP reason-phrase
//   Content-Type: text/plain
//   Content-Length: n
//   Connection: close
//   extra_fields (Retry-After, ...)
//
//   message, or the reason phrase if message is empty, then LF
// Returns the bytes written, or 0 if `out` is too small.
size_t write_error_response(uint16_t status, std::string_view message,
                            std::span<const Header> extra_fields, std::span<char> out) noexcept;

// A response with no content that closes the connection (an OPTIONS ballast answers itself):
//   HTTP/1.1 SP status SP reason-phrase
//   Content-Length: 0
//   Connection: close
//   extra_fields (Allow, ...)
// Returns the bytes written, or 0 if `out` is too small.
size_t write_empty_response(uint16_t status, std::span<const Header> extra_fields,
                            std::span<char> out) noexcept;

// What write_trace_response adds to the request's head_bytes, at most.
inline constexpr size_t kTraceResponseSlackBytes = 128 + 2 * kMaxHeaders;

// The answer to a TRACE that ends here (RFC 9110 §9.3.8): 200, Content-Type: message/http,
// Connection: close, and as content the request line and field lines as received, less those
// that carry credentials (Authorization, Proxy-Authorization, Cookie), which the RFC says a
// final recipient should leave out. Returns the bytes written, or 0 if `out` is too small
// (request.head_bytes + kTraceResponseSlackBytes always suffices).
size_t write_trace_response(const RequestHead& request, std::span<char> out) noexcept;

}  // namespace ballast::http
