#include "observe/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace ballast::observe {
namespace {

// Written by the main thread at start-up or reload; read by workers (relaxed: a momentarily
// stale sink or level is harmless).
std::atomic<int> g_fd{STDERR_FILENO};
std::atomic<config::LogLevel> g_level{config::LogLevel::info};
std::atomic<config::LogFormat> g_format{config::LogFormat::json};

constexpr size_t kMaxLine = 2048;

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

// Appends to a fixed line buffer, silently truncating: a log line must never allocate or fail.
class Line {
 public:
  void add(std::string_view text) noexcept {
    for (const char c : text) {
      put(c);
    }
  }
  void add_escaped(std::string_view text) noexcept {
    for (const char c : text) {
      if (c == '"' || c == '\\') {
        put('\\');
        put(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char escaped[8];
        std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
        add(escaped);
      } else {
        put(c);
      }
    }
  }
  void finish() noexcept {
    if (length_ == kMaxLine) {
      --length_;
    }
    text_[length_++] = '\n';
  }
  std::string_view view() const noexcept { return {text_, length_}; }

 private:
  void put(char c) noexcept {
    if (length_ < kMaxLine - 1) {
      text_[length_++] = c;
    }
  }
  char text_[kMaxLine];
  size_t length_ = 0;
};

void add_timestamp(Line& line) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char text[40];
  const size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + length, sizeof(text) - length, ".%03ldZ", now.tv_nsec / 1'000'000);
  line.add(text);
}

}  // namespace

void configure_log(const config::LoggingConfig& logging) {
  int fd = STDOUT_FILENO;
  if (logging.output == "stderr") {
    fd = STDERR_FILENO;
  } else if (logging.output != "stdout") {
    fd = open(logging.output.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      fd = STDERR_FILENO;
    }
  }
  const int previous = g_fd.exchange(fd);
  if (previous > STDERR_FILENO && previous != fd) {
    close(previous);
  }
  g_level = logging.level;
  g_format = logging.format;
}

void log_event(config::LogLevel level, std::string_view message,
               std::initializer_list<Field> fields) noexcept {
  if (level < g_level.load(std::memory_order_relaxed)) {
    return;
  }
  Line line;
  if (g_format.load(std::memory_order_relaxed) == config::LogFormat::json) {
    line.add("{\"ts\":\"");
    add_timestamp(line);
    line.add("\",\"level\":\"");
    line.add(level_name(level));
    line.add("\",\"msg\":\"");
    line.add_escaped(message);
    line.add("\"");
    for (const Field& field : fields) {
      line.add(",\"");
      line.add_escaped(field.first);
      line.add("\":\"");
      line.add_escaped(field.second);
      line.add("\"");
    }
    line.add("}");
  } else {
    add_timestamp(line);
    line.add(" ");
    line.add(level_name(level));
    line.add(" ");
    line.add(message);
    for (const Field& field : fields) {
      line.add(" ");
      line.add(field.first);
      line.add("=");
      line.add(field.second);
    }
  }
  line.finish();
  const std::string_view text = line.view();
  [[maybe_unused]] const ssize_t written =
      write(g_fd.load(std::memory_order_relaxed), text.data(), text.size());
}

}  // namespace ballast::observe
