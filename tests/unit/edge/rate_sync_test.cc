#include "edge/rate_sync.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/hash.h"

// Two RateSyncs, as two ballast instances, each with its own table, against a real
// redis-server this test starts on a free loopback port (and kills, stops and restarts). Every
// wait is a poll with a deadline. Without redis-server the tests fail: they are not skipped.

extern char** environ;

namespace ballast::edge {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr uint64_t kSecond = 1'000'000'000;
// A day: the window (wall clock / period) does not change during a test, but at midnight UTC.
constexpr uint64_t kDayNs = 86'400 * kSecond;

uint64_t key(uint64_t n) {
  return core::hash64(std::string_view(reinterpret_cast<const char*>(&n), sizeof(n)));
}

template <typename Condition>
bool eventually(Condition condition, milliseconds limit = milliseconds(5'000)) {
  const steady_clock::time_point deadline = steady_clock::now() + limit;
  while (steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return condition();
}

std::string find_redis_server() {
  const char* path = std::getenv("PATH");
  std::string dirs = std::string(path != nullptr ? path : "") + ":/usr/bin:/usr/sbin";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', begin), dirs.size());
    const std::string candidate = dirs.substr(begin, end - begin) + "/redis-server";
    if (end > begin && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  return "";
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

bool accepts(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in address = loopback(port);
  const bool connected =
      connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

// Sends one command in RESP to the server and reads its answer's first bytes.
std::string command(uint16_t port, std::initializer_list<std::string_view> args) {
  std::string request = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string_view arg : args) {
    request += "$" + std::to_string(arg.size()) + "\r\n" + std::string(arg) + "\r\n";
  }
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in address = loopback(port);
  char answer[64] = {};
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0 &&
      send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
    [[maybe_unused]] const ssize_t n = recv(fd, answer, sizeof(answer) - 1, 0);
  }
  close(fd);
  return answer;
}

// A redis-server child process on one port, for the test's length.
class RedisServer {
 public:
  RedisServer() : port_(free_port()) {}
  ~RedisServer() { stop(); }

  // Starts it (again, on the same port) and waits until it accepts connections.
  bool start() {
    const std::string binary = find_redis_server();
    if (binary.empty()) {
      ADD_FAILURE() << "redis-server not found (PATH, /usr/bin, /usr/sbin): apt install "
                       "redis-server";
      return false;
    }
    const std::string port = std::to_string(port_);
    const char* argv[] = {binary.c_str(), "--port",     port.c_str(), "--bind",
                          "127.0.0.1",    "--save",     "",           "--appendonly",
                          "no",           "--loglevel", "warning",    nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    const int status = posix_spawn(&pid_, binary.c_str(), &actions, nullptr,
                                   const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (status != 0) {
      ADD_FAILURE() << "cannot start " << binary << ": " << strerror(status);
      pid_ = -1;
      return false;
    }
    return eventually([&] { return accepts(port_); });
  }

  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void pause() { kill(pid_, SIGSTOP); }
  void resume() { kill(pid_, SIGCONT); }
  uint16_t port() const { return port_; }

 private:
  const uint16_t port_;
  pid_t pid_ = -1;
};

config::RedisConfig store_at(uint16_t port) {
  config::RedisConfig redis;
  redis.enabled = true;
  redis.host = "127.0.0.1";
  redis.port = port;
  redis.sync_interval_ms = 20;
  redis.timeout_ms = 300;
  redis.key_prefix = "test:rl:";
  return redis;
}

// 10 a day, all 10 at once: a key's whole burst.
std::vector<GlobalLimit> ten_a_day() {
  return {{"listener/route", make_rate_limit(10, kDayNs, 10), kDayNs}};
}

class RateSyncTest : public testing::Test {
 protected:
  RateTable table_a_{65'536, core::monotonic_now_ns()};
  RateTable table_b_{65'536, core::monotonic_now_ns()};
  const RateLimit limit_ = ten_a_day()[0].limit;
  RedisServer redis_;
  RateSync a_{store_at(redis_.port()), table_a_, ten_a_day()};
  RateSync b_{store_at(redis_.port()), table_b_, ten_a_day()};

  RateVerdict check(RateTable& table, uint64_t key_hash) {
    return table.check(key_hash, limit_, core::monotonic_now_ns());
  }
};

TEST_F(RateSyncTest, CountsOfOneInstanceAreChargedIntoAnother) {
  ASSERT_TRUE(redis_.start());
  a_.start();
  b_.start();
  ASSERT_TRUE(eventually([&] { return a_.store_up() && b_.store_up(); }));

  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(check(table_a_, key(1)).allowed);  // A's whole burst
  }
  a_.submit({{key(1), 0, 10}});
  ASSERT_TRUE(eventually([&] { return a_.exchanges_ok() >= 1; }));
  // B has not seen the key yet; its next exchange brings A's count back.
  b_.submit({{key(1), 0, 0}});
  ASSERT_TRUE(eventually([&] { return b_.exchanges_ok() >= 1; }));
  EXPECT_FALSE(check(table_b_, key(1)).allowed);
  EXPECT_TRUE(check(table_b_, key(2)).allowed);

  // Five more on A: B is charged those five, not the ten again.
  a_.submit({{key(1), 0, 5}});
  ASSERT_TRUE(eventually([&] { return a_.exchanges_ok() >= 2; }));
  b_.submit({{key(1), 0, 0}});
  ASSERT_TRUE(eventually([&] { return b_.exchanges_ok() >= 2; }));
  const RateVerdict refused = check(table_b_, key(1));
  EXPECT_FALSE(refused.allowed);
  const uint64_t interval = kDayNs / 10;
  // 15 intervals charged, 9 of them the tolerance: 6 to wait.
  EXPECT_NEAR(static_cast<double>(refused.retry_after_ns), static_cast<double>(6 * interval),
              static_cast<double>(kSecond));
  EXPECT_EQ(a_.exchanges_failed() + b_.exchanges_failed(), 0u);
  EXPECT_EQ(a_.keys_sent(), 2u);
}

TEST_F(RateSyncTest, AnInstanceIsNotChargedForItsOwnCounts) {
  ASSERT_TRUE(redis_.start());
  a_.start();
  ASSERT_TRUE(eventually([&] { return a_.store_up(); }));
  a_.submit({{key(3), 0, 4}});
  ASSERT_TRUE(eventually([&] { return a_.exchanges_ok() >= 1; }));
  a_.submit({{key(3), 0, 4}});
  ASSERT_TRUE(eventually([&] { return a_.exchanges_ok() >= 2; }));
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(check(table_a_, key(3)).allowed) << i;
  }
  EXPECT_FALSE(check(table_a_, key(3)).allowed);
}

TEST_F(RateSyncTest, ALargeExchangeIsReadWhole) {
  ASSERT_TRUE(redis_.start());
  a_.start();
  b_.start();
  ASSERT_TRUE(eventually([&] { return a_.store_up() && b_.store_up(); }));
  // 4,000 keys: about 36 KB of replies, more than hiredis reads in one call.
  constexpr uint64_t kKeys = 4'000;
  std::vector<RateCount> used, seen;
  for (uint64_t k = 0; k < kKeys; ++k) {
    used.push_back({key(k), 0, 10});
    seen.push_back({key(k), 0, 0});
  }
  a_.submit(std::move(used));
  ASSERT_TRUE(eventually([&] { return a_.exchanges_ok() >= 1; }));
  EXPECT_EQ(a_.keys_sent(), kKeys);
  b_.submit(std::move(seen));
  ASSERT_TRUE(eventually([&] { return b_.exchanges_ok() >= 1; }));
  uint64_t refused = 0;
  for (uint64_t k = 0; k < kKeys; ++k) {
    refused += check(table_b_, key(k)).allowed ? 0 : 1;
  }
  EXPECT_EQ(refused, kKeys);
}

TEST_F(RateSyncTest, AnErrorReplyFailsTheExchangeButTheStoreStaysUp) {
  ASSERT_TRUE(redis_.start());
  // The Redis key key(7) counts in today, holding a string: INCRBY answers an error.
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  const uint64_t window = (static_cast<uint64_t>(wall.tv_sec) * kSecond + wall.tv_nsec) / kDayNs;
  char redis_key[96];
  snprintf(redis_key, sizeof(redis_key), "test:rl:listener/route:%016" PRIx64 ":%" PRIu64, key(7),
           window);
  ASSERT_EQ(command(redis_.port(), {"SET", redis_key, "not a number"}), "+OK\r\n");
  a_.start();
  ASSERT_TRUE(eventually([&] { return a_.store_up(); }));

  a_.submit({{key(7), 0, 1}});
  ASSERT_TRUE(eventually([&] { return a_.exchanges_failed() >= 1; }));
  EXPECT_TRUE(a_.store_up());
  a_.submit({{key(8), 0, 1}});
  EXPECT_TRUE(eventually([&] { return a_.exchanges_ok() >= 1; }));
  EXPECT_EQ(a_.exchanges_failed(), 1u);
}

TEST_F(RateSyncTest, AStoreThatGoesAwayLeavesTheLimitsLocalUntilItIsBack) {
  ASSERT_TRUE(redis_.start());
  a_.start();
  ASSERT_TRUE(eventually([&] { return a_.store_up(); }));

  redis_.stop();
  ASSERT_TRUE(eventually([&] { return !a_.store_up(); }));
  a_.submit({{key(4), 0, 1}});
  EXPECT_EQ(a_.batches_dropped(), 1u);
  EXPECT_TRUE(check(table_a_, key(4)).allowed);  // the local limit goes on

  ASSERT_TRUE(redis_.start());  // the same port: the link's retry finds it
  ASSERT_TRUE(eventually([&] { return a_.store_up(); }, milliseconds(10'000)));
  const uint64_t ok = a_.exchanges_ok();
  a_.submit({{key(4), 0, 1}});
  EXPECT_TRUE(eventually([&] { return a_.exchanges_ok() > ok; }));
}

TEST_F(RateSyncTest, AStoreThatStopsAnsweringFailsTheExchangeAndIsDown) {
  ASSERT_TRUE(redis_.start());
  a_.start();
  ASSERT_TRUE(eventually([&] { return a_.store_up(); }));

  redis_.pause();  // SIGSTOP: the connection stays open, nothing answers
  a_.submit({{key(5), 0, 1}});
  ASSERT_TRUE(eventually([&] { return a_.exchanges_failed() >= 1; }));
  EXPECT_TRUE(eventually([&] { return !a_.store_up(); }));
  a_.submit({{key(5), 0, 1}});
  EXPECT_GE(a_.batches_dropped(), 1u);

  redis_.resume();
  ASSERT_TRUE(eventually([&] { return a_.store_up(); }, milliseconds(10'000)));
  const uint64_t ok = a_.exchanges_ok();
  a_.submit({{key(5), 0, 1}});
  EXPECT_TRUE(eventually([&] { return a_.exchanges_ok() > ok; }));
}

TEST_F(RateSyncTest, StopIsPromptWhileTheStoreHangs) {
  ASSERT_TRUE(redis_.start());
  redis_.pause();  // the kernel still accepts the connection; the PING gets no answer
  a_.start();
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(a_.store_up());
  const steady_clock::time_point begin = steady_clock::now();
  a_.stop();
  EXPECT_LT(steady_clock::now() - begin, milliseconds(500));
  a_.submit({{key(6), 0, 1}});  // after stop: dropped, never queued
  EXPECT_EQ(a_.batches_dropped(), 1u);
}

}  // namespace
}  // namespace ballast::edge
