#pragma once
// Pure parsers and checks for the text of single configuration values: durations, listen
// addresses, status ranges and the names that end up on the wire (hosts, paths, header and
// cookie names). They know nothing of YAML or of where a value came from; the caller turns a
// failure into a located ConfigError.
//
// Threading: stateless. Cost: linear in the text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ballast::config {

// A parsed value, or why the text is not one (error is set exactly when value is empty).
template <typename T>
struct Parsed {
  std::optional<T> value;
  std::string error;
};

// Durations are capped so that any of them, in nanoseconds, fits a uint64_t many times over; a
// longer one is a typo, not a setting.
inline constexpr uint64_t kMaxDurationMs = 7 * 24 * 3'600'000ULL;  // 7 days

// `250ms`, `5s`, `2m`, `1h`: a decimal integer and one unit. A bare number is refused, since
// whether `30` means seconds or milliseconds is exactly the mistake units prevent.
Parsed<uint64_t> parse_duration_ms(std::string_view text);

// ASCII letters in lower case; other bytes unchanged. Host names compare without case.
std::string lowercase(std::string_view text);

// `text` as it may appear in a message: cut to its first `limit` bytes ("...") so that a huge
// value does not make a huge message, and control characters written as \xHH so that a value
// cannot break a log line or drive a terminal.
std::string excerpt(std::string_view text, size_t limit = 40);

// excerpt(text) in double quotes.
std::string quoted_excerpt(std::string_view text);

// The shortest spelling of a duration in the largest unit that divides it: 90000 -> "90s".
std::string format_duration(uint64_t duration_ms);

// A decimal integer with no sign, or nullopt (also when it does not fit a uint64_t).
std::optional<uint64_t> parse_decimal(std::string_view text);

// `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all IPv4 addresses, 0.0.0.0).
Parsed<Endpoint> parse_endpoint(std::string_view text);

// "host:port", or "[host]:port" for IPv6: the form parse_endpoint() reads.
std::string format_endpoint(const Endpoint& endpoint);

// Whether two listening sockets would collide: the same port on the same host, or on any host
// when either is a wildcard (0.0.0.0 or ::).
bool endpoints_overlap(const Endpoint& a, const Endpoint& b);

struct StatusRange {
  uint16_t min = 0;
  uint16_t max = 0;
};

// `200` or `200-399`, codes 100-599, min <= max.
Parsed<StatusRange> parse_status_range(std::string_view text);

// An IPv4 or IPv6 literal (no brackets), or a DNS name: letters, digits, '-', '_' and '.', in
// labels of 1-63 characters, at most 253 in all (a trailing dot is allowed).
bool is_host(std::string_view text);

bool is_ip_literal(std::string_view text);

// An HTTP token (RFC 9110 section 5.6.2): what header and cookie names are made of.
bool is_http_token(std::string_view text);

// A path as it goes into a request line: starts with '/', visible ASCII only (no spaces, no
// control characters, so nothing can be smuggled into a request).
bool is_request_path(std::string_view text);

// A name the configuration gives something (cluster, listener, region): 1-64 letters, digits,
// '-' and '_', so that it reads unambiguously inside a dotted key path and a metric label.
bool is_name(std::string_view text);

// Visible ASCII only (0x21-0x7e), non-empty.
bool is_visible_ascii(std::string_view text);

}  // namespace ballast::config
