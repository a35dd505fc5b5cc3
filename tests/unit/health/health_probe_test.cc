#include "health/health_probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"

// Real sockets on 127.0.0.1 and a real EventLoop run on the test thread. Every run is bounded by
// a deadline timer that stops the loop, and every blocking step of a backend thread by a poll()
// timeout, so a broken probe fails a test rather than hanging it.

namespace ballast::health {
namespace {

constexpr int kBackendWaitMs = 5000;
constexpr uint64_t kRunDeadlineMs = 5000;

bool wait_readable(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return poll(&entry, 1, kBackendWaitMs) == 1;
}

uint16_t port_of(int fd) {
  sockaddr_in bound{};
  socklen_t length = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  return ntohs(bound.sin_port);
}

// A listener on 127.0.0.1 that nobody accepts from: the kernel still completes handshakes into
// its backlog, so a connect succeeds and a request is taken, but no answer ever comes.
struct SilentListener {
  core::FileDescriptor fd = core::listen_on(core::resolve("127.0.0.1", 0), false);
  core::SocketAddress address() const { return core::resolve("127.0.0.1", port_of(fd.get())); }
};

// An address where nothing listens: a port bound, then released.
core::SocketAddress closed_port() {
  const SilentListener listener;
  return listener.address();
}

size_t open_descriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

// One connection served by a thread: reads the request head, writes `chunks` (pausing briefly
// between them, so that a split response arrives in parts), then closes — or, with hold_open,
// first waits for the probe to close its end.
class Backend {
 public:
  explicit Backend(std::vector<std::string> chunks, bool hold_open = false,
                   std::function<void()> on_request = {})
      : chunks_(std::move(chunks)), hold_open_(hold_open), on_request_(std::move(on_request)) {
    thread_ = std::thread([this] { serve(); });
  }
  ~Backend() { join(); }

  core::SocketAddress address() const { return listener_.address(); }
  uint16_t port() const { return port_of(listener_.fd.get()); }

  // After join(): what the backend received, and whether it saw the probe close its end.
  void join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  const std::string& request() const { return request_; }
  bool saw_close() const { return saw_close_; }

 private:
  void serve() {
    if (!wait_readable(listener_.fd.get())) {
      return;
    }
    core::SocketAddress peer;
    const core::FileDescriptor connection = core::accept_from(listener_.fd.get(), peer);
    if (!connection.valid()) {
      return;
    }
    char bytes[4096];
    while (request_.find("\r\n\r\n") == std::string::npos) {
      if (!wait_readable(connection.get())) {
        return;
      }
      const ssize_t received = recv(connection.get(), bytes, sizeof(bytes), 0);
      if (received <= 0) {
        return;
      }
      request_.append(bytes, static_cast<size_t>(received));
    }
    if (on_request_) {
      on_request_();
    }
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (i > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      // One send per chunk: the response is small, and a probe that already closed makes it
      // fail, which is fine.
      send(connection.get(), chunks_[i].data(), chunks_[i].size(), MSG_NOSIGNAL);
    }
    while (hold_open_ && wait_readable(connection.get())) {
      const ssize_t received = recv(connection.get(), bytes, sizeof(bytes), 0);
      if (received <= 0) {
        saw_close_ = received == 0;
        break;
      }
    }
  }

  SilentListener listener_;
  std::vector<std::string> chunks_;
  bool hold_open_;
  std::function<void()> on_request_;  // on the backend thread, once the request is read
  std::string request_;
  bool saw_close_ = false;
  std::thread thread_;
};

struct Result {
  bool passed = false;
  std::string detail;
  uint64_t at_ns = 0;  // the loop's clock when reported
};

class Recorder final : public HealthProbe::Handler {
 public:
  explicit Recorder(core::EventLoop& loop) : loop_(loop) {}

  void on_probe_done(bool passed, std::string_view detail) noexcept override {
    results.push_back({passed, std::string(detail), loop_.now_ns()});
    if (then) {
      std::exchange(then, nullptr)();
    } else {
      loop_.stop();
    }
  }

  std::vector<Result> results;
  std::function<void()> then;  // runs (once) instead of stopping the loop

 private:
  core::EventLoop& loop_;
};

// Stops the loop when a run takes too long.
class Deadline final : public core::Timer::Handler {
 public:
  Deadline(core::EventLoop& loop, uint64_t ms) : loop_(loop) {
    timer_.arm(loop.timers(), loop.now_ns() + ms * core::kNsPerMs);
  }
  void on_timer(core::Timer& /*timer*/) noexcept override {
    expired = true;
    loop_.stop();
  }
  bool expired = false;

