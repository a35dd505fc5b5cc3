#pragma once
// Event log lines: one JSON object per line (or plain text) for rare events — start, reload,
// health changes, ejections, errors naming a server — never for each successful request (that
// is the access log, access_log.h).
//
// Owns: the process-wide log settings (level, format, output) and the escaping every log line
// uses.
// Threading: log_event may be called from any thread. With a LogWriter attached, a line from a
// worker thread (one that called route_thread_events) is copied into that worker's own
// WorkerLogQueue, lock-free, and handed over before the worker next sleeps; a line from any
// other thread, or one the worker's full ring cannot take, is copied into the writer's shared
// event queue (a mutex held for a memcpy, never across I/O). The writer thread writes them, so a
// slow or full disk never stalls the caller; lines keep the order in which they were queued, and a
// line the full queue cannot take is counted in LogWriter::dropped_lines() and announced in the log
// once the output recovers. Without a writer (start-up, shutdown, tools, tests) a line is one
// write(2) to the output, so lines from different threads never interleave. configure_log and
// attach_log_writer run on the main thread at start-up, reload and shutdown. Cost: formatting into
// a stack buffer (no allocation), then a memcpy or one write(2).

#include <cstddef>
#include <initializer_list>
#include <string_view>
#include <utility>

#include "config/config.h"

namespace ballast::observe {

class LogWriter;
class WorkerLogQueue;

using Field = std::pair<std::string_view, std::string_view>;

// An event line is at most this long, '\n' included; longer values are cut. Below PIPE_BUF,
// so a line written to a pipe arrives whole.
inline constexpr size_t kMaxEventLine = 2048;

// Sets the level, format and output ("stdout", "stderr" or a file path, opened O_APPEND).
// Called at start-up and at every reload; each call reopens a file output (so a rotated file is
// let go) and, when a writer is attached, reopens the writer's output too. A file that cannot be
// opened leaves the output on stderr and logs an error saying why.
void configure_log(const config::LoggingConfig& logging);

// From now on event lines go through `writer` (nullptr: back to one write(2) per line). Before
// returning, waits until the writer previously attached has written the events it was given, so
// lines written directly afterwards come after them. The writer must outlive its attachment.
void attach_log_writer(LogWriter* writer);

// From now on event lines logged on the calling thread go into `queue` (a worker's queue to the
// attached writer, whose single producer is this thread) rather than the writer's shared event
// queue, so that a worker's log lines never wait on a lock another thread holds. nullptr: back
// to the shared queue. The calling thread must hand the queue over (flush()) before it sleeps
// whenever queue->event_waiting(): proxy/worker.cc does, in its loop's wait hook. Lines of one
// worker keep their order unless its ring is full (the writer stalled), when a line goes by
// the shared queue instead and may be written before the ring's.
void route_thread_events(WorkerLogQueue* queue) noexcept;

// One line: {"ts":"…","level":"…","msg":"…","key":"value",…}, or in text format
// `ts level msg key=value …`. Values are escaped (json.h's escape_json). A line that would pass
// kMaxEventLine is cut inside a value and still closed: it stays one valid JSON object.
void log_event(config::LogLevel level, std::string_view message,
               std::initializer_list<Field> fields = {}) noexcept;

// Formats the line log_event writes, '\n' included, into `out` (kMaxEventLine bytes) and
// returns its length. The time is read from the wall clock.
size_t format_event(char* out, config::LogFormat format, config::LogLevel level,
                    std::string_view message, std::initializer_list<Field> fields) noexcept;

}  // namespace ballast::observe
