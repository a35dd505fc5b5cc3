#include "observe/process_stats.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <latch>
#include <memory>
#include <string>
#include <thread>

namespace ballast::observe {
namespace {

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(ProcessStatsTest, ValuesArePlausible) {
  const ProcessStats stats = read_process_stats();
  EXPECT_GE(stats.cpu_seconds, 0.0);
  EXPECT_GT(stats.resident_memory_bytes, 1u << 20);  // any C++ test binary maps over 1 MiB
  EXPECT_GE(stats.virtual_memory_bytes, stats.resident_memory_bytes);
  EXPECT_GE(stats.open_fds, 1u);
  EXPECT_GE(stats.max_fds, stats.open_fds);
  EXPECT_GE(stats.threads, 1u);
  // This process started in the last day (the tick is 10 ms: allow a little either way).
  EXPECT_LE(stats.start_time_seconds, epoch_seconds() + 1.0);
  EXPECT_GT(stats.start_time_seconds, epoch_seconds() - 86'400.0);
  EXPECT_EQ(read_process_stats().start_time_seconds, stats.start_time_seconds);
}

TEST(ProcessStatsTest, OpeningAFileCountsOneMoreDescriptor) {
  const uint64_t before = read_process_stats().open_fds;
  const int first = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int second = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(first, 0);
  ASSERT_GE(second, 0);
  EXPECT_EQ(read_process_stats().open_fds, before + 2);
  ::close(first);
  EXPECT_EQ(read_process_stats().open_fds, before + 1);
  ::close(second);
  EXPECT_EQ(read_process_stats().open_fds, before);
}

// A first thread runs before the count is taken: a sanitizer's runtime starts a helper thread
// of its own with the process's first pthread_create.
TEST(ProcessStatsTest, AThreadCountsWhileItRuns) {
  std::latch release(1);
  std::thread first([&] { release.wait(); });
  const uint64_t before = read_process_stats().threads;
  std::thread second([&] { release.wait(); });  // the kernel task exists once this returns
  EXPECT_EQ(read_process_stats().threads, before + 1);
  release.count_down();
  first.join();
  second.join();
}

TEST(ProcessStatsTest, BurningCpuAddsCpuSeconds) {
  const double before = read_process_stats().cpu_seconds;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  volatile uint64_t sink = 0;
  double now = before;
  while (now < before + 0.05 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1'000'000; ++i) {
      sink = sink + static_cast<uint64_t>(i);
    }
    now = read_process_stats().cpu_seconds;
  }
  EXPECT_GE(now, before + 0.05);
}

TEST(ProcessStatsTest, TouchingMemoryRaisesResidentMemory) {
  constexpr size_t kBytes = 64u << 20;
  const uint64_t before = read_process_stats().resident_memory_bytes;
  const std::unique_ptr<char[]> block(new char[kBytes]);
  std::memset(block.get(), 1, kBytes);
  const uint64_t after = read_process_stats().resident_memory_bytes;
  EXPECT_GE(after, before + kBytes / 2);
  EXPECT_EQ(block[kBytes - 1], 1);  // keeps the memset
}

// Fields 3.. of a stat line; field n (1-based, as proc(5) numbers them) holds n × 10 but for
// the ones ProcessStats reads.
std::string stat_tail() {
  std::string tail = "S";
  for (int field = 4; field <= 52; ++field) {
    std::string value = std::to_string(field * 10);
    switch (field) {
      case 14:
        value = "250";  // utime
        break;
      case 15:
        value = "50";  // stime
        break;
      case 18:
        value = "-20";  // priority: signed, skipped
        break;
      case 20:
        value = "7";  // num_threads
        break;
      case 22:
        value = "123456";  // starttime
        break;
      case 23:
        value = "987654321";  // vsize
        break;
      case 24:
        value = "1000";  // rss, pages
        break;
      default:
        break;
    }
    tail += " " + value;
  }
  return tail;
}

TEST(ProcessStatsTest, ParsesAStatLineCountingFieldsFromTheLastParenthesis) {
  for (const std::string comm : {"(ballast)", "(a b) (c) d)", "()", "(x y z)"}) {
    const auto fields = parse_proc_stat("4242 " + comm + " " + stat_tail() + "\n");
    ASSERT_TRUE(fields.has_value()) << comm;
    EXPECT_EQ(fields->utime_ticks, 250u) << comm;
    EXPECT_EQ(fields->stime_ticks, 50u) << comm;
    EXPECT_EQ(fields->threads, 7u) << comm;
    EXPECT_EQ(fields->start_ticks, 123456u) << comm;
    EXPECT_EQ(fields->vsize_bytes, 987654321u) << comm;
    EXPECT_EQ(fields->rss_pages, 1000u) << comm;
  }
}

TEST(ProcessStatsTest, AStatLineCutShortIsRejected) {
  const std::string line = "4242 (ballast) " + stat_tail();
  // Cut inside field 24 (rss) and before it: the 22nd space after ')' comes before it.
  size_t at = line.find(')');
  for (int spaces = 0; spaces < 22; ++spaces) {
    at = line.find(' ', at + 1);
  }
  EXPECT_TRUE(parse_proc_stat(line.substr(0, at + 2)).has_value());  // rss "1" of "1000"
  EXPECT_FALSE(parse_proc_stat(line.substr(0, at + 1)).has_value());
  EXPECT_FALSE(parse_proc_stat(line.substr(0, at)).has_value());
  EXPECT_FALSE(parse_proc_stat("4242 ballast S 1 2 3").has_value());  // no ')'
  EXPECT_FALSE(parse_proc_stat("").has_value());
}

}  // namespace
}  // namespace ballast::observe
