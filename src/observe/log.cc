#include "observe/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <string>

#include "observe/log_writer.h"

namespace ballast::observe {
namespace {

// Written by the main thread at start-up or reload; read by any thread (relaxed: a momentarily
// stale sink or level is harmless).
std::atomic<int> g_fd{STDERR_FILENO};
std::atomic<config::LogLevel> g_level{config::LogLevel::info};
std::atomic<config::LogFormat> g_format{config::LogFormat::json};
// Written by the main thread (attach_log_writer); read by every thread that logs.
std::atomic<LogWriter*> g_writer{nullptr};

std::string_view level_name(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::debug:
      return "debug";
    case config::LogLevel::info:
      return "info";
    case config::LogLevel::warn:
      return "warn";
    case config::LogLevel::error:
      return "error";
  }
  return "info";
}

// Builds one line in a caller's buffer of kMaxEventLine bytes: never allocates, never fails.
// Two bytes stay free for the closing "}\n", so a line cut short is still one closed object.
class Line {
 public:
  explicit Line(char* out) noexcept : begin_(out), pos_(out), limit_(out + kMaxEventLine - kTail) {}

  // All or nothing: false (and nothing added) when it does not fit.
  bool add(std::string_view text) noexcept {
    if (text.size() > static_cast<size_t>(limit_ - pos_)) {
      return false;
    }
    if (text.empty()) {
      return true;  // and no memcpy from a null pointer
    }
    std::memcpy(pos_, text.data(), text.size());
    pos_ += text.size();
    return true;
  }
  // `text` escaped, then `terminator` (a closing quote, say), which always fits: the value is
  // cut to leave room for it. False when the value was cut (or nothing fits).
  bool add_value(std::string_view text, std::string_view terminator) noexcept {
    if (terminator.size() > static_cast<size_t>(limit_ - pos_)) {
      return false;
    }
    size_t consumed = 0;
    pos_ = escape_json(text, pos_, limit_ - terminator.size(), &consumed);
    add(terminator);
    return consumed == text.size();
  }
  char* mark() const noexcept { return pos_; }
  void rewind(char* mark) noexcept { pos_ = mark; }
  // Ends the line with `tail` (at most kTail - 1 bytes) and '\n'; returns its length.
  size_t finish(std::string_view tail = {}) noexcept {
    for (const char c : tail) {
      *pos_++ = c;
    }
    *pos_++ = '\n';
    return static_cast<size_t>(pos_ - begin_);
  }

 private:
  static constexpr size_t kTail = 2;  // "}\n"
  char* begin_;
  char* pos_;
  char* limit_;
};

void add_timestamp(Line& line) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[40];
  const size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  const long ms = now.tv_nsec / 1'000'000;
  text[length] = '.';
  text[length + 1] = static_cast<char>('0' + ms / 100);
  text[length + 2] = static_cast<char>('0' + ms / 10 % 10);
  text[length + 3] = static_cast<char>('0' + ms % 10);
  text[length + 4] = 'Z';
  line.add({text, length + 5});
}

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

size_t format_event(char* out, config::LogFormat format, config::LogLevel level,
                    std::string_view message, std::initializer_list<Field> fields) noexcept {
  Line line(out);
  if (format == config::LogFormat::json) {
    line.add("{\"ts\":\"");
    add_timestamp(line);
    line.add("\",\"level\":\"");
    line.add(level_name(level));
    line.add("\",\"msg\":\"");
    bool whole = line.add_value(message, "\"");
    for (const Field& field : fields) {
      if (!whole) {
        break;
      }
      // A field goes in with at least its whole key, or not at all; its value may be cut.
      char* const mark = line.mark();
      if (!line.add(",\"") || !line.add_value(field.first, "\":\"")) {
        line.rewind(mark);
        break;
      }
      whole = line.add_value(field.second, "\"");
    }
    return line.finish("}");
  }
  add_timestamp(line);
  line.add(" ");
  line.add(level_name(level));
  line.add(" ");
  bool whole = line.add_value(message, {});
  for (const Field& field : fields) {
    if (!whole) {
      break;
    }
    whole = line.add(" ") && line.add_value(field.first, "=") && line.add_value(field.second, {});
  }
  return line.finish();
}

void configure_log(const config::LoggingConfig& logging) {
  g_level = logging.level;
  g_format = logging.format;
  int fd = open_log_output(logging.output);
  const int open_error = fd < 0 ? errno : 0;
  if (fd < 0) {
    fd = STDERR_FILENO;
  }
  const int previous = g_fd.exchange(fd);
  if (previous > STDERR_FILENO && previous != fd) {
    close(previous);
  }
  bool writer_failed = false;
  if (LogWriter* writer = g_writer.load(std::memory_order_acquire)) {
    writer_failed = open_error == 0 && !writer->reopen(logging.output);
    if (open_error != 0) {
      writer->reopen("stderr");
    }
  }
  if (open_error != 0 || writer_failed) {
    log_event(config::LogLevel::error, "cannot open the log output",
              {{"output", logging.output},
               {"error", std::strerror(open_error != 0 ? open_error : errno)}});
  }
}

void attach_log_writer(LogWriter* writer) {
  LogWriter* const previous = g_writer.exchange(writer);
  if (previous != nullptr && previous != writer) {
    previous->drain();
  }
}

void log_event(config::LogLevel level, std::string_view message,
               std::initializer_list<Field> fields) noexcept {
  if (level < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  char text[kMaxEventLine];
  const size_t length =
      format_event(text, g_format.load(std::memory_order_relaxed), level, message, fields);
  if (LogWriter* writer = g_writer.load(std::memory_order_acquire)) {
    writer->write_event({text, length});
    return;
  }
  [[maybe_unused]] const ssize_t written =
      write(g_fd.load(std::memory_order_relaxed), text, length);
}

}  // namespace ballast::observe
