// ballast-load: the benchmark harness's HTTP/1.1 load generator (issue 6). Like wrk -t1, with an
// exact request count, full quantiles, a per-second timeline, windows, and an open-loop mode.
//
//   ballast-load --port P [--host 127.0.0.1] [--path /] [--connections 50]
//                (--requests N | --duration SECONDS) [--rate R] [--timeout-ms 5000]
//                [--timeline FILE] [--window NAME:FROM:TO ...]
//
// Closed loop (default): each keep-alive connection sends its next request as soon as the last
// one is answered. Latency runs from the request's write (after the connect, as wrk measures)
// to the end of its response.
// Open loop (--rate R): request i is due at start + i/R; an idle connection takes the next due
// request, and when every connection is busy due requests wait. Latency runs from the DUE time,
// so the wait is counted (coordinated omission corrected, as wrk2). Pacing is exact below
// 10,000 requests/s; above, due requests go out in batches every 100 µs (see dispatch_due). With
// --duration, requests due after the end are not sent, nor those still waiting for a connection.
//
// Every request ends in exactly one outcome (timeline.h): ok (2xx, 3xx), 4xx, 5xx, socket error
// (connect refused, reset or closed before a complete response, malformed response) or timeout
// (no complete response --timeout-ms after it was issued, connect included). Latency quantiles
// cover the requests that got a status (ok, 4xx, 5xx), not socket errors or timeouts (all
// quantiles are 0 when no status came back). A failed connection is closed and reopened for its
// next request, but not before 1 ms has passed, so a dead target costs each connection at most
// one attempt per millisecond, not a busy loop.
//
// Output (stdout), one line each, key=value:
//   total requests=N seconds=S rps=R p50_ms= p90_ms= p99_ms= p999_ms= max_ms= errors=
//         status_4xx= status_5xx= socket_errors= timeouts=
//   window NAME (the same keys, for the requests completed in [FROM, TO) seconds of the run)
// --timeline FILE: CSV, one row per second of the run by completion time (see timeline.h).
// Exit status: 0 when the run finished (whatever the errors), 2 on bad flags, 1 on a setup error.
//
// Threading: one thread, raw edge-triggered epoll (each socket registered once for input,
// output and hang-up) and, in open-loop mode, one timerfd set to the next due time.
// Cost: no allocation per request. The request is formatted once; responses are parsed in each
// connection's fixed 16 KiB buffer (a longer response head is a malformed response) and bodies
// are skipped, framed by Content-Length, chunked coding or the close. The clock is read twice per
// request at most (vDSO). Timeouts and retries are found by a scan of all connections each
// millisecond.

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/byte_buffer.h"
#include "core/clock.h"
#include "core/socket.h"
#include "http/chunked_parser.h"
#include "http/response_parser.h"
#include "latency_histogram.h"
#include "timeline.h"

namespace ballast::load {
namespace {

constexpr size_t kReceiveBytes = 16 * 1024;  // also the longest response head accepted
constexpr uint64_t kRetryDelayNs = 1'000'000;
constexpr uint64_t kScanIntervalNs = 1'000'000;
constexpr uint64_t kMinTickNs = 100'000;  // open loop: the pacing timer's shortest wait
constexpr uint64_t kNsPerSecond = 1'000'000'000;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/";
  uint32_t connections = 50;
  uint64_t requests = 0;  // 0: --duration decides
  double duration_s = 0;
  double rate = 0;  // 0: closed loop
  uint64_t timeout_ms = 5000;
  std::string timeline_path;
  std::vector<std::string> windows;
};

struct Window {
  std::string name;
  uint64_t from_ns = 0;
  uint64_t to_ns = 0;
  Tally tally;
};

// NAME:FROM:TO with FROM < TO, in seconds; the name may not hold spaces (the output is
// space-separated). Returns the reason it is bad, or "" and fills `window`.
std::string parse_window(std::string_view text, Window& window) {
  const size_t last = text.rfind(':');
  const size_t middle = last == std::string_view::npos ? last : text.rfind(':', last - 1);
  if (middle == std::string_view::npos || middle == 0)
    return "expected NAME:FROM:TO";
  const std::string_view name = text.substr(0, middle);
  if (name.find_first_of(" \t\r\n") != std::string_view::npos)
    return "the window's name may not contain spaces";
  double bounds[2] = {0, 0};
  const std::string_view parts[2] = {text.substr(middle + 1, last - middle - 1),
                                     text.substr(last + 1)};
  for (int i = 0; i < 2; ++i) {
    const auto [end, ec] =
        std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), bounds[i]);
    if (ec != std::errc{} || end != parts[i].data() + parts[i].size() || bounds[i] < 0 ||
        bounds[i] > 1e9)
      return "FROM and TO must be seconds (0 or more)";
  }
  if (bounds[0] >= bounds[1])
    return "FROM must be below TO";
  window.name = std::string(name);
  window.from_ns = static_cast<uint64_t>(bounds[0] * 1e9);
  window.to_ns = static_cast<uint64_t>(bounds[1] * 1e9);
  return "";
}

