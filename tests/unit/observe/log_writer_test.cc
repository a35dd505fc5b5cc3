#include "observe/log_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "observe/log.h"

namespace ballast::observe {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

bool is_drop_notice(const std::string& line) {
  return line.find("\"msg\":\"log lines dropped\"") != std::string::npos;
}

class LogWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("ballast_log_writer_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    attach_log_writer(nullptr);
    std::filesystem::remove_all(directory_);
  }
  std::string path(const std::string& name) const { return (directory_ / name).string(); }

  std::filesystem::path directory_;
};

// A FIFO whose reader is open but reads nothing until told to: the writer's write(2) blocks
// once the pipe's buffer is full, like a stalled disk or a stuck log collector.
class StalledPipe {
 public:
  explicit StalledPipe(const std::string& path) : path_(path) {
    EXPECT_EQ(mkfifo(path.c_str(), 0600), 0);
    // Opened before the writer opens its end, so the writer's open does not block.
    read_fd_ = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    EXPECT_GE(read_fd_, 0);
  }
  ~StalledPipe() {
    if (reader_.joinable()) {
      reader_.join();
    }
    close(read_fd_);
  }
  // Starts reading everything until every writer has closed the pipe (EOF). Call it once a
  // writer has the pipe open: with none, a read returns EOF at once.
  void start_reading() {
    const int flags = fcntl(read_fd_, F_GETFL);
    fcntl(read_fd_, F_SETFL, flags & ~O_NONBLOCK);
    reader_ = std::thread([this] {
      char buffer[4096];
      for (;;) {
        const ssize_t got = read(read_fd_, buffer, sizeof(buffer));
        if (got <= 0) {
          return;
        }
        text_.append(buffer, static_cast<size_t>(got));
      }
    });
  }
  // Bytes written to the pipe and not read, and what it can hold.
  size_t buffered() const {
    int bytes = 0;
    ioctl(read_fd_, FIONREAD, &bytes);
    return static_cast<size_t>(bytes);
  }
  size_t capacity() const { return static_cast<size_t>(fcntl(read_fd_, F_GETPIPE_SZ)); }
  // Everything read, once the writers closed their ends.
  std::string finish() {
    reader_.join();
    return text_;
  }

 private:
  std::string path_;
  int read_fd_ = -1;
  std::thread reader_;
  std::string text_;
};

TEST_F(LogWriterTest, WritesEachWorkersLinesToAFile) {
  LogWriter writer(2, path("out.log"));
  EXPECT_EQ(writer.workers(), 2u);
  EXPECT_TRUE(writer.queue(0).append("worker 0 line\n"));
  EXPECT_TRUE(writer.queue(1).append("worker 1 line\n"));
  EXPECT_TRUE(writer.queue(0).append("worker 0 again\n"));
  writer.queue(0).flush();
  writer.queue(1).flush();
  writer.drain();
  std::vector<std::string> lines = split_lines(read_all(path("out.log")));
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"worker 0 again", "worker 0 line", "worker 1 line"}));
  EXPECT_EQ(writer.dropped_lines(), 0u);
}

TEST_F(LogWriterTest, NothingIsWrittenBeforeAFlush) {
  LogWriter writer(1, path("out.log"));
  writer.queue(0).append("held\n");
  writer.drain();
  EXPECT_EQ(read_all(path("out.log")), "");
  writer.queue(0).flush();
  writer.queue(0).flush();  // nothing more to hand over
  writer.drain();
  EXPECT_EQ(read_all(path("out.log")), "held\n");
}

TEST_F(LogWriterTest, AppendsToAnExistingFile) {
  std::ofstream(path("out.log")) << "before\n";
  {
    LogWriter writer(1, path("out.log"));
    writer.queue(0).append("after\n");
    writer.queue(0).flush();
  }
  EXPECT_EQ(read_all(path("out.log")), "before\nafter\n");
}

