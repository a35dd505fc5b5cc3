#pragma once
// The character classes of HTTP (RFC 9110 §5.6, RFC 9112, RFC 3986 for hosts) as one 256-entry
// table, so the hot loops pay one load and one test per byte; and the list and case helpers that
// the parsers share.
//
// Threading: constants and pure functions. Internal to the http module.

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ballast::http::chars {

enum : uint8_t {
  kToken = 1,       // tchar: methods, field names, codings, Connection options
  kFieldValue = 2,  // field-vchar, SP or HTAB (obs-text allowed): inside a field value
  kTarget = 4,      // VCHAR or obs-text: a request-target byte (no SP, no controls)
  kHost = 8,        // unreserved, pct-encoded, sub-delims, ":", "[", "]": a Host value byte
  kHexDigit = 16,
};

inline constexpr std::array<uint8_t, 256> kClass = [] {
  constexpr std::string_view kTokenSymbols = "!#$%&'*+-.^_`|~";
  constexpr std::string_view kHostSymbols = "-._~%!$&'()*+,;=:[]";
  std::array<uint8_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool vchar = c >= 0x21 && c <= 0x7e;
    const bool obs_text = c >= 0x80;
    uint8_t bits = 0;
    if (alpha || digit || kTokenSymbols.find(ch) != std::string_view::npos) {
      bits |= kToken;
    }
    if (vchar || obs_text || c == ' ' || c == '\t') {
      bits |= kFieldValue;
    }
    if (vchar || obs_text) {
      bits |= kTarget;
    }
    if (alpha || digit || kHostSymbols.find(ch) != std::string_view::npos) {
      bits |= kHost;
    }
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
      bits |= kHexDigit;
    }
    table[c] = bits;
  }
  return table;
}();

inline bool is(char c, uint8_t char_class) noexcept {
  return (kClass[static_cast<uint8_t>(c)] & char_class) != 0;
}

// Advances p over bytes of `char_class`, a class that holds every byte from `lowest` to 0xff
// except DEL: eight bytes per step while none of them is below `lowest` or DEL (SWAR, "Bit
// Twiddling Hacks": hasless and haszero), then byte by byte. Reads no byte at or after `end`;
// the byte loop relies on a byte outside the class before `end` (a line's CR) to stop.
inline const char* skip_class(const char* p, const char* end, uint8_t char_class,
                              uint8_t lowest) noexcept {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    const uint64_t below = (word - kOnes * lowest) & ~word & kHighBits;
    const uint64_t del_xor = word ^ (kOnes * 0x7f);
    const uint64_t del = (del_xor - kOnes) & ~del_xor & kHighBits;
    if ((below | del) != 0) {
      break;
    }
    p += 8;
  }
  while (is(*p, char_class)) {
    ++p;
  }
  return p;
}

// Over field-value bytes (SP and up but DEL; HTAB too, by the byte loop).
inline const char* skip_field_value(const char* p, const char* end) noexcept {
  return skip_class(p, end, kFieldValue, ' ');
}

// Over request-target bytes (VCHAR and obs-text).
inline const char* skip_target(const char* p, const char* end) noexcept {
  return skip_class(p, end, kTarget, '!');
}

// The value of a hex digit; `c` must be one (is(c, kHexDigit)).
inline int hex_value(char c) noexcept {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

inline bool is_ows(char c) noexcept {
  return c == ' ' || c == '\t';
}

inline char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

inline bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) {
      return false;
    }
  }
  return true;
}

inline std::string_view trim_ows(std::string_view text) noexcept {
  while (!text.empty() && is_ows(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_ows(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

// The elements of a comma-separated list field (RFC 9110 §5.6.1), trimmed of whitespace; empty
// elements are skipped, as the RFC asks of recipients.
class ListElements {
 public:
  explicit ListElements(std::string_view value) noexcept : rest_(value) {}

  bool next(std::string_view& element) noexcept {
    while (!rest_.empty()) {
      const size_t comma = rest_.find(',');
      element = trim_ows(rest_.substr(0, comma));
      rest_ = comma == std::string_view::npos ? std::string_view() : rest_.substr(comma + 1);
      if (!element.empty()) {
        return true;
      }
    }
    return false;
  }

 private:
  std::string_view rest_;
};

}  // namespace ballast::http::chars