class Client;

// One keep-alive connection to the target, carrying at most one request at a time.
class Connection {
 public:
  // Where the connection stands as the client sees it.
  enum class Role : uint8_t {
    busy,     // a request is in flight
    ready,    // open loop: on the client's idle list, waiting for a due request
    resting,  // after a failure, not to be used before retry_at_ns
    done,     // nothing more to send
  };

  explicit Connection(Client& client)
      : client_(client),
        in_(kReceiveBytes),
        parser_(http::Limits{.max_head_bytes = kReceiveBytes, .max_headers = http::kMaxHeaders}) {}

  // Takes a request: connects first if needed, then writes it. `origin_ns` is where its latency
  // starts; 0 means at the write.
  void begin(uint64_t origin_ns, uint64_t now_ns) noexcept;
  void on_io(uint32_t events) noexcept;
  // Ends the request in flight without a response (a socket error or a timeout).
  void fail(Outcome outcome) noexcept;

  Role role = Role::done;
  uint64_t retry_at_ns = 0;
  uint64_t issued_ns() const noexcept { return issued_ns_; }
  uint64_t origin_ns() const noexcept { return origin_ns_; }

 private:
  enum class Phase : uint8_t {
    closed,        // no socket
    connecting,    // a request waits for the connect to finish
    idle,          // connected, no request
    head,          // request written (or being written), reading the response head
    body_length,   // Content-Length body: body_left_ bytes to skip
    body_chunked,  // chunked body: chunked_ finds its end
    body_until_close,
  };

  bool open() noexcept;
  void close() noexcept;
  void send_request() noexcept;
  void receive(uint32_t events) noexcept;
  void parse_input() noexcept;  // consumes what is buffered; may complete the response
  bool parse_head() noexcept;   // true if a head was taken and the body phase set
  void complete() noexcept;

  Client& client_;
  core::FileDescriptor fd_;
  core::ByteBuffer in_;
  http::ResponseHeadParser parser_;
  http::ResponseHead head_;
  http::ChunkedParser chunked_;
  Phase phase_ = Phase::closed;
  uint16_t status_ = 0;
  bool keep_alive_ = true;
  uint32_t generation_ = 0;  // counts closes: a handler stops when its socket is replaced
  uint64_t body_left_ = 0;
  size_t sent_bytes_ = 0;
  uint64_t origin_ns_ = 0;  // where the latency of the request in flight starts
  uint64_t issued_ns_ = 0;  // where its timeout starts
};