TEST_F(LogWriterTest, AFullBufferIsHandedOverWithoutAFlush) {
  LogWriter writer(1, path("out.log"), {.buffer_bytes = 64, .buffers_per_worker = 2});
  const std::string line(31, 'x');  // 32 bytes with '\n': two fill a buffer
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(writer.queue(0).append(line + "\n"));
  }
  writer.drain();
  EXPECT_EQ(read_all(path("out.log")), line + "\n" + line + "\n");
}

TEST_F(LogWriterTest, ALineLongerThanABufferIsDroppedAndCounted) {
  LogWriter writer(1, path("out.log"), {.buffer_bytes = 64, .buffers_per_worker = 2});
  EXPECT_FALSE(writer.queue(0).append(std::string(64, 'x') + "\n"));
  EXPECT_EQ(writer.dropped_lines(), 1u);
  EXPECT_EQ(writer.queue(0).dropped_lines(), 1u);
}

TEST_F(LogWriterTest, FlushesEverythingQueuedOnShutdown) {
  constexpr int kLines = 5'000;
  {
    LogWriter writer(1, path("out.log"), {.buffer_bytes = 4096, .buffers_per_worker = 64});
    for (int i = 0; i < kLines; ++i) {
      ASSERT_TRUE(writer.queue(0).append("line " + std::to_string(i) + "\n"));
    }
    writer.queue(0).flush();
  }  // no drain: the destructor writes what is queued
  const std::vector<std::string> lines = split_lines(read_all(path("out.log")));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kLines));
  EXPECT_EQ(lines.front(), "line 0");
  EXPECT_EQ(lines.back(), "line " + std::to_string(kLines - 1));
}

TEST_F(LogWriterTest, ReopenSwitchesTheOutput) {
  LogWriter writer(1, path("a.log"));
  writer.queue(0).append("one\n");
  writer.queue(0).flush();
  writer.drain();
  ASSERT_TRUE(writer.reopen(path("b.log")));
  writer.queue(0).append("two\n");
  writer.queue(0).flush();
  writer.drain();
  EXPECT_EQ(read_all(path("a.log")), "one\n");
  EXPECT_EQ(read_all(path("b.log")), "two\n");

  // A rotated file: moved away, then the same path opened again.
  std::filesystem::rename(path("b.log"), path("b.log.1"));
  ASSERT_TRUE(writer.reopen(path("b.log")));
  writer.queue(0).append("three\n");
  writer.queue(0).flush();
  writer.drain();
  EXPECT_EQ(read_all(path("b.log.1")), "two\n");
  EXPECT_EQ(read_all(path("b.log")), "three\n");
}

TEST_F(LogWriterTest, AFailedReopenKeepsTheCurrentOutput) {
  LogWriter writer(1, path("a.log"));
  errno = 0;
  EXPECT_FALSE(writer.reopen(path("missing/dir/b.log")));
  EXPECT_EQ(errno, ENOENT);
  writer.queue(0).append("still here\n");
  writer.queue(0).flush();
  writer.drain();
  EXPECT_EQ(read_all(path("a.log")), "still here\n");
}

TEST_F(LogWriterTest, AnOutputThatCannotBeOpenedThrows) {
  EXPECT_THROW(LogWriter(1, path("missing/dir/a.log")), std::system_error);
}

TEST_F(LogWriterTest, WriteErrorsDropAndCountTheLines) {
  LogWriter writer(1, "/dev/full");  // every write fails with ENOSPC
  for (int i = 0; i < 10; ++i) {
    writer.queue(0).append("lost\n");
  }
  writer.queue(0).flush();
  writer.write_event("lost event\n");
  writer.drain();
  EXPECT_GE(writer.dropped_lines(), 11u);          // and the drop notice, if it went to this writer
  EXPECT_EQ(writer.queue(0).dropped_lines(), 0u);  // the queue itself never refused a line
}