 private:
  core::EventLoop& loop_;
  core::Timer timer_{*this};
};

config::HealthCheckConfig http_check(uint16_t status_min = 200, uint16_t status_max = 399,
                                     uint64_t timeout_ms = 5000) {
  config::HealthCheckConfig check;
  check.enabled = true;
  check.type = config::HealthCheckType::http;
  check.path = "/health";
  check.expected_status_min = status_min;
  check.expected_status_max = status_max;
  check.timeout_ms = timeout_ms;
  return check;
}

config::HealthCheckConfig tcp_check() {
  config::HealthCheckConfig check = http_check();
  check.type = config::HealthCheckType::tcp;
  return check;
}

class HealthProbeTest : public ::testing::Test {
 protected:
  // Runs the loop until the handler stops it (or the deadline does, which fails the test).
  void run() {
    Deadline deadline(loop_, kRunDeadlineMs);
    loop_.run();
    EXPECT_FALSE(deadline.expired) << "the check did not end within " << kRunDeadlineMs << " ms";
  }

  // One http check of a backend answering `response` (in the given parts).
  Result check_http(std::vector<std::string> response, const config::HealthCheckConfig& check) {
    Backend backend(std::move(response));
    probe_.start(backend.address(), check, "example.test");
    run();
    EXPECT_EQ(recorder_.results.size(), 1u);
    EXPECT_FALSE(probe_.running());
    return recorder_.results.empty() ? Result{} : recorder_.results.back();
  }

  core::EventLoop loop_;
  Recorder recorder_{loop_};
  HealthProbe probe_{loop_, recorder_};
};

TEST_F(HealthProbeTest, PassesOn200AndSendsTheRequest) {
  Backend backend({"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"});
  probe_.start(backend.address(), http_check(), "example.test");
  EXPECT_TRUE(probe_.running());
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_TRUE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail, "status 200");
  backend.join();
  EXPECT_EQ(backend.request(),
            "GET /health HTTP/1.1\r\nHost: example.test\r\nUser-Agent: ballast-health-check\r\n"
            "Connection: close\r\n\r\n");
}

TEST_F(HealthProbeTest, HostDefaultsToTheServerAddress) {
  Backend backend({"HTTP/1.1 204 No Content\r\n\r\n"});
  probe_.start(backend.address(), http_check(), "");
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_TRUE(recorder_.results[0].passed);
  backend.join();
  EXPECT_NE(
      backend.request().find("\r\nHost: 127.0.0.1:" + std::to_string(backend.port()) + "\r\n"),
      std::string::npos)
      << backend.request();
}

TEST_F(HealthProbeTest, FailsOn503WithTheStatusInTheDetail) {
  const Result result =
      check_http({"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"}, http_check());
  EXPECT_FALSE(result.passed);
  EXPECT_EQ(result.detail, "status 503");
}

TEST_F(HealthProbeTest, ExpectedRangeIsHonoured) {
  const Result redirect = check_http({"HTTP/1.1 302 Found\r\nLocation: /\r\n\r\n"}, http_check());
  EXPECT_TRUE(redirect.passed);
  EXPECT_EQ(redirect.detail, "status 302");
  recorder_.results.clear();

  const Result missing = check_http({"HTTP/1.1 404 Not Found\r\n\r\n"}, http_check());
  EXPECT_FALSE(missing.passed);
  EXPECT_EQ(missing.detail, "status 404");
  recorder_.results.clear();

  // A single expected code: 200 is outside 204-204.
  const Result ok = check_http({"HTTP/1.1 200 OK\r\n\r\n"}, http_check(204, 204));
  EXPECT_FALSE(ok.passed);
  EXPECT_EQ(ok.detail, "status 200");
}

TEST_F(HealthProbeTest, ConnectRefusedOnAClosedPort) {
  probe_.start(closed_port(), http_check(), "example.test");
  EXPECT_TRUE(recorder_.results.empty()) << "reported from within start()";
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_FALSE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail,
            std::string("connect failed: ") + std::strerror(ECONNREFUSED));
}

TEST_F(HealthProbeTest, TimesOutWhenTheServerNeverAnswers) {
  const SilentListener silent;
  const uint64_t started_ns = loop_.now_ns();  // the clock the timeout is measured on
  probe_.start(silent.address(), http_check(200, 399, 50), "example.test");
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_FALSE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail, "timed out");
  const uint64_t elapsed_ns = recorder_.results[0].at_ns - started_ns;
  EXPECT_GE(elapsed_ns, 50 * core::kNsPerMs);
  EXPECT_LT(elapsed_ns, 2000 * core::kNsPerMs);
}