class Client {
 public:
  Client(const Options& options, std::vector<Window> windows)
      : options_(options),
        address_(core::resolve(options.host, options.port)),
        windows_(std::move(windows)),
        epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
        timer_fd_(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
    if (!epoll_fd_.valid() || !timer_fd_.valid())
      throw std::system_error(errno, std::generic_category(), "epoll or timerfd");
    const bool ipv6 = options.host.find(':') != std::string::npos;
    request_ = "GET " + options.path + " HTTP/1.1\r\nHost: " + (ipv6 ? "[" : "") + options.host +
               (ipv6 ? "]:" : ":") + std::to_string(options.port) + "\r\n\r\n";
    epoll_event event{};
    event.events = EPOLLIN | EPOLLET;
    event.data.ptr = nullptr;  // the timerfd is the one descriptor without a connection
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, timer_fd_.get(), &event);
    connections_.reserve(options.connections);
    for (uint32_t i = 0; i < options.connections; ++i)
      connections_.push_back(std::make_unique<Connection>(*this));
    idle_.reserve(options.connections);
  }

  void run();
  void report() const;
  bool write_timeline(const std::string& path) const;

  // ---- for the connections
  const core::SocketAddress& address() const noexcept { return address_; }
  std::string_view request() const noexcept { return request_; }
  bool watch(int fd, Connection& connection) noexcept {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.ptr = &connection;
    return epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &event) == 0;
  }
  void on_response(Connection& connection, uint16_t status) noexcept;
  void on_failure(Connection& connection, Outcome outcome) noexcept;

 private:
  bool open_loop() const noexcept { return options_.rate > 0; }
  uint64_t due_ns(uint64_t index) const noexcept {
    return start_ns_ + static_cast<uint64_t>(static_cast<double>(index) * 1e9 / options_.rate);
  }
  bool more_to_issue(uint64_t now_ns) const noexcept;
  bool finished(uint64_t now_ns) const noexcept {
    return in_flight_ == 0 && !more_to_issue(now_ns);
  }
  void issue(Connection& connection, uint64_t origin_ns, uint64_t now_ns) noexcept;
  void record(Outcome outcome, uint64_t latency_ns, uint64_t now_ns) noexcept;
  void after_request(Connection& connection, uint64_t now_ns) noexcept;
  void make_available(Connection& connection, uint64_t now_ns) noexcept;
  void dispatch_due(uint64_t now_ns) noexcept;
  void arm_timer(uint64_t at_ns) noexcept;
  void scan(uint64_t now_ns) noexcept;
  void print_line(const std::string& label, const Tally& tally, double seconds) const;

  const Options& options_;
  core::SocketAddress address_;
  std::string request_;
  std::vector<Window> windows_;
  core::FileDescriptor epoll_fd_;
  core::FileDescriptor timer_fd_;
  uint64_t armed_ns_ = 0;  // the timerfd's deadline; 0 = not armed
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> idle_;  // open loop: connections ready for the next due request
  uint64_t start_ns_ = 0;
  uint64_t end_ns_ = 0;     // --duration: no request is issued from then on
  uint64_t finish_ns_ = 0;  // when the last request ended
  uint64_t issued_ = 0;     // also the index of the next due request in open loop
  uint64_t in_flight_ = 0;
  Timeline timeline_;
};

// ---- Connection ---------------------------------------------------------------------------

bool Connection::open() noexcept {
  fd_ = core::connect_to(client_.address());
  if (!fd_.valid())
    return false;
  core::set_no_delay(fd_.get());
  if (!client_.watch(fd_.get(), *this)) {
    close();
    return false;
  }
  phase_ = Phase::connecting;
  return true;
}

void Connection::close() noexcept {
  fd_.reset();  // closing the descriptor also removes it from the epoll set
  in_.clear();
  parser_.reset();
  phase_ = Phase::closed;
  ++generation_;
}

void Connection::begin(uint64_t origin_ns, uint64_t now_ns) noexcept {
  origin_ns_ = origin_ns;
  issued_ns_ = now_ns;
  sent_bytes_ = 0;
  if (phase_ == Phase::closed) {
    if (!open())
      fail(Outcome::socket_error);  // refused at once (or out of descriptors)
    return;                         // the request is written once the connect finishes
  }
  phase_ = Phase::head;
  send_request();
}

void Connection::fail(Outcome outcome) noexcept {
  close();
  client_.on_failure(*this, outcome);
}

void Connection::send_request() noexcept {
  const std::string_view request = client_.request();
  if (origin_ns_ == 0)
    origin_ns_ = core::monotonic_now_ns();  // closed loop: latency starts at the write
  while (sent_bytes_ < request.size()) {
    const ssize_t n =
        send(fd_.get(), request.data() + sent_bytes_, request.size() - sent_bytes_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_bytes_ += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // the rest goes on EPOLLOUT
    } else if (n < 0 && errno != EINTR) {
      fail(Outcome::socket_error);  // e.g. the server closed the idle connection meanwhile
      return;
    }
  }
}

void Connection::on_io(uint32_t events) noexcept {
  if (phase_ == Phase::closed)
    return;
  if (phase_ == Phase::connecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0)
      return;
    if (core::connect_error(fd_.get()) != 0) {
      fail(Outcome::socket_error);  // refused, unreachable
      return;
    }
    phase_ = Phase::head;
    send_request();
    return;  // a response cannot have arrived before the request
  }
  if ((events & EPOLLOUT) != 0 && phase_ == Phase::head && sent_bytes_ < client_.request().size())
    send_request();
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && phase_ != Phase::closed)
    receive(events);
}

