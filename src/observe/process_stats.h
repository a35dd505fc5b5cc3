#pragma once
// What the process costs the machine, for the standard Prometheus process_* metrics: CPU time,
// memory, file descriptors, start time and threads, read from /proc/self and getrlimit.
//
// Threading: read_process_stats() is a pure read of the kernel's view of this process; any
// thread may call it, and the admin thread does, once per scrape. Never on a worker: it opens
// and reads files.
// Cost: one small /proc read, one directory listing (a readdir entry per open descriptor) and a
// getrlimit: measured 7 µs with a handful of descriptors, growing with the descriptors open.
// /proc/stat (the boot time, for the start time) is read once per process.
// Source: the same fields as Prometheus's client_golang process collector (procfs), so the
// dashboards written for it work unchanged.

#include <cstdint>
#include <optional>
#include <string_view>

namespace ballast::observe {

struct ProcessStats {
  double cpu_seconds = 0.0;            // user + system, this process's threads only
  uint64_t resident_memory_bytes = 0;  // RSS
  uint64_t virtual_memory_bytes = 0;   // the address space's size
  uint64_t open_fds = 0;               // descriptors open now
  uint64_t max_fds = 0;                // the soft RLIMIT_NOFILE (UINT64_MAX when unlimited)
  double start_time_seconds = 0.0;     // since the Unix epoch
  uint64_t threads = 0;
};

// The process as it is now. A field the kernel does not give (no /proc) stays 0.
ProcessStats read_process_stats();

// The fields of one /proc/<pid>/stat line that ProcessStats needs, in the kernel's units.
struct ProcStatFields {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t threads = 0;
  uint64_t start_ticks = 0;  // after boot
  uint64_t vsize_bytes = 0;
  uint64_t rss_pages = 0;
};

// Parses a /proc/<pid>/stat line; nullopt when it is cut short. The command name (field 2) is
// in parentheses and may hold spaces and parentheses itself, so the fields are counted from the
// last ')'. Exposed for tests.
std::optional<ProcStatFields> parse_proc_stat(std::string_view line) noexcept;

}  // namespace ballast::observe