TEST_F(HealthProbeTest, MalformedResponseFailsWithTheParsersReason) {
  const Result result = check_http({"HTTP/1.1 2x0 OK\r\n\r\n"}, http_check());
  EXPECT_FALSE(result.passed);
  EXPECT_EQ(result.detail, "bad response: invalid status code");
}

TEST_F(HealthProbeTest, HeadLargerThanTheBufferFails) {
  const std::string big =
      "HTTP/1.1 200 OK\r\nX-Padding: " + std::string(HealthProbe::kHeadBytes, 'a') + "\r\n\r\n";
  const Result result = check_http({big}, http_check());
  EXPECT_FALSE(result.passed);
  EXPECT_EQ(result.detail, "bad response: response head too large");
}

TEST_F(HealthProbeTest, ResponseSplitAcrossSeveralWrites) {
  const Result result = check_http(
      {"HTT", "P/1.1 20", "0 OK\r\nConte", "nt-Length: 5\r", "\n\r", "\nhello"}, http_check());
  EXPECT_TRUE(result.passed);
  EXPECT_EQ(result.detail, "status 200");
}

TEST_F(HealthProbeTest, InterimHeadIsSkippedAndTheFinalOneJudged) {
  const Result result =
      check_http({"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 503 Service Unavailable\r\n\r\n"},
                 http_check(100, 399));
  EXPECT_FALSE(result.passed);
  EXPECT_EQ(result.detail, "status 503");
}

TEST_F(HealthProbeTest, ConnectionClosedBeforeResponse) {
  const Result result = check_http({}, http_check());
  EXPECT_FALSE(result.passed);
  EXPECT_EQ(result.detail, "connection closed before response");
}

TEST_F(HealthProbeTest, ConnectionClosedMidHead) {
  const Result result = check_http({"HTTP/1.1 200 OK\r\nContent-"}, http_check());
  EXPECT_FALSE(result.passed);
  EXPECT_EQ(result.detail, "bad response: truncated response head");
}

TEST_F(HealthProbeTest, TcpPassesOnceConnected) {
  const SilentListener listener;
  probe_.start(listener.address(), tcp_check(), "");
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_TRUE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail, "connected");
}

TEST_F(HealthProbeTest, TcpFailsWhenRefused) {
  probe_.start(closed_port(), tcp_check(), "");
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_FALSE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail,
            std::string("connect failed: ") + std::strerror(ECONNREFUSED));
}

// A listener whose accept queue is full drops SYNs, so a connect to it stays in progress (the
// retry comes after a second). An event then, as one left in an epoll batch by the socket of a
// replaced check would be, must not be taken for a completed connect.
TEST_F(HealthProbeTest, StaleEventWhileConnectingIsIgnored) {
  core::FileDescriptor listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
  ASSERT_EQ(listen(listener.get(), 0), 0);
  const core::SocketAddress address = core::resolve("127.0.0.1", port_of(listener.get()));
  std::vector<core::FileDescriptor> fillers;
  for (int i = 0; i < 2; ++i) {
    fillers.push_back(core::connect_to(address));
  }
  probe_.start(
      address,
      [] {
        config::HealthCheckConfig check = tcp_check();
        check.timeout_ms = 50;
        return check;
      }(),
      "");
  probe_.on_io(EPOLLOUT);
  EXPECT_TRUE(recorder_.results.empty()) << recorder_.results[0].detail;
  EXPECT_TRUE(probe_.running());
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_FALSE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail, "timed out");
}

TEST_F(HealthProbeTest, CancelMidCheckGivesNoCallbackAndClosesTheSocket) {
  bool running_after_cancel = true;
  // The request has arrived, so the probe is waiting for the response.
  Backend backend({}, /*hold_open=*/true, [&] {
    loop_.post([&] {
      probe_.cancel();
      running_after_cancel = probe_.running();
      loop_.stop();
    });
  });
  const size_t descriptors_before = open_descriptors();
  probe_.start(backend.address(), http_check(), "example.test");
  run();
  EXPECT_FALSE(running_after_cancel);
  EXPECT_TRUE(recorder_.results.empty());
  EXPECT_EQ(loop_.timers().armed_count(), 0u) << "the timeout timer outlived cancel()";
  backend.join();
  EXPECT_TRUE(backend.saw_close()) << "the backend did not see the probe's socket close";
  EXPECT_EQ(open_descriptors(), descriptors_before);
}