// The output blocks (a pipe nobody reads): the worker keeps appending at full speed, every
// line it cannot queue is counted, and once the pipe is read again everything queued arrives:
// lines read + lines dropped = lines appended.
TEST_F(LogWriterTest, ABlockedOutputDropsAndCountsWithoutStallingTheWorker) {
  StalledPipe pipe(path("pipe"));
  uint64_t appended = 0;
  std::string text;
  {
    LogWriter writer(1, path("pipe"), {.buffer_bytes = 4096, .buffers_per_worker = 4});
    const std::string line = std::string(99, 'x') + "\n";
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(20);
    Clock::duration slowest{};
    // Fill the pipe (64 KiB) and the queue (16 KiB), then keep going: 100'000 more appends.
    uint64_t after_first_drop = 0;
    while (after_first_drop < 100'000 && Clock::now() < deadline) {
      const Clock::time_point start = Clock::now();
      writer.queue(0).append(line);
      if (appended % 16 == 0) {
        writer.queue(0).flush();
      }
      slowest = std::max(slowest, Clock::now() - start);
      ++appended;
      if (writer.dropped_lines() > 0) {
        ++after_first_drop;
      }
    }
    ASSERT_EQ(after_first_drop, 100'000u) << "the writer never fell behind";
    // 100'000 appends against a blocked writer: all but a pipe's and a queue's worth dropped.
    EXPECT_GE(writer.dropped_lines(), 99'000u);
    // No append waited for the output (a generous bound for a loaded machine; a blocked
    // append would never return at all).
    EXPECT_LT(slowest, std::chrono::milliseconds(100));
    const uint64_t dropped = writer.dropped_lines();
    pipe.start_reading();
    writer.drain();
    EXPECT_EQ(writer.dropped_lines(), dropped);
    text = std::string();
    appended -= dropped;  // what must arrive
  }                       // closes the writer's end: the reader sees EOF
  text = pipe.finish();
  size_t whole = 0;
  for (const std::string& line : split_lines(text)) {
    if (is_drop_notice(line)) {
      continue;
    }
    EXPECT_EQ(line, std::string(99, 'x'));
    ++whole;
  }
  EXPECT_EQ(whole, appended);
}

// The drop notice: once the output recovers, the log itself says how many lines were lost.
TEST_F(LogWriterTest, AnnouncesDroppedLinesInTheLog) {
  StalledPipe pipe(path("pipe"));
  {
    LogWriter writer(1, path("pipe"), {.buffer_bytes = 4096, .buffers_per_worker = 2});
    attach_log_writer(&writer);
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(20);
    while (writer.queue(0).dropped_lines() < 10 && Clock::now() < deadline) {
      writer.queue(0).append(std::string(999, 'y') + "\n");
      writer.queue(0).flush();
    }
    ASSERT_GE(writer.queue(0).dropped_lines(), 10u);
    pipe.start_reading();
    writer.drain();              // the pass that sees the drops queues the notice…
    attach_log_writer(nullptr);  // …and this drain writes it
  }
  bool announced = false;
  for (const std::string& line : split_lines(pipe.finish())) {
    announced = announced || is_drop_notice(line);
  }
  EXPECT_TRUE(announced);
}

// To a pipe, a buffer goes out in pieces of at most PIPE_BUF bytes that end at a line end, so
// another process's (or the direct event path's) lines never land inside one of ours.
TEST_F(LogWriterTest, LinesToAPipeStayWholeBesideAnotherWriter) {
  StalledPipe pipe(path("pipe"));
  constexpr int kLines = 20'000;
  {
    LogWriter writer(1, path("pipe"), {.buffer_bytes = 64 * 1024, .buffers_per_worker = 64});
    pipe.start_reading();  // after a writer opened it: a FIFO without one reads as EOF
    const int other = open(path("pipe").c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(other, 0);
    std::thread direct([other] {
      const std::string line = std::string(199, 'd') + "\n";
      for (int i = 0; i < kLines; ++i) {
        ASSERT_EQ(write(other, line.data(), line.size()), static_cast<ssize_t>(line.size()));
      }
    });
    const std::string line = std::string(149, 'w') + "\n";
    for (int i = 0; i < kLines; ++i) {
      while (!writer.queue(0).append(line)) {
        std::this_thread::yield();  // this test wants every line; the queue frees up
      }
    }
    writer.queue(0).flush();
    direct.join();
    close(other);
  }
  int ours = 0;
  int theirs = 0;
  for (const std::string& line : split_lines(pipe.finish())) {
    if (line == std::string(149, 'w')) {
      ++ours;
    } else if (line == std::string(199, 'd')) {
      ++theirs;
    } else if (!is_drop_notice(line)) {
      ADD_FAILURE() << "a broken line: " << line.substr(0, 80);
    }
  }
  EXPECT_EQ(ours, kLines);
  EXPECT_EQ(theirs, kLines);
}

TEST_F(LogWriterTest, EventLinesFromManyThreadsAllArriveWhole) {
  constexpr int kThreads = 4;
  constexpr int kEach = 200;
  LogWriter writer(1, path("out.log"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < kEach; ++i) {
        writer.write_event("event " + std::to_string(t) + " " + std::to_string(i) + "\n");
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  writer.drain();
  const std::vector<std::string> lines = split_lines(read_all(path("out.log")));
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kEach));
  // Each thread's events stay in its order.
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines) {
    int thread = -1;
    int number = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "event %d %d", &thread, &number), 2) << line;
    EXPECT_EQ(number, next[thread]++);
  }
  EXPECT_EQ(writer.dropped_lines(), 0u);
}