// Reads until EAGAIN, or until a read comes back short: the socket was empty then, and anything
// arriving later raises a new edge. The short-read shortcut saves one recv per response; it is
// not taken when the peer has hung up, since no further edge would report the end.
void Connection::receive(uint32_t events) noexcept {
  const uint32_t generation = generation_;
  const bool hung_up = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  while (generation == generation_) {
    if (in_.writable().empty())
      in_.compact();
    const std::span<char> space = in_.writable();
    if (space.empty()) {
      fail(Outcome::socket_error);  // a response head beyond the buffer
      return;
    }
    const ssize_t n = recv(fd_.get(), space.data(), space.size(), 0);
    if (n > 0) {
      in_.commit(static_cast<size_t>(n));
      parse_input();
      if (static_cast<size_t>(n) < space.size() && !hung_up)
        return;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (phase_ == Phase::body_until_close && n == 0) {
      complete();  // the close ends this body
      return;
    } else if (phase_ == Phase::idle) {
      close();  // the server ended an idle connection: the next request reconnects
      return;
    } else {
      fail(Outcome::socket_error);  // closed or reset before a complete response
      return;
    }
  }
}

void Connection::parse_input() noexcept {
  const uint32_t generation = generation_;
  while (generation == generation_ && !in_.empty()) {
    switch (phase_) {
      case Phase::head:
        if (!parse_head())
          return;
        break;
      case Phase::body_length: {
        const uint64_t take = std::min<uint64_t>(body_left_, in_.size());
        in_.consume(static_cast<size_t>(take));
        body_left_ -= take;
        if (body_left_ > 0)
          return;
        complete();
        break;
      }
      case Phase::body_chunked: {
        const http::ChunkResult result = chunked_.consume(in_.readable());
        in_.consume(result.consumed);
        if (result.error) {
          fail(Outcome::socket_error);
        } else if (result.done) {
          complete();
        }
        if (!result.done)
          return;
        break;
      }
      case Phase::body_until_close:
        in_.clear();
        return;
      case Phase::idle:
        close();  // bytes nobody asked for: the stream is out of step, start over
        return;
      case Phase::closed:
      case Phase::connecting:
        return;
    }
  }
}

bool Connection::parse_head() noexcept {
  const http::ParseResult result = parser_.parse(in_.readable(), false, head_);
  if (result.status == http::ParseResult::incomplete)
    return false;
  if (result.status == http::ParseResult::error) {
    fail(Outcome::socket_error);  // a malformed response
    return false;
  }
  // Copy what is needed before consuming: the head's views point into the buffer.
  status_ = head_.status;
  keep_alive_ = head_.keep_alive;
  const http::BodyKind body = head_.body_kind;
  body_left_ = head_.content_length;
  in_.consume(head_.head_bytes);
  parser_.reset();
  if (status_ < 200)
    return true;  // an interim 1xx: the final response follows
  switch (body) {
    case http::BodyKind::none:
      complete();
      break;
    case http::BodyKind::content_length:
      phase_ = Phase::body_length;
      if (body_left_ == 0)
        complete();
      break;
    case http::BodyKind::chunked:
      chunked_.reset();
      phase_ = Phase::body_chunked;
      break;
    case http::BodyKind::until_close:
      keep_alive_ = false;
      phase_ = Phase::body_until_close;
      break;
  }
  return true;
}

void Connection::complete() noexcept {
  phase_ = Phase::idle;
  if (!keep_alive_)
    close();
  client_.on_response(*this, status_);
}

// ---- Client -------------------------------------------------------------------------------

bool Client::more_to_issue(uint64_t now_ns) const noexcept {
  if (options_.requests > 0)
    return issued_ < options_.requests;
  return now_ns < end_ns_ && (!open_loop() || due_ns(issued_) < end_ns_);
}

void Client::issue(Connection& connection, uint64_t origin_ns, uint64_t now_ns) noexcept {
  ++issued_;
  ++in_flight_;
  connection.role = Connection::Role::busy;
  connection.begin(origin_ns, now_ns);
}

void Client::record(Outcome outcome, uint64_t latency_ns, uint64_t now_ns) noexcept {
  --in_flight_;
  finish_ns_ = now_ns;
  const uint64_t since_start = now_ns - start_ns_;
  timeline_.add(since_start, outcome, latency_ns);
  for (Window& window : windows_) {
    if (since_start >= window.from_ns && since_start < window.to_ns)
      window.tally.add(outcome, latency_ns);
  }
}

void Client::on_response(Connection& connection, uint16_t status) noexcept {
  const uint64_t now = core::monotonic_now_ns();
  const Outcome outcome = status >= 500   ? Outcome::status_5xx
                          : status >= 400 ? Outcome::status_4xx
                                          : Outcome::ok;
  record(outcome, now - connection.origin_ns(), now);
  after_request(connection, now);
}

void Client::on_failure(Connection& connection, Outcome outcome) noexcept {
  const uint64_t now = core::monotonic_now_ns();
  record(outcome, 0, now);
  connection.retry_at_ns = now + kRetryDelayNs;
  after_request(connection, now);
}

void Client::after_request(Connection& connection, uint64_t now_ns) noexcept {
  connection.role = Connection::Role::resting;
  if (connection.retry_at_ns <= now_ns)
    make_available(connection, now_ns);  // else scan() brings it back
}

void Client::make_available(Connection& connection, uint64_t now_ns) noexcept {
  if (!more_to_issue(now_ns)) {
    connection.role = Connection::Role::done;
  } else if (open_loop()) {
    connection.role = Connection::Role::ready;
    idle_.push_back(&connection);  // dispatch_due() hands it the next due request
  } else {
    issue(connection, 0, now_ns);
  }
}

void Client::dispatch_due(uint64_t now_ns) noexcept {
  while (!idle_.empty() && more_to_issue(now_ns) && due_ns(issued_) <= now_ns) {
    Connection& connection = *idle_.back();
    idle_.pop_back();
    issue(connection, due_ns(issued_), now_ns);
  }
  // Wake for the next due request, but not sooner than kMinTickNs from now: setting the timer
  // costs a system call (a VM exit on a virtual machine), too much to pay per request at high
  // rates. Above 1/kMinTickNs requests per second, due requests go out in batches, up to
  // kMinTickNs late, a wait their latency includes.
  if (!idle_.empty() && more_to_issue(now_ns))
    arm_timer(std::max(due_ns(issued_), now_ns + kMinTickNs));
}

// Sets the timerfd to wake the loop at `at_ns`, unless it is set to ring sooner already.
void Client::arm_timer(uint64_t at_ns) noexcept {
  if (armed_ns_ != 0 && armed_ns_ <= at_ns)
    return;
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(at_ns / kNsPerSecond);
  spec.it_value.tv_nsec = static_cast<long>(at_ns % kNsPerSecond);
  timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
  armed_ns_ = at_ns;
}

// Times out requests and brings rested connections back. Each millisecond: a timeout fires up
// to 1 ms late.
void Client::scan(uint64_t now_ns) noexcept {
  const uint64_t timeout_ns = options_.timeout_ms * core::kNsPerMs;
  for (const std::unique_ptr<Connection>& connection : connections_) {
    if (connection->role == Connection::Role::busy &&
        now_ns - connection->issued_ns() >= timeout_ns) {
      connection->fail(Outcome::timeout);
    } else if (connection->role == Connection::Role::resting && connection->retry_at_ns <= now_ns) {
      make_available(*connection, now_ns);
    }
  }
}

void Client::run() {
  start_ns_ = core::monotonic_now_ns();
  end_ns_ = start_ns_ + static_cast<uint64_t>(options_.duration_s * 1e9);
  finish_ns_ = start_ns_;
  for (const std::unique_ptr<Connection>& connection : connections_)
    make_available(*connection, start_ns_);
  uint64_t now = core::monotonic_now_ns();
  uint64_t next_scan = now + kScanIntervalNs;
  std::array<epoll_event, 256> events;
  while (true) {
    if (open_loop())
      dispatch_due(now);
    if (now >= next_scan) {
      scan(now);
      next_scan = now + kScanIntervalNs;
    }
    if (finished(now))
      break;
    const int ready =
        epoll_wait(epoll_fd_.get(), events.data(), static_cast<int>(events.size()), 1);
    for (int i = 0; i < ready; ++i) {
      auto* connection = static_cast<Connection*>(events[i].data.ptr);
      if (connection != nullptr) {
        connection->on_io(events[i].events);
      } else {
        uint64_t expirations = 0;
        [[maybe_unused]] const ssize_t n = read(timer_fd_.get(), &expirations, sizeof(expirations));
        armed_ns_ = 0;
      }
    }
    now = core::monotonic_now_ns();
  }
  if (options_.requests == 0)  // a duration run lasts its duration, even if quiet at the end
    finish_ns_ = std::max(finish_ns_, std::min(now, end_ns_));
  timeline_.extend_to((finish_ns_ - start_ns_) / kNsPerSecond);
}

void Client::print_line(const std::string& label, const Tally& tally, double seconds) const {
  const LatencyHistogram& latency = tally.latency;
  const auto ms = [&](double q) { return static_cast<double>(latency.quantile_ns(q)) / 1e6; };
  const auto u = [](uint64_t value) { return static_cast<unsigned long long>(value); };
  const double rps = seconds > 0 ? static_cast<double>(tally.requests()) / seconds : 0.0;
  std::printf(
      "%s requests=%llu seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
      "max_ms=%.3f errors=%llu status_4xx=%llu status_5xx=%llu socket_errors=%llu timeouts=%llu\n",
      label.c_str(), u(tally.requests()), seconds, rps, ms(0.5), ms(0.9), ms(0.99), ms(0.999),
      ms(1.0), u(tally.errors()), u(tally.status_4xx), u(tally.status_5xx), u(tally.socket_errors),
      u(tally.timeouts));
}

void Client::report() const {
  const uint64_t elapsed_ns = finish_ns_ - start_ns_;
  print_line("total", timeline_.total(), static_cast<double>(elapsed_ns) / 1e9);
  for (const Window& window : windows_) {
    // A window reaching past the end of the run covers only the part that was run.
    const uint64_t to = std::min(window.to_ns, elapsed_ns);
    const double seconds = to > window.from_ns ? static_cast<double>(to - window.from_ns) / 1e9 : 0;
    print_line("window " + window.name, window.tally, seconds);
  }
  std::fflush(stdout);
}

bool Client::write_timeline(const std::string& path) const {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr)
    return false;
  const bool written = timeline_.write_csv(out);
  return std::fclose(out) == 0 && written;
}

