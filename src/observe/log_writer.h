#pragma once
// The log writer: one process-wide thread that owns the log output (stdout, stderr or a file
// opened O_APPEND) and writes what the workers and the event log hand it, so that a slow or full
// disk stalls this thread and never a worker.
//
// Owns: the output file descriptor, the writer thread, one WorkerLogQueue per worker (a ring of
// fixed-size buffers allocated up front, 16 x 64 KiB by default) and the event queue.
// Threading: worker i alone fills queue i (single producer) and the writer thread alone drains
// it (single consumer). The worker writes whole lines into its current buffer and hands the
// buffer over when it is full or at flush(); the writer writes it out and gives it back. When
// every buffer is handed over and not yet written, a new line is dropped and counted: the worker
// never waits. Handing over publishes the buffer with one atomic store of the queue's count;
// a worker wakes the writer (one futex call) only when the writer is parked with nothing to do,
// so at most once per buffer. Event lines (any thread) go through one bounded queue under a mutex
// held for a memcpy and a pointer swap, never across I/O. reopen, drain and the destructor are for
// the main thread. Output: buffers hold whole lines. To a regular file (O_APPEND) a buffer is one
// write(2); to a pipe, socket or terminal it is written in pieces of at most PIPE_BUF bytes that
// end at a line end, so a line never interleaves with another writer's (event lines written
// directly, another process on the same pipe). A write error (ENOSPC, EIO, EPIPE) drops that
// buffer's unwritten lines and counts them. Every loss is announced in the log ("log lines
// dropped", with counts) on the writer's next pass, at most once a second. Cost (worker):
// begin_line/end_line are a few compares and stores, no syscall; a handover adds one seq_cst store
// and load, and a futex wake when the writer was parked. Measured with a JSON access line: see
// access_log.h.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "observe/server_stats.h"

namespace ballast::observe {

class LogWriter;

// Opens a log output: "stdout" and "stderr" name the process's own, anything else is a file
// path opened O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, mode 0644. -1 with errno on failure.
int open_log_output(const std::string& output) noexcept;

struct LogWriterOptions {
  size_t buffer_bytes = 64 * 1024;  // one buffer; a line never spans two
  // The ring: what a worker may queue while the writer waits for the disk or for a CPU. With
  // every core busy (a saturated proxy) the writer can wait several milliseconds to run:
  // measured on 2 busy cores with ~300-byte lines, 4 buffers dropped ~0.1% of lines at 100k
  // lines/s per worker, 16 (1 MiB) dropped none at 200k.
  uint32_t buffers_per_worker = 16;
  size_t event_queue_bytes = 64 * 1024;  // event lines waiting for the writer, all threads
};

// One worker's side of its ring. Every member but dropped_lines() is for that worker's thread
// only.
class WorkerLogQueue {
 public:
  WorkerLogQueue(LogWriter& writer, const LogWriterOptions& options);
  WorkerLogQueue(const WorkerLogQueue&) = delete;
  WorkerLogQueue& operator=(const WorkerLogQueue&) = delete;

  // Room for one line of at most `max_bytes` ('\n' included; at most buffer_bytes), in the
  // current buffer; a full buffer is handed over first. nullptr when no buffer is free: the
  // line is dropped and already counted. Follow with end_line.
  char* begin_line(size_t max_bytes) noexcept {
    if (owned_ && fill_ + max_bytes <= buffer_bytes_) {
      return current_ + fill_;
    }
    return next_buffer(max_bytes);
  }
  // The line written at begin_line's pointer is `bytes` long, its '\n' included.
  void end_line(size_t bytes) noexcept {
    fill_ += bytes;
    ++lines_;
  }
  // Copies one whole line ('\n' included). False when it was dropped (and counted).
  bool append(std::string_view line) noexcept;
  // As append, for an event line (log.h, route_thread_events), with two differences: the
  // worker hands the buffer over before it next sleeps (event_waiting()), so an event does not
  // wait for the access log's flush timer; and a line no buffer can take is not counted as
  // dropped (false: the caller sends it by the shared queue instead).
  bool append_event(std::string_view line) noexcept;

  // Hands over the current buffer if it holds any line; a few loads when it holds none.
  void flush() noexcept;

  // Whether an event line was appended since the last flush().
  bool event_waiting() const noexcept { return event_waiting_; }
  bool belongs_to(const LogWriter& writer) const noexcept { return &writer_ == &writer; }

  // Lines dropped because no buffer was free (any thread).
  uint64_t dropped_lines() const noexcept { return dropped_.get(); }

 private:
  friend class LogWriter;
  struct Slot {
    uint32_t bytes = 0;  // written by the worker before the handover publishes it
    uint32_t lines = 0;
  };