TEST_F(LogWriterTest, AFullEventQueueDropsAndCounts) {
  StalledPipe pipe(path("pipe"));
  const std::string event = std::string(99, 'e') + "\n";
  uint64_t dropped_events = 0;
  {
    LogWriter writer(1, path("pipe"), {.event_queue_bytes = 1024});
    // Stall the writer: the pipe has less room than a piece (≤ PIPE_BUF) and the worker's
    // queue is still full after that, so the writer holds buffers it cannot write at once.
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(20);
    bool stalled = false;
    while (!stalled && Clock::now() < deadline) {
      const bool pipe_full = pipe.buffered() + PIPE_BUF > pipe.capacity();
      const uint64_t dropped = writer.queue(0).dropped_lines();
      writer.queue(0).append(std::string(999, 'z') + "\n");
      writer.queue(0).flush();
      stalled = pipe_full && writer.queue(0).dropped_lines() > dropped;
    }
    ASSERT_TRUE(stalled);
    const uint64_t before = writer.dropped_lines();
    for (int i = 0; i < 100; ++i) {
      writer.write_event(event);  // 10 fit in 1024 bytes; the pipe takes fewer than 4 KiB more
    }
    dropped_events = writer.dropped_lines() - before;
    EXPECT_GE(dropped_events, 50u);
    pipe.start_reading();
  }
  // Every event is either in the output or counted.
  size_t arrived = 0;
  for (const std::string& line : split_lines(pipe.finish())) {
    arrived += line + "\n" == event ? 1 : 0;
  }
  EXPECT_EQ(arrived + dropped_events, 100u);
}

