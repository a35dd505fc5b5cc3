#include "observe/process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <string>

namespace ballast::observe {
namespace {

// Reads a whole small file into `buffer`; the bytes read, 0 on any error. /proc files report
// size 0, so this reads until end of file rather than trusting fstat.
size_t read_file(const char* path, char* buffer, size_t capacity) noexcept {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  size_t length = 0;
  while (length < capacity) {
    const ssize_t got = ::read(fd, buffer + length, capacity - length);
    if (got <= 0) {
      break;
    }
    length += static_cast<size_t>(got);
  }
  ::close(fd);
  return length;
}

// The system's boot time in seconds since the epoch (/proc/stat's `btime`), 0 if unknown. The
// file holds a line per CPU and an interrupt line that can run to tens of kilobytes, so it is
// read in chunks and scanned line by line.
uint64_t read_boot_time_seconds() {
  const int fd = ::open("/proc/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  std::string text;
  std::array<char, 16384> chunk;
  for (;;) {
    const ssize_t got = ::read(fd, chunk.data(), chunk.size());
    if (got <= 0) {
      break;
    }
    text.append(chunk.data(), static_cast<size_t>(got));
  }
  ::close(fd);
  constexpr std::string_view kKey = "btime ";
  size_t at = text.starts_with(kKey) ? 0 : text.find("\nbtime ");
  if (at == std::string::npos) {
    return 0;
  }
  at = text.find(' ', at + 1) + 1;
  uint64_t seconds = 0;
  std::from_chars(text.data() + at, text.data() + text.size(), seconds);
  return seconds;
}

// Descriptors open now: the entries of /proc/self/fd, less the one this listing holds.
uint64_t count_open_fds() noexcept {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  const int own_fd = ::dirfd(dir);
  uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    int fd = -1;
    const std::string_view name(entry->d_name);
    std::from_chars(name.data(), name.data() + name.size(), fd);
    if (fd != own_fd) {
      ++count;
    }
  }
  ::closedir(dir);
  return count;
}

}  // namespace

std::optional<ProcStatFields> parse_proc_stat(std::string_view line) noexcept {
  const size_t comm_end = line.rfind(')');
  if (comm_end == std::string_view::npos) {
    return std::nullopt;
  }
  // Field 3 (the state) is token 0 after the command name; field n is token n - 3.
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kThreads = 20 - 3, kStart = 22 - 3,
                   kVsize = 23 - 3, kRss = 24 - 3;
  ProcStatFields fields;
  const char* at = line.data() + comm_end + 1;
  const char* const end = line.data() + line.size();
  for (size_t token = 0; token <= kRss; ++token) {
    while (at < end && *at == ' ') {
      ++at;
    }
    if (at == end) {
      return std::nullopt;
    }
    const char* const token_end = std::find(at, end, ' ');
    uint64_t value = 0;
    // Signed fields (priority, nice, …) are skipped: only the unsigned ones below are kept.
    std::from_chars(at, token_end, value);
    switch (token) {
      case kUtime:
        fields.utime_ticks = value;
        break;
      case kStime:
        fields.stime_ticks = value;
        break;
      case kThreads:
        fields.threads = value;
        break;
      case kStart:
        fields.start_ticks = value;
        break;
      case kVsize:
        fields.vsize_bytes = value;
        break;
      case kRss:
        fields.rss_pages = value;
        break;
      default:
        break;
    }
    at = token_end;
  }
  return fields;
}

ProcessStats read_process_stats() {
  static const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const uint64_t page_bytes = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  // The boot time never changes, and reading it costs more than everything else here.
  static const uint64_t boot_time_seconds = read_boot_time_seconds();

  ProcessStats stats;
  std::array<char, 4096> line;  // the command name is at most 16 bytes: a line is < 1 KiB
  const size_t length = read_file("/proc/self/stat", line.data(), line.size());
  if (const auto fields = parse_proc_stat(std::string_view(line.data(), length))) {
    stats.cpu_seconds =
        static_cast<double>(fields->utime_ticks + fields->stime_ticks) / ticks_per_second;
    stats.resident_memory_bytes = fields->rss_pages * page_bytes;
    stats.virtual_memory_bytes = fields->vsize_bytes;
    stats.threads = fields->threads;
    if (boot_time_seconds != 0) {
      stats.start_time_seconds = static_cast<double>(boot_time_seconds) +
                                 static_cast<double>(fields->start_ticks) / ticks_per_second;
    }
  }
  stats.open_fds = count_open_fds();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    stats.max_fds = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : limit.rlim_cur;
  }
  return stats;
}

}  // namespace ballast::observe