// ---- main ---------------------------------------------------------------------------------

void add_flags(CLI::App& app, Options& options) {
  app.add_option("--port", options.port, "The target's port")
      ->required()
      ->check(CLI::Range(1, 65535));
  app.add_option("--host", options.host, "The target's address")->capture_default_str();
  app.add_option("--path", options.path, "The request target")
      ->capture_default_str()
      ->check([](const std::string& path) {
        return !path.empty() && path[0] == '/' && path.find_first_of(" \r\n") == std::string::npos
                   ? std::string()
                   : std::string("must start with / and hold no spaces");
      });
  app.add_option("--connections", options.connections, "Keep-alive connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  CLI::Option_group* amount = app.add_option_group("amount", "How much load: one of");
  amount->add_option("--requests", options.requests, "Send exactly N requests")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
  amount->add_option("--duration", options.duration_s, "Send for SECONDS, then drain")
      ->check(CLI::Range(0.001, 1e7));
  amount->require_option(1);
  app.add_option("--rate", options.rate, "Open loop: R requests per second in all (wrk2-style)")
      ->check(CLI::Range(0.001, 1e9));
  app.add_option("--timeout-ms", options.timeout_ms, "A request unanswered this long fails")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}));
  app.add_option("--timeline", options.timeline_path, "Write the per-second CSV timeline here");
  app.add_option("--window", options.windows,
                 "NAME:FROM:TO: also summarise the requests completed in [FROM, TO) seconds")
      ->check([](const std::string& text) {
        Window window;
        return parse_window(text, window);
      });
}

int run(int argc, char** argv) {
  CLI::App app{"ballast-load: an HTTP/1.1 load generator (closed loop, or open loop with --rate)",
               "ballast-load"};
  Options options;
  add_flags(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  std::vector<Window> windows(options.windows.size());
  for (size_t i = 0; i < windows.size(); ++i)
    parse_window(options.windows[i], windows[i]);  // already checked by the flag's validator
  Client client(options, std::move(windows));
  client.run();
  client.report();
  if (!options.timeline_path.empty() && !client.write_timeline(options.timeline_path)) {
    std::fprintf(stderr, "ballast-load: cannot write %s\n", options.timeline_path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ballast::load

int main(int argc, char** argv) {
  try {
    return ballast::load::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ballast-load: %s\n", error.what());
    return 1;
  }
}
