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

}  // namespace ballast::http
