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

#include "observe/json.h"
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
// The calling worker's own queue to the writer (route_thread_events); null on other threads.
thread_local WorkerLogQueue* t_event_queue = nullptr;

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

}  // namespace

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

void route_thread_events(WorkerLogQueue* queue) noexcept {
  t_event_queue = queue;
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
    // A worker's line goes into its own queue, lock-free; the shared queue (and its mutex) only
    // for other threads and for a line the worker's full ring cannot take.
    WorkerLogQueue* const own = t_event_queue;
    if (own == nullptr || !own->belongs_to(*writer) || !own->append_event({text, length})) {
      writer->write_event({text, length});
    }
    return;
  }
  [[maybe_unused]] const ssize_t written =
      write(g_fd.load(std::memory_order_relaxed), text, length);
}

}  // namespace ballast::observe