TEST_F(HealthProbeTest, CancelBeforeAnEarlyFailureIsReportedGivesNoCallback) {
  probe_.start(core::SocketAddress{}, http_check(), "example.test");  // no family: socket() fails
  EXPECT_TRUE(probe_.running());
  probe_.cancel();
  EXPECT_FALSE(probe_.running());
  EXPECT_EQ(loop_.timers().armed_count(), 0u);
  EXPECT_TRUE(recorder_.results.empty());
}

TEST_F(HealthProbeTest, EarlyFailureIsReportedFromTheLoopNotFromStart) {
  probe_.start(core::SocketAddress{}, http_check(), "example.test");
  EXPECT_TRUE(recorder_.results.empty());
  EXPECT_TRUE(probe_.running());
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_FALSE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail.rfind("connect failed: ", 0), 0u)
      << recorder_.results[0].detail;
}

TEST_F(HealthProbeTest, RequestTooLongForTheBufferFails) {
  const Backend backend({"HTTP/1.1 200 OK\r\n\r\n"});
  config::HealthCheckConfig check = http_check();
  check.path = "/" + std::string(HealthProbe::kRequestBytes, 'p');
  probe_.start(backend.address(), check, "example.test");
  EXPECT_TRUE(recorder_.results.empty());
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_FALSE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail,
            "bad request: path and Host do not fit the request buffer");
  // The backend's accept times out after kBackendWaitMs unless someone connects; nobody should.
  probe_.start(backend.address(), http_check(), "example.test");
  run();
  ASSERT_EQ(recorder_.results.size(), 2u);
  EXPECT_TRUE(recorder_.results[1].passed);
}

TEST_F(HealthProbeTest, ReusableForChecksInARowStartedFromTheCallback) {
  Backend first({"HTTP/1.1 200 OK\r\n\r\n"});
  Backend second({"HTTP/1.1 503 Service Unavailable\r\n\r\n"});
  recorder_.then = [&] { probe_.start(second.address(), http_check(), "example.test"); };
  probe_.start(first.address(), http_check(), "example.test");
  run();
  ASSERT_EQ(recorder_.results.size(), 2u);
  EXPECT_TRUE(recorder_.results[0].passed);
  EXPECT_EQ(recorder_.results[0].detail, "status 200");
  EXPECT_FALSE(recorder_.results[1].passed);
  EXPECT_EQ(recorder_.results[1].detail, "status 503");

  // And a third, of another type, after the loop stopped.
  const SilentListener listener;
  probe_.start(listener.address(), tcp_check(), "");
  run();
  ASSERT_EQ(recorder_.results.size(), 3u);
  EXPECT_TRUE(recorder_.results[2].passed);
}

TEST_F(HealthProbeTest, StartWhileRunningReplacesTheCheckWithoutACallback) {
  const SilentListener silent;
  Backend backend({"HTTP/1.1 200 OK\r\n\r\n"});
  probe_.start(silent.address(), http_check(), "example.test");
  probe_.start(backend.address(), http_check(), "example.test");
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_TRUE(recorder_.results[0].passed);
}

TEST_F(HealthProbeTest, MayBeDestroyedInItsOwnCallback) {
  Backend backend({"HTTP/1.1 200 OK\r\n\r\n"});
  auto probe = std::make_unique<HealthProbe>(loop_, recorder_);
  recorder_.then = [&] {
    probe.reset();
    loop_.stop();
  };
  probe->start(backend.address(), http_check(), "example.test");
  run();
  ASSERT_EQ(recorder_.results.size(), 1u);
  EXPECT_TRUE(recorder_.results[0].passed);
  EXPECT_EQ(probe, nullptr);
}

TEST_F(HealthProbeTest, DestroyedMidCheckClosesEverything) {
  const SilentListener silent;
  const size_t descriptors_before = open_descriptors();
  {
    HealthProbe probe(loop_, recorder_);
    probe.start(silent.address(), http_check(), "example.test");
    EXPECT_EQ(open_descriptors(), descriptors_before + 1);
  }
  EXPECT_EQ(open_descriptors(), descriptors_before);
  EXPECT_EQ(loop_.timers().armed_count(), 0u);
  EXPECT_TRUE(recorder_.results.empty());
}

}  // namespace
}  // namespace ballast::health
