#include "observe/json.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace ballast::observe {
namespace {

// The length of the well-formed UTF-8 sequence at the start of [p, p + remaining), or 0 when
// there is none (a stray continuation byte, an overlong form, a surrogate, a code point above
// U+10FFFF, or a sequence cut short). RFC 3629, table 3-7 of the Unicode standard.
size_t utf8_length(const unsigned char* p, size_t remaining) noexcept {
  const unsigned char lead = p[0];
  size_t length = 0;
  unsigned char low = 0x80;  // the range allowed for the second byte
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    low = lead == 0xe0 ? 0xa0 : 0x80;
    high = lead == 0xed ? 0x9f : 0xbf;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    low = lead == 0xf0 ? 0x90 : 0x80;
    high = lead == 0xf4 ? 0x8f : 0xbf;
  } else {
    return 0;
  }
  if (remaining < length || p[1] < low || p[1] > high) {
    return 0;
  }
  for (size_t i = 2; i < length; ++i) {
    if (p[i] < 0x80 || p[i] > 0xbf) {
      return 0;
    }
  }
  return length;
}

// Bytes copied as they are: printable ASCII but the quote and the backslash.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x7f; ++c) {
    plain[c] = c != '"' && c != '\\';
  }
  return plain;
}();

// Whether the 8 bytes at `p` are all plain, eight at a time (SWAR; "Bit Twiddling Hacks",
// determine if a word has a byte less than n / equal to n). Exact: a byte that needs escaping
// always makes it false; then the bytes are looked at one by one.
bool plain_word(const unsigned char* p) noexcept {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  uint64_t word = 0;
  std::memcpy(&word, p, sizeof(word));
  const auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  const uint64_t special = (word & kHighs)                             // ≥ 0x80: maybe UTF-8
                           | ((word - kOnes * 0x20) & ~word & kHighs)  // < 0x20
                           | has_zero(word ^ (kOnes * 0x7f))           // DEL
                           | has_zero(word ^ (kOnes * '"')) | has_zero(word ^ (kOnes * '\\'));
  return special == 0;
}

}  // namespace

char* escape_json(std::string_view text, char* out, char* end, size_t* consumed) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    // The common case, a run of printable ASCII, is found first and copied at once.
    size_t run = i;
    while (run + 8 <= text.size() && plain_word(bytes + run)) {
      run += 8;
    }
    while (run < text.size() && kPlain[bytes[run]]) {
      ++run;
    }
    if (run != i) {
      const size_t length = std::min(run - i, static_cast<size_t>(end - out));
      std::memcpy(out, bytes + i, length);
      out += length;
      i += length;
      if (i != run) {
        break;  // out of room
      }
      continue;
    }
    const unsigned char c = bytes[i];
    if (c == '"' || c == '\\') {
      if (end - out < 2) {
        break;
      }
      *out++ = '\\';
      *out++ = static_cast<char>(c);
      ++i;
      continue;
    }
    const size_t length = c >= 0x80 ? utf8_length(bytes + i, text.size() - i) : 0;
    if (length != 0) {
      if (static_cast<size_t>(end - out) < length) {
        break;
      }
      std::memcpy(out, bytes + i, length);
      out += length;
      i += length;
      continue;
    }
    // A control character, DEL, or a byte outside well-formed UTF-8: \u00XX, the byte read as
    // Latin-1, so nothing is lost and the line stays valid.
    if (end - out < 6) {
      break;
    }
    std::memcpy(out, "\\u00", 4);
    out[4] = kHex[c >> 4];
    out[5] = kHex[c & 0xf];
    out += 6;
    ++i;
  }
  if (consumed != nullptr) {
    *consumed = i;
  }
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  static constexpr size_t kWorstBytesPerByte = 6;  // \u00XX
  const size_t start = out.size();
  out.resize(start + 2 + kWorstBytesPerByte * text.size());
  char* begin = out.data() + start;
  *begin = '"';
  char* end = escape_json(text, begin + 1, out.data() + out.size());
  *end++ = '"';
  out.resize(static_cast<size_t>(end - out.data()));
}

void JsonWriter::separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_items_.empty()) {
    if (has_items_.back()) {
      out_.push_back(',');
    }
    has_items_.back() = true;
  }
}

void JsonWriter::open(char bracket) {
  separate();
  out_.push_back(bracket);
  has_items_.push_back(false);
}

void JsonWriter::close(char bracket) {
  out_.push_back(bracket);
  has_items_.pop_back();
}

void JsonWriter::key(std::string_view name) {
  separate();
  append_json_string(out_, name);
  out_.push_back(':');
  after_key_ = true;
}

void JsonWriter::string(std::string_view value) {
  separate();
  append_json_string(out_, value);
}

void JsonWriter::number(uint64_t value) {
  separate();
  out_.append(std::to_string(value));
}

void JsonWriter::number(double value, int decimals) {
  separate();
  if (!std::isfinite(value)) {
    value = 0;
  }
  char text[64];
  const int length = std::snprintf(text, sizeof(text), "%.*f", std::clamp(decimals, 0, 9), value);
  if (length <= 0 || static_cast<size_t>(length) >= sizeof(text)) {
    out_.push_back('0');  // beyond 1e50: not a figure this API produces
    return;
  }
  out_.append(text, static_cast<size_t>(length));
}

void JsonWriter::boolean(bool value) {
  separate();
  out_.append(value ? "true" : "false");
}

void JsonWriter::null() {
  separate();
  out_.append("null");
}

}  // namespace ballast::observe