// Several workers and event threads at once, for ThreadSanitizer: each worker's lines arrive in
// its order, none twice, and written + dropped = appended, per worker.
TEST_F(LogWriterTest, ConcurrentWorkersKeepOrderAndCountEveryLine) {
  constexpr uint32_t kWorkers = 4;
  constexpr int kLines = 20'000;
  std::vector<uint64_t> dropped(kWorkers);
  {
    LogWriter writer(kWorkers, path("out.log"), {.buffer_bytes = 2048, .buffers_per_worker = 3});
    std::vector<std::thread> workers;
    for (uint32_t w = 0; w < kWorkers; ++w) {
      workers.emplace_back([&writer, w] {
        WorkerLogQueue& queue = writer.queue(w);
        char line[64];
        for (int i = 0; i < kLines; ++i) {
          const int length = std::snprintf(line, sizeof(line), "w%u %d\n", w, i);
          queue.append({line, static_cast<size_t>(length)});
          if (i % 37 == 0) {
            queue.flush();
          }
        }
        queue.flush();
      });
    }
    std::thread events([&writer] {
      for (int i = 0; i < 500; ++i) {
        writer.write_event("event " + std::to_string(i) + "\n");
      }
    });
    for (std::thread& worker : workers) {
      worker.join();
    }
    events.join();
    writer.drain();
    for (uint32_t w = 0; w < kWorkers; ++w) {
      dropped[w] = writer.queue(w).dropped_lines();
    }
  }
  std::vector<int> last(kWorkers, -1);
  std::vector<uint64_t> written(kWorkers, 0);
  for (const std::string& line : split_lines(read_all(path("out.log")))) {
    unsigned worker = 0;
    int number = 0;
    if (std::sscanf(line.c_str(), "w%u %d", &worker, &number) != 2) {
      EXPECT_TRUE(line.starts_with("event ") || is_drop_notice(line)) << line;
      continue;
    }
    ASSERT_LT(worker, kWorkers);
    EXPECT_GT(number, last[worker]) << line;
    last[worker] = number;
    ++written[worker];
  }
  for (uint32_t w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(written[w] + dropped[w], static_cast<uint64_t>(kLines)) << "worker " << w;
  }
}

TEST_F(LogWriterTest, EventsGoThroughTheAttachedWriterAndFollowTheOutput) {
  config::LoggingConfig logging;
  logging.output = path("events.log");
  configure_log(logging);
  {
    LogWriter writer(1, logging.output);
    attach_log_writer(&writer);
    log_event(config::LogLevel::info, "through the writer", {{"key", "value"}});
    logging.output = path("events2.log");
    configure_log(logging);  // reopens the attached writer's output too
    log_event(config::LogLevel::warn, "after reopen");
    attach_log_writer(nullptr);  // waits until both are written
    log_event(config::LogLevel::info, "direct");
  }
  const std::vector<std::string> first = split_lines(read_all(path("events.log")));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].starts_with("{\"ts\":\"")) << first[0];
  EXPECT_TRUE(
      first[0].ends_with("\"level\":\"info\",\"msg\":\"through the writer\",\"key\":\"value\"}"))
      << first[0];
  const std::vector<std::string> second = split_lines(read_all(path("events2.log")));
  ASSERT_EQ(second.size(), 2u);
  EXPECT_NE(second[0].find("\"msg\":\"after reopen\""), std::string::npos);
  EXPECT_NE(second[1].find("\"msg\":\"direct\""), std::string::npos);
  configure_log(config::LoggingConfig{.output = "stderr"});
}

TEST_F(LogWriterTest, EventTextFormatIsEscapedToo) {
  char line[kMaxEventLine];
  const size_t length = format_event(line, config::LogFormat::text, config::LogLevel::warn,
                                     "two\nlines", {{"server", "a b\"c"}});
  const std::string text(line, length);
  EXPECT_TRUE(text.ends_with(" warn two\\u000alines server=a b\\\"c\n")) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

TEST_F(LogWriterTest, ALongEventIsCutButStaysOneClosedLine) {
  char line[kMaxEventLine];
  const std::string huge(5000, 'v');
  const size_t length =
      format_event(line, config::LogFormat::json, config::LogLevel::info, "m", {{"k", huge}});
  EXPECT_EQ(length, kMaxEventLine);
  EXPECT_EQ(std::string_view(line + length - 2, 2), "}\n");
}

}  // namespace
}  // namespace ballast::observe
