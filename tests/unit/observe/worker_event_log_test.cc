// Event lines logged on a worker thread go through that worker's own WorkerLogQueue, never the
// writer's shared (mutex-guarded) event queue, unless no buffer of the worker's ring can take
// them; lines from other threads keep the shared queue.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "observe/log.h"
#include "observe/log_writer.h"

namespace ballast::observe {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool contains(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

// Attaches a writer for its own lifetime; declared after the writer, so detached (and the
// writer drained) before the writer goes.
class Attached {
 public:
  explicit Attached(LogWriter& writer) { attach_log_writer(&writer); }
  ~Attached() { attach_log_writer(nullptr); }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;
};

// Runs `body` on a thread of its own whose event lines go to `queue`, as a worker's do; joins it.
template <typename Body>
void as_worker(WorkerLogQueue& queue, Body body) {
  std::thread worker([&] {
    route_thread_events(&queue);
    body();
    route_thread_events(nullptr);
  });
  worker.join();
}

class WorkerEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("ballast_worker_event_log_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
    path_ = (directory_ / "out.log").string();
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::filesystem::path directory_;
  std::string path_;
};

TEST_F(WorkerEventLogTest, AWorkersEventWaitsInItsOwnQueueUntilHandedOver) {
  LogWriter writer(1, path_);
  const Attached attached(writer);
  WorkerLogQueue& queue = writer.queue(0);
  as_worker(queue, [&] {
    log_event(config::LogLevel::warn, "from the worker", {{"server", "10.0.0.1:80"}});
    EXPECT_TRUE(queue.event_waiting());
    writer.drain();  // writes what the shared queue holds: not this line
    EXPECT_FALSE(contains(read_all(path_), "from the worker"));
    queue.flush();  // what the worker's wait hook does before it sleeps
    EXPECT_FALSE(queue.event_waiting());
    writer.drain();
    EXPECT_TRUE(contains(read_all(path_), "\"msg\":\"from the worker\""));
  });

  // A thread that is no worker keeps the shared queue: written without any flush.
  log_event(config::LogLevel::warn, "from the main thread");
  writer.drain();
  EXPECT_TRUE(contains(read_all(path_), "from the main thread"));
  EXPECT_FALSE(queue.event_waiting());
  EXPECT_EQ(writer.dropped_lines(), 0u);
}

TEST_F(WorkerEventLogTest, ALineTheRingCannotTakeGoesByTheSharedQueueAndIsNotLost) {
  LogWriterOptions options;
  options.buffer_bytes = 64;  // smaller than any event line
  options.buffers_per_worker = 1;
  LogWriter writer(1, path_, options);
  const Attached attached(writer);
  as_worker(writer.queue(0), [&] {
    log_event(config::LogLevel::warn, "a line longer than the worker's whole buffer");
    EXPECT_FALSE(writer.queue(0).event_waiting());
    writer.drain();
  });
  EXPECT_TRUE(contains(read_all(path_), "a line longer than the worker's whole buffer"));
  EXPECT_EQ(writer.dropped_lines(), 0u);
}

TEST_F(WorkerEventLogTest, AnEventHandedOverKeepsItsPlaceAmongAccessLines) {
  LogWriter writer(1, path_);
  const Attached attached(writer);
  WorkerLogQueue& queue = writer.queue(0);
  as_worker(queue, [&] {
    ASSERT_TRUE(queue.append("access 1\n"));
    log_event(config::LogLevel::warn, "event 2");
    ASSERT_TRUE(queue.append("access 3\n"));
    queue.flush();
    writer.drain();
  });
  const std::string text = read_all(path_);
  const size_t first = text.find("access 1");
  const size_t second = text.find("event 2");
  const size_t third = text.find("access 3");
  ASSERT_NE(first, std::string::npos) << text;
  ASSERT_NE(second, std::string::npos) << text;
  ASSERT_NE(third, std::string::npos) << text;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
}

}  // namespace
}  // namespace ballast::observe