  char* next_buffer(size_t max_bytes) noexcept;
  // As next_buffer, without counting a drop when no buffer is free.
  char* claim_buffer(size_t max_bytes) noexcept;
  void hand_over() noexcept;

  LogWriter& writer_;
  const size_t buffer_bytes_;
  const uint32_t slots_;
  std::unique_ptr<char[]> storage_;  // slots_ buffers of buffer_bytes_, back to back
  std::unique_ptr<Slot[]> slot_;

  // The worker's own state. The buffer it fills is slot handed % slots_, and it owns that slot
  // only when owned_ (handed - returned < slots_ when it took it).
  char* current_ = nullptr;
  size_t fill_ = 0;
  uint32_t lines_ = 0;
  bool owned_ = false;
  bool event_waiting_ = false;
  uint64_t handed_count_ = 0;
  Counter dropped_;

  // Buffers handed over, ever: written by the worker (seq_cst, see LogWriter::wake), read by
  // the writer.
  alignas(64) std::atomic<uint64_t> handed_{0};
  // Buffers written and given back, ever: written by the writer (release), read by the worker.
  alignas(64) std::atomic<uint64_t> returned_{0};
};

class LogWriter {
 public:
  // Opens `output` ("stdout", "stderr" or a file path, created if missing) and starts the
  // thread; one queue per worker, 0..workers-1. Throws std::system_error when the file cannot
  // be opened.
  LogWriter(uint32_t workers, const std::string& output, LogWriterOptions options = {});
  // Writes everything handed over (workers must have stopped, and flushed), then joins. Blocks
  // for as long as the output does.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Worker `worker`'s queue; the worker passes it to its AccessLog.
  WorkerLogQueue& queue(uint32_t worker) noexcept { return *queues_[worker]; }
  uint32_t workers() const noexcept { return static_cast<uint32_t>(queues_.size()); }

  // Opens `output` again (a new path, or the same path after rotation). Event lines queued
  // before the call go to the old output, those after to the new; worker lines go to whichever
  // is current when the writer reaches them. False, with errno set, when it cannot be opened:
  // the current output stays.
  bool reopen(const std::string& output);

  // Queues one event line, '\n' included (any thread). Dropped and counted when the queue is
  // full.
  void write_event(std::string_view line) noexcept;

  // Blocks until every line handed over (flushed) or queued before the call is written or
  // dropped. For shutdown ordering and tests.
  void drain();

  // Lines lost, ever: no free buffer, event queue full, or a failed write.
  uint64_t dropped_lines() const noexcept;

 private:
  friend class WorkerLogQueue;

  void wake() noexcept;
  void run();
  bool has_work() const noexcept;
  void adopt_output(int fd) noexcept;
  bool write_events();
  bool write_queue(WorkerLogQueue& queue);
  void report_drops();
  // Writes whole lines; on an error counts the unwritten lines as dropped.
  void write_lines(const char* data, size_t size) noexcept;

  LogWriterOptions options_;
  std::vector<std::unique_ptr<WorkerLogQueue>> queues_;

  // The writer thread's own.
  int fd_ = -1;
  bool whole_lines_per_write_ = false;  // not a regular file: write pieces ≤ PIPE_BUF
  uint64_t reported_drops_ = 0;
  uint64_t last_report_ns_ = 0;

  // Event lines and output switches, under the mutex: events_pending_ is filled by any thread;
  // the writer swaps it with events_writing_ and writes that outside the mutex. A reopen is
  // queued in the same stream (the fd to switch to, and how many bytes of events_pending_ go
  // to the old output first), so events logged before a reload go where they went before.
  std::mutex events_mutex_;
  std::unique_ptr<char[]> events_pending_;
  size_t events_pending_bytes_ = 0;
  int pending_fd_ = -1;
  size_t pending_switch_at_ = 0;
  std::unique_ptr<char[]> events_writing_;
  // Lines or a switch are queued; seq_cst, see wake().
  std::atomic<bool> events_queued_{false};
  std::atomic<uint64_t> events_dropped_{0};

  std::atomic<uint64_t> write_dropped_{0};  // written by the writer, read by any thread

  // 1 while the writer is parked (or about to park) on it; a producer that sees 1 swaps in 0
  // and notifies. Dekker-style with each producer's publishing store: both sides use seq_cst,
  // so either the writer sees the new work or the producer sees the writer parked.
  std::atomic<uint32_t> parked_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> drain_requested_{0};
  std::atomic<uint64_t> drain_done_{0};

  std::thread thread_;
};

}  // namespace ballast::observe
