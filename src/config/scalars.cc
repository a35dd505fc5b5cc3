#include "config/scalars.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>

namespace ballast::config {
namespace {

struct DurationUnit {
  std::string_view suffix;
  uint64_t ms;
};

// Longest suffix first, so that `ms` is not read as `m`.
constexpr std::array<DurationUnit, 4> kDurationUnits = {{
    {"ms", 1},
    {"s", 1'000},
    {"m", 60'000},
    {"h", 3'600'000},
}};

const std::string kDurationExamples = "a duration such as 250ms, 5s, 2m or 1h";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::optional<uint16_t> parse_port(std::string_view text) {
  const std::optional<uint64_t> port = parse_decimal(text);
  if (!port || *port < 1 || *port > 65'535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(*port);
}

}  // namespace

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || !is_digit(text.front())) {
    return std::nullopt;
  }
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

Parsed<uint64_t> parse_duration_ms(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) {
    ++digits;
  }
  const std::string_view number = text.substr(0, digits);
  const std::string_view suffix = text.substr(digits);
  if (number.empty()) {
    return {std::nullopt, "expected " + kDurationExamples + ", got " + quoted_excerpt(text)};
  }
  if (suffix.empty()) {
    return {std::nullopt, "expected " + kDurationExamples + ", got " + std::string(text) +
                              " (a bare number has no unit)"};
  }
  for (const DurationUnit& unit : kDurationUnits) {
    if (suffix != unit.suffix) {
      continue;
    }
    const std::optional<uint64_t> count = parse_decimal(number);
    if (!count || *count > kMaxDurationMs / unit.ms) {
      return {std::nullopt, std::string(text) + " is too long; the longest duration is " +
                                std::to_string(kMaxDurationMs / 3'600'000) + "h"};
    }
    return {*count * unit.ms, ""};
  }
  return {std::nullopt,
          "unknown unit in " + quoted_excerpt(text) + "; expected " + kDurationExamples};
}

std::string lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return lower;
}

std::string excerpt(std::string_view text, size_t limit) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string shown;
  for (const char c : text.substr(0, limit)) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      shown.append("\\x").push_back(kHex[byte >> 4]);
      shown.push_back(kHex[byte & 0xf]);
    } else {
      shown.push_back(c);
    }
  }
  if (text.size() > limit) {
    shown.append("...");
  }
  return shown;
}

std::string quoted_excerpt(std::string_view text) {
  // Built by appending: GCC 12 warns falsely (-Wrestrict) on "\"" + std::string.
  std::string quoted(1, '"');
  quoted.append(excerpt(text)).push_back('"');
  return quoted;
}

std::string format_duration(uint64_t duration_ms) {
  if (duration_ms == 0) {
    return "0s";
  }
  // Largest unit first: the first that divides exactly gives the shortest spelling.
  for (auto unit = kDurationUnits.rbegin(); unit->ms > 1; ++unit) {
    if (duration_ms % unit->ms == 0) {
      return std::to_string(duration_ms / unit->ms) + std::string(unit->suffix);
    }
  }
  return std::to_string(duration_ms) + "ms";
}

Parsed<Endpoint> parse_endpoint(std::string_view text) {
  const std::string shapes =
      "expected HOST:PORT, [IPv6]:PORT or :PORT, got " + quoted_excerpt(text);
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return {std::nullopt, shapes};
  }
  std::string_view host = text.substr(0, colon);
  const std::optional<uint16_t> port = parse_port(text.substr(colon + 1));
  if (!port) {
    return {std::nullopt, "the port in " + quoted_excerpt(text) + " must be between 1 and 65535"};
  }
  if (host.empty()) {
    return {Endpoint{"0.0.0.0", *port}, ""};
  }
  if (host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') {
      return {std::nullopt, shapes};
    }
    host = host.substr(1, host.size() - 2);
    in6_addr address{};
    if (inet_pton(AF_INET6, std::string(host).c_str(), &address) != 1) {
      return {std::nullopt, quoted_excerpt(host) + " is not an IPv6 address"};
    }
    return {Endpoint{std::string(host), *port}, ""};
  }
  if (host.find(':') != std::string_view::npos) {
    return {std::nullopt,
            "put an IPv6 address in brackets, as in [::1]:8080; got " + quoted_excerpt(text)};
  }
  if (!is_host(host)) {
    return {std::nullopt, quoted_excerpt(host) + " is not an IP address or host name"};
  }
  return {Endpoint{std::string(host), *port}, ""};
}

std::string format_endpoint(const Endpoint& endpoint) {
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  std::string text = ipv6 ? "[" : "";
  text.append(endpoint.host).append(ipv6 ? "]:" : ":").append(std::to_string(endpoint.port));
  return text;
}

bool endpoints_overlap(const Endpoint& a, const Endpoint& b) {
  const auto wildcard = [](const std::string& host) { return host == "0.0.0.0" || host == "::"; };
  return a.port == b.port &&
         (wildcard(a.host) || wildcard(b.host) || lowercase(a.host) == lowercase(b.host));
}

Parsed<StatusRange> parse_status_range(std::string_view text) {
  const std::string error =
      "expected a status code or a range of them such as 200 or 200-399 (codes 100-599), got " +
      quoted_excerpt(text);
  const size_t dash = text.find('-');
  const std::optional<uint64_t> min = parse_decimal(text.substr(0, dash));
  const std::optional<uint64_t> max =
      dash == std::string_view::npos ? min : parse_decimal(text.substr(dash + 1));
  if (!min || !max || *min < 100 || *max > 599 || *min > *max) {
    return {std::nullopt, error};
  }
  return {StatusRange{static_cast<uint16_t>(*min), static_cast<uint16_t>(*max)}, ""};
}

bool is_ip_literal(std::string_view text) {
  const std::string address(text);
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, address.c_str(), &v4) == 1 ||
         inet_pton(AF_INET6, address.c_str(), &v6) == 1;
}

bool is_host(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    return is_ip_literal(text);
  }
  if (text.empty() || text.size() > 253) {
    return false;
  }
  if (text.back() == '.') {
    text.remove_suffix(1);
  }
  size_t label_length = 0;
  for (const char c : text) {
    if (c == '.') {
      if (label_length == 0) {
        return false;
      }
      label_length = 0;
      continue;
    }
    const bool allowed =
        is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!allowed || ++label_length > 63) {
      return false;
    }
  }
  return label_length > 0;
}

bool is_name(std::string_view text) {
  constexpr size_t kMaxNameLength = 64;
  if (text.empty() || text.size() > kMaxNameLength) {
    return false;
  }
  for (const char c : text) {
    const bool allowed =
        is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
    if (!allowed) {
      return false;
    }
  }
  return true;
}

bool is_http_token(std::string_view text) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    const bool allowed = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         kSymbols.find(c) != std::string_view::npos;
    if (!allowed) {
      return false;
    }
  }
  return true;
}

bool is_visible_ascii(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    if (c < 0x21 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

bool is_request_path(std::string_view text) {
  return !text.empty() && text.front() == '/' && is_visible_ascii(text);
}

}  // namespace ballast::config
