#include "observe/log_writer.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <utility>

#include "core/clock.h"
#include "observe/log.h"

namespace ballast::observe {
namespace {

constexpr uint64_t kDropReportIntervalNs = 1'000'000'000;

void close_owned(int fd) noexcept {
  if (fd > STDERR_FILENO) {
    close(fd);
  }
}

bool is_regular_file(int fd) noexcept {
  struct stat status {};
  return fstat(fd, &status) == 0 && S_ISREG(status.st_mode);
}

}  // namespace

int open_log_output(const std::string& output) noexcept {
  if (output == "stdout") {
    return STDOUT_FILENO;
  }
  if (output == "stderr") {
    return STDERR_FILENO;
  }
  return open(output.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

// --- the worker's side ---------------------------------------------------------------------

WorkerLogQueue::WorkerLogQueue(LogWriter& writer, const LogWriterOptions& options)
    : writer_(writer),
      buffer_bytes_(options.buffer_bytes),
      slots_(options.buffers_per_worker),
      // make_unique zeroes the buffers: their pages are touched here, not on a worker's first
      // lines.
      storage_(std::make_unique<char[]>(options.buffer_bytes * options.buffers_per_worker)),
      slot_(std::make_unique<Slot[]>(options.buffers_per_worker)) {
  assert(slots_ > 0 && buffer_bytes_ > 0 && buffer_bytes_ <= UINT32_MAX);
}

char* WorkerLogQueue::next_buffer(size_t max_bytes) noexcept {
  char* const buffer = claim_buffer(max_bytes);
  if (buffer == nullptr) {
    dropped_.add();
  }
  return buffer;
}

char* WorkerLogQueue::claim_buffer(size_t max_bytes) noexcept {
  if (max_bytes > buffer_bytes_) {
    return nullptr;
  }
  if (owned_) {
    hand_over();  // it cannot take this line: fill_ + max_bytes > buffer_bytes_ >= max_bytes
  }
  // The slot after the last handed over is free once the writer has given it back.
  if (handed_count_ - returned_.load(std::memory_order_acquire) >= slots_) {
    return nullptr;
  }
  owned_ = true;
  current_ = storage_.get() + (handed_count_ % slots_) * buffer_bytes_;
  fill_ = 0;
  lines_ = 0;
  return current_;
}

void WorkerLogQueue::hand_over() noexcept {
  Slot& slot = slot_[handed_count_ % slots_];
  slot.bytes = static_cast<uint32_t>(fill_);
  slot.lines = lines_;
  ++handed_count_;
  // seq_cst, not only release: it pairs with the writer's store to parked_ (see wake()).
  handed_.store(handed_count_, std::memory_order_seq_cst);
  owned_ = false;
  fill_ = 0;
  lines_ = 0;
  writer_.wake();
}

bool WorkerLogQueue::append(std::string_view line) noexcept {
  char* const out = begin_line(line.size());
  if (out == nullptr) {
    return false;
  }
  if (!line.empty()) {
    std::memcpy(out, line.data(), line.size());
  }
  end_line(line.size());
  return true;
}

bool WorkerLogQueue::append_event(std::string_view line) noexcept {
  char* const out =
      owned_ && fill_ + line.size() <= buffer_bytes_ ? current_ + fill_ : claim_buffer(line.size());
  if (out == nullptr) {
    return false;
  }
  if (!line.empty()) {
    std::memcpy(out, line.data(), line.size());
  }
  end_line(line.size());
  event_waiting_ = true;
  return true;
}

void WorkerLogQueue::flush() noexcept {
  event_waiting_ = false;
  if (owned_ && fill_ > 0) {
    hand_over();
  }
}

// --- the writer ------------------------------------------------------------------------------

LogWriter::LogWriter(uint32_t workers, const std::string& output, LogWriterOptions options)
    : options_(options),
      events_pending_(std::make_unique<char[]>(options.event_queue_bytes)),
      events_writing_(std::make_unique<char[]>(options.event_queue_bytes)) {
  fd_ = open_log_output(output);
  if (fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "cannot open log output " + output);
  }
  whole_lines_per_write_ = !is_regular_file(fd_);
  queues_.reserve(workers);
  for (uint32_t i = 0; i < workers; ++i) {
    queues_.push_back(std::make_unique<WorkerLogQueue>(*this, options_));
  }
  thread_ = std::thread([this] { run(); });
}

LogWriter::~LogWriter() {
  stopping_.store(true, std::memory_order_seq_cst);
  wake();
  thread_.join();
  close_owned(fd_);
  close_owned(pending_fd_);
}

bool LogWriter::reopen(const std::string& output) {
  const int fd = open_log_output(output);
  if (fd < 0) {
    return false;
  }
  int replaced = -1;
  {
    std::lock_guard lock(events_mutex_);
    if (pending_fd_ >= 0) {
      replaced = pending_fd_;  // never used: the earlier switch point stays, with this fd
    } else {
      pending_switch_at_ = events_pending_bytes_;
    }
    pending_fd_ = fd;
    events_queued_.store(true, std::memory_order_seq_cst);
  }
  close_owned(replaced);
  wake();
  return true;
}

void LogWriter::write_event(std::string_view line) noexcept {
  {
    std::lock_guard lock(events_mutex_);
    if (line.size() > options_.event_queue_bytes - events_pending_bytes_) {
      events_dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::memcpy(events_pending_.get() + events_pending_bytes_, line.data(), line.size());
    events_pending_bytes_ += line.size();
    events_queued_.store(true, std::memory_order_seq_cst);
  }
  wake();
}

void LogWriter::drain() {
  const uint64_t target = drain_requested_.fetch_add(1, std::memory_order_seq_cst) + 1;
  wake();
  uint64_t done = drain_done_.load(std::memory_order_acquire);
  while (done < target) {
    drain_done_.wait(done, std::memory_order_acquire);
    done = drain_done_.load(std::memory_order_acquire);
  }
}

uint64_t LogWriter::dropped_lines() const noexcept {
  uint64_t total = events_dropped_.load(std::memory_order_relaxed) +
                   write_dropped_.load(std::memory_order_relaxed);
  for (const std::unique_ptr<WorkerLogQueue>& queue : queues_) {
    total += queue->dropped_lines();
  }
  return total;
}

// Called by whoever just published work (a handover, an event, a reopen, a drain, the stop),
// after its seq_cst store. The writer stores parked_ = 1 (seq_cst) and then looks for work
// (seq_cst loads) before it sleeps; in the single total order of seq_cst operations either the
// writer's look comes after the producer's store (it sees the work and does not sleep) or the
// producer's load of parked_ comes after the writer's store (it sees 1 and wakes it). Only
// then is there a syscall.
void LogWriter::wake() noexcept {
  if (parked_.load(std::memory_order_seq_cst) != 0 &&
      parked_.exchange(0, std::memory_order_seq_cst) != 0) {
    parked_.notify_one();
  }
}

bool LogWriter::has_work() const noexcept {
  if (stopping_.load(std::memory_order_seq_cst) || events_queued_.load(std::memory_order_seq_cst) ||
      drain_requested_.load(std::memory_order_seq_cst) >
          drain_done_.load(std::memory_order_relaxed)) {
    return true;
  }
  for (const std::unique_ptr<WorkerLogQueue>& queue : queues_) {
    if (queue->handed_.load(std::memory_order_seq_cst) !=
        queue->returned_.load(std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void LogWriter::run() {
  for (;;) {
    // Read before the pass, so that the pass covers everything published before a stop or a
    // drain request.
    const bool stopping = stopping_.load(std::memory_order_seq_cst);
    const uint64_t drain_target = drain_requested_.load(std::memory_order_seq_cst);
    bool worked = write_events();
    for (const std::unique_ptr<WorkerLogQueue>& queue : queues_) {
      worked = write_queue(*queue) || worked;
    }
    report_drops();
    if (stopping) {
      write_events();  // the announcement just queued, if any
    }
    if (drain_done_.load(std::memory_order_relaxed) < drain_target) {
      drain_done_.store(drain_target, std::memory_order_release);
      drain_done_.notify_all();
    }
    if (stopping) {
      return;
    }
    if (worked) {
      continue;
    }
    parked_.store(1, std::memory_order_seq_cst);
    if (has_work()) {
      parked_.store(0, std::memory_order_relaxed);
      continue;
    }
    parked_.wait(1, std::memory_order_seq_cst);
  }
}

void LogWriter::adopt_output(int fd) noexcept {
  if (fd_ != fd) {
    close_owned(fd_);
  }
  fd_ = fd;
  whole_lines_per_write_ = !is_regular_file(fd_);
}

bool LogWriter::write_events() {
  if (!events_queued_.load(std::memory_order_seq_cst)) {
    return false;
  }
  size_t bytes = 0;
  int switch_to = -1;
  size_t switch_at = 0;
  {
    std::lock_guard lock(events_mutex_);
    std::swap(events_pending_, events_writing_);
    bytes = events_pending_bytes_;
    events_pending_bytes_ = 0;
    switch_to = std::exchange(pending_fd_, -1);
    switch_at = pending_switch_at_;
    events_queued_.store(false, std::memory_order_relaxed);
  }
  if (switch_to >= 0) {
    write_lines(events_writing_.get(), switch_at);
    adopt_output(switch_to);
    write_lines(events_writing_.get() + switch_at, bytes - switch_at);
  } else {
    write_lines(events_writing_.get(), bytes);
  }
  return true;
}

bool LogWriter::write_queue(WorkerLogQueue& queue) {
  uint64_t returned = queue.returned_.load(std::memory_order_relaxed);
  const uint64_t handed = queue.handed_.load(std::memory_order_acquire);
  if (returned == handed) {
    return false;
  }
  for (; returned != handed; ++returned) {
    const size_t index = returned % queue.slots_;
    write_lines(queue.storage_.get() + index * queue.buffer_bytes_, queue.slot_[index].bytes);
    // Given back one by one, so that a worker short of buffers gets each as soon as it is free.
    queue.returned_.store(returned + 1, std::memory_order_release);
  }
  return true;
}

void LogWriter::write_lines(const char* data, size_t size) noexcept {
  while (size > 0) {
    size_t piece = size;
    if (whole_lines_per_write_ && piece > PIPE_BUF) {
      // A write of at most PIPE_BUF bytes to a pipe is atomic; end the piece at a line end.
      const void* newline = memrchr(data, '\n', PIPE_BUF);
      if (newline == nullptr) {
        newline = std::memchr(data, '\n', size);  // a line longer than PIPE_BUF: whole anyway
      }
      piece = newline == nullptr ? size : static_cast<const char*>(newline) - data + 1;
    }
    const ssize_t written = write(fd_, data, piece);
    if (written > 0) {
      data += written;
      size -= static_cast<size_t>(written);
      continue;
    }
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // An output someone left non-blocking: wait here, as a blocking write would.
      pollfd ready{fd_, POLLOUT, 0};
      poll(&ready, 1, 1000);
      continue;
    }
    // ENOSPC, EIO, EPIPE…: the rest of this buffer is lost; count its lines.
    write_dropped_.fetch_add(static_cast<uint64_t>(std::count(data, data + size, '\n')),
                             std::memory_order_relaxed);
    return;
  }
}

// Announces lost lines in the log itself, at most once a second, so that a loss is never
// silent even to someone who reads only the log. The announcement is an ordinary event line
// (it follows the level and format, and goes through this writer when it is attached).
void LogWriter::report_drops() {
  const uint64_t dropped = dropped_lines();
  if (dropped == reported_drops_) {
    return;
  }
  const uint64_t now_ns = core::monotonic_now_ns();
  if (last_report_ns_ != 0 && now_ns - last_report_ns_ < kDropReportIntervalNs) {
    return;
  }
  char since[24];
  char total[24];
  const std::to_chars_result since_end =
      std::to_chars(since, since + sizeof(since), dropped - reported_drops_);
  const std::to_chars_result total_end = std::to_chars(total, total + sizeof(total), dropped);
  reported_drops_ = dropped;
  last_report_ns_ = now_ns;
  log_event(config::LogLevel::warn, "log lines dropped",
            {{"dropped", std::string_view(since, since_end.ptr - since)},
             {"dropped_total", std::string_view(total, total_end.ptr - total)}});
}

}  // namespace ballast::observe
