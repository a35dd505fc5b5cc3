// ballast-testd: one benchmark backend, an HTTP/1.1 server whose latency, jitter, concurrency
// limit and error rate are set on the command line and changed at runtime through /control.
//
//   ballast-testd --port P --name NAME [--host 127.0.0.1] [--latency-ms L] [--jitter-ms J]
//                 [--concurrency C] [--error-percent E] [--seed S]
//
//   any path         200 (500 with probability E%) after L ms + uniform(0..J) ms, body "NAME\n",
//                    header "X-Backend: NAME"; at most C requests in service at once (0: no
//                    limit), the rest wait in one FIFO queue: that queue is what makes a server
//                    of small C "slow" under load, as a real one would be.
//   GET /health      200 at once: never delayed, never failing, never queued.
//   GET /control?latency_ms=&jitter_ms=&concurrency=&error_percent=
//                    changes any of the settings (each optional), answers them all as JSON.
//
// Used by bench/ to build a fleet of unequal capacity (issue 6): one process per port, so a
// server can be killed, stopped (SIGSTOP) or reconfigured alone.
//
// Threading: one thread, one core::EventLoop. Each connection serves its requests one at a time,
// in order (pipelined requests wait in the receive buffer), so per-connection memory is bounded:
// an 8 KiB receive buffer, a 4 KiB send buffer and one parsed head. Request bodies
// (Content-Length) are read and discarded; chunked ones get 411. Bad input gets the parser's
// status (400, 431, 501, 505) and the connection is closed once the answer is sent.
//
// Delays: the loop's timer wheel ticks every 4 ms, too coarse for a 5 ms backend (it would serve
// 5-9 ms, 7 ms on average). So pending responses sit in a min-heap of deadlines and one timerfd,
// watched by the same loop, is set to the earliest. With a fixed latency deadlines arrive in
// order and the timerfd is re-armed once per batch of expiries, not once per request.
// Cost: no allocation per request (the heap's vector grows to the peak number in service).

#include <signal.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/byte_buffer.h"
#include "core/clock.h"
#include "core/event_loop.h"
#include "core/random.h"
#include "core/socket.h"
#include "http/request_parser.h"

namespace ballast::testd {
namespace {

constexpr size_t kReceiveBytes = 8 * 1024;   // also the longest request head accepted
constexpr size_t kSendBytes = 4 * 1024;      // holds a few pipelined answers
constexpr size_t kSendHighWater = 2 * 1024;  // stop answering pipelined requests above this

struct Settings {
  double latency_ms = 0;
  double jitter_ms = 0;
  uint32_t concurrency = 0;  // 0: unlimited
  double error_percent = 0;
};

class Server;

class Connection final : public core::IoHandler, public core::Releasable {
 public:
  enum class State : uint8_t { idle, queued, in_service };

  Connection(Server& server, core::FileDescriptor fd)
      : server_(server),
        fd_(std::move(fd)),
        in_(kReceiveBytes),
        out_(kSendBytes),
        parser_(http::Limits{.max_head_bytes = kReceiveBytes, .max_headers = 64}) {}

  void on_io(uint32_t events) noexcept override;
  void release() noexcept override { delete this; }

  // The delayed request is due: answer it and go on with the next one.
  void complete() noexcept;
  void pump() noexcept;  // read, answer what can be answered, write
  void close() noexcept;
  bool closed() const noexcept { return !fd_.valid(); }

  State state_ = State::idle;
  Connection* next_queued_ = nullptr;  // the server's FIFO wait queue (intrusive)
  Connection* prev_queued_ = nullptr;

 private:
  bool read_some() noexcept;        // true if bytes arrived
  bool handle_requests() noexcept;  // true if a request was taken from the buffer
  void drain_body() noexcept;
  void flush() noexcept;
  void answer(bool delayed_request) noexcept;
  void answer_control(std::string_view query) noexcept;
  void fail(uint16_t status) noexcept;
  std::string_view connection_field() const noexcept {
    return !keep_alive_ ? "\r\nConnection: close\r\n"
                        : (http10_ ? "\r\nConnection: keep-alive\r\n" : "\r\n");
  }

  Server& server_;
  core::FileDescriptor fd_;
  core::ByteBuffer in_;
  core::ByteBuffer out_;
  http::RequestHeadParser parser_;
  http::RequestHead head_;
  uint64_t body_left_ = 0;  // bytes of the current request's body still to discard
  bool can_read_ = true;    // edge-triggered: no EAGAIN seen since the last readiness
  bool peer_closed_ = false;
  bool close_after_flush_ = false;
  bool keep_alive_ = true;
  bool head_method_ = false;  // HEAD: the answer has no body
  bool http10_ = false;       // an HTTP/1.0 client keeps the connection only if told so
};

class Server final : public core::IoHandler {
 public:
  Server(core::EventLoop& loop, std::string name, Settings settings, uint64_t seed)
      : loop_(loop),
        name_(std::move(name)),
        settings_(settings),
        random_(seed),
        timer_fd_(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
    if (!timer_fd_.valid()) {
      throw std::system_error(errno, std::generic_category(), "timerfd_create");
    }
    timer_handler_.server = this;
    loop_.watch(timer_fd_.get(), timer_handler_);
    pending_.reserve(1024);
  }

  void listen(const core::SocketAddress& address) {
    listener_ = core::listen_on(address, false);
    loop_.watch(listener_.get(), *this);
  }

  // The listener is ready: accept until EAGAIN (edge-triggered).
  void on_io(uint32_t) noexcept override {
    for (;;) {
      core::SocketAddress peer;
      core::FileDescriptor fd = core::accept_from(listener_.get(), peer);
      if (!fd.valid()) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
          std::perror("testd: accept");  // EMFILE: raise `ulimit -n`
        }
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        return;
      }
      core::set_no_delay(fd.get());
      const int raw = fd.get();
      auto* connection = new Connection(*this, std::move(fd));
      if (!loop_.watch(raw, *connection)) {
        connection->close();
        continue;
      }
      connection->pump();  // bytes may have arrived with the connection
    }
  }

  // A request wants service. Starts it if a slot is free and nobody waits; otherwise queues it.
  // Returns true if it was answered at once (no delay), false if the connection now waits.
  bool admit(Connection& connection) noexcept {
    const bool room = settings_.concurrency == 0 || in_service_ < settings_.concurrency;
    if (room && queue_head_ == nullptr) {
      return start(connection);
    }
    connection.state_ = Connection::State::queued;
    connection.prev_queued_ = queue_tail_;
    connection.next_queued_ = nullptr;
    (queue_tail_ != nullptr ? queue_tail_->next_queued_ : queue_head_) = &connection;
    queue_tail_ = &connection;
    ++queued_;
    return false;
  }

  void unqueue(Connection& connection) noexcept {
    (connection.prev_queued_ ? connection.prev_queued_->next_queued_ : queue_head_) =
        connection.next_queued_;
    (connection.next_queued_ ? connection.next_queued_->prev_queued_ : queue_tail_) =
        connection.prev_queued_;
    connection.next_queued_ = connection.prev_queued_ = nullptr;
    connection.state_ = Connection::State::idle;
    --queued_;
  }

  // Moves waiters into free slots, in FIFO order. Not re-entered: a connection answered here at
  // once (latency 0) may queue again behind the others, never start a nested admission.
  void admit_waiting() noexcept {
    if (admitting_)
      return;
    admitting_ = true;
    while (queue_head_ != nullptr &&
           (settings_.concurrency == 0 || in_service_ < settings_.concurrency)) {
      Connection& connection = *queue_head_;
      unqueue(connection);
      if (start(connection)) {
        connection.complete();
      }
    }
    admitting_ = false;
  }

  // Whether a request should fail, decided when it is answered.
  bool draw_error() noexcept {
    return settings_.error_percent > 0 && random_.unit() * 100.0 < settings_.error_percent;
  }

  core::EventLoop& loop() noexcept { return loop_; }
  std::string_view name() const noexcept { return name_; }
  Settings& settings() noexcept { return settings_; }
  void count_answer(bool error) noexcept { ++(error ? errors_ : served_); }

  // The current settings and counters as JSON, into `out`; returns the length.
  size_t describe(char* out, size_t size) const noexcept {
    const int n = std::snprintf(
        out, size,
        "{\"name\":\"%s\",\"latency_ms\":%g,\"jitter_ms\":%g,\"concurrency\":%u,"
        "\"error_percent\":%g,\"in_service\":%u,\"queued\":%u,\"served\":%llu,\"errors\":%llu}\n",
        name_.c_str(), settings_.latency_ms, settings_.jitter_ms, settings_.concurrency,
        settings_.error_percent, in_service_, queued_, static_cast<unsigned long long>(served_),
        static_cast<unsigned long long>(errors_));
    return n < 0 ? 0 : std::min(static_cast<size_t>(n), size - 1);
  }

 private:
  struct Pending {
    uint64_t deadline_ns;
    Connection* connection;
    bool operator>(const Pending& other) const noexcept { return deadline_ns > other.deadline_ns; }
  };
  struct TimerHandler final : core::IoHandler {
    Server* server = nullptr;
    void on_io(uint32_t) noexcept override { server->on_timer(); }
  };

  // Takes a service slot: answers at once when the delay is 0 (true), else schedules (false).
  bool start(Connection& connection) noexcept {
    const double jitter = settings_.jitter_ms > 0 ? random_.unit() * settings_.jitter_ms : 0.0;
    const auto delay_ns = static_cast<uint64_t>((settings_.latency_ms + jitter) * 1e6);
    if (delay_ns == 0) {
      connection.state_ = Connection::State::idle;
      return true;
    }
    connection.state_ = Connection::State::in_service;
    ++in_service_;
    pending_.push_back({loop_.now_ns() + delay_ns, &connection});
    std::push_heap(pending_.begin(), pending_.end(), std::greater<>());
    arm();
    return false;
  }

  // Sets the timerfd to the earliest deadline if it is not already set at or before it.
  void arm() noexcept {
    if (pending_.empty())
      return;
    const uint64_t earliest = pending_.front().deadline_ns;
    if (armed_ns_ != 0 && armed_ns_ <= earliest)
      return;
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(earliest / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(earliest % 1'000'000'000);
    timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
    armed_ns_ = earliest;
  }

  void on_timer() noexcept {
    uint64_t expirations = 0;
    [[maybe_unused]] const ssize_t n = read(timer_fd_.get(), &expirations, sizeof(expirations));
    armed_ns_ = 0;
    const uint64_t now = core::monotonic_now_ns();
    while (!pending_.empty() && pending_.front().deadline_ns <= now) {
      std::pop_heap(pending_.begin(), pending_.end(), std::greater<>());
      Connection& connection = *pending_.back().connection;
      pending_.pop_back();
      --in_service_;
      if (connection.closed()) {
        loop_.release_later(connection);  // closed while in service: freed only now
      } else {
        connection.state_ = Connection::State::idle;
        connection.complete();  // may start its next request: a later deadline, not popped here
      }
    }
    admit_waiting();
    arm();
  }

  core::EventLoop& loop_;
  std::string name_;
  Settings settings_;
  core::Random random_;
  core::FileDescriptor listener_;
  core::FileDescriptor timer_fd_;
  TimerHandler timer_handler_;
  uint64_t armed_ns_ = 0;         // the timerfd's deadline; 0 = not armed
  std::vector<Pending> pending_;  // min-heap on deadline: the requests in service
  uint32_t in_service_ = 0;
  uint32_t queued_ = 0;
  Connection* queue_head_ = nullptr;  // FIFO of connections waiting for a slot
  Connection* queue_tail_ = nullptr;
  bool admitting_ = false;
  uint64_t served_ = 0;
  uint64_t errors_ = 0;
};

// ---- Connection ---------------------------------------------------------------------------

void Connection::on_io(uint32_t events) noexcept {
  if (closed())
    return;  // closed earlier in this epoll batch
  if ((events & EPOLLERR) != 0) {
    close();
    return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0)
    can_read_ = true;
  pump();
}

void Connection::pump() noexcept {
  while (!closed()) {
    const bool read = can_read_ && read_some();
    drain_body();
    const bool handled = handle_requests();
    if (!read && !handled)
      break;
  }
  // A client that leaves while waiting for a slot gives its place up (a timed-out proxy must not
  // keep the queue long); one already in service holds its slot until the deadline, as real work
  // would. So a client that half-closes after its request is not served if it had to queue.
  if (peer_closed_ && state_ == State::queued) {
    close();
    return;
  }
  if (!closed())
    flush();
}

bool Connection::read_some() noexcept {
  bool any = false;
  while (can_read_) {
    if (in_.writable().empty())
      in_.compact();
    const std::span<char> space = in_.writable();
    if (space.empty())
      break;  // full: read again once requests are taken out (can_read_ stays)
    const ssize_t n = recv(fd_.get(), space.data(), space.size(), 0);
    if (n > 0) {
      in_.commit(static_cast<size_t>(n));
      any = true;
    } else if (n == 0) {
      peer_closed_ = true;
      can_read_ = false;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      can_read_ = false;
    } else if (errno != EINTR) {
      close();
      return false;
    }
  }
  return any;
}

void Connection::drain_body() noexcept {
  if (body_left_ == 0 || closed())
    return;
  const size_t take = static_cast<size_t>(std::min<uint64_t>(body_left_, in_.size()));
  in_.consume(take);
  body_left_ -= take;
}

bool Connection::handle_requests() noexcept {
  bool any = false;
  while (state_ == State::idle && !closed() && !close_after_flush_ && body_left_ == 0 &&
         out_.size() <= kSendHighWater) {
    const http::ParseResult result = parser_.parse(in_.readable(), head_);
    if (result.status == http::ParseResult::incomplete) {
      // The parser enforces the head limit; this guards a head that exactly fills the buffer.
      if (in_.size() == in_.capacity())
        fail(431);
      break;
    }
    if (result.status == http::ParseResult::error) {
      fail(result.error_status);
      break;
    }
    any = true;
    if (head_.body_kind == http::BodyKind::chunked) {
      fail(411);  // a benchmark client never sends one; not worth a chunked decoder here
      break;
    }
    keep_alive_ = head_.keep_alive;
    http10_ = head_.version_minor == 0;
    head_method_ = head_.method == "HEAD";
    body_left_ = head_.body_kind == http::BodyKind::content_length ? head_.content_length : 0;
    if (head_.expect_continue && body_left_ > 0) {
      out_.append("HTTP/1.1 100 Continue\r\n\r\n");
    }
    // Route on the path while the head's views into in_ are still valid, then drop the head.
    std::string_view target = head_.target;
    const size_t question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    if (path == "/health") {
      in_.consume(head_.head_bytes);
      parser_.reset();
      answer(false);
    } else if (path == "/control") {
      answer_control(query);  // reads the query from in_ before consuming it
      in_.consume(head_.head_bytes);
      parser_.reset();
    } else {
      in_.consume(head_.head_bytes);
      parser_.reset();
      if (server_.admit(*this))
        answer(true);  // no delay configured: answer now
    }
    drain_body();
  }
  return any;
}

void Connection::complete() noexcept {
  answer(true);
  pump();
}

// Appends the answer to the current request. `delayed_request`: an ordinary request (may fail);
// otherwise /health.
void Connection::answer(bool delayed_request) noexcept {
  const bool error = delayed_request && server_.draw_error();
  if (delayed_request)
    server_.count_answer(error);
  const std::string_view name = server_.name();
  char length[24];
  const auto [end, ec] = std::to_chars(length, length + sizeof(length), name.size() + 1);
  out_.append(error ? "HTTP/1.1 500 Internal Server Error\r\n" : "HTTP/1.1 200 OK\r\n");
  out_.append("Content-Type: text/plain\r\nX-Backend: ");
  out_.append(name);
  out_.append(connection_field());
  out_.append("Content-Length: ");
  out_.append(std::string_view(length, static_cast<size_t>(end - length)));
  out_.append("\r\n\r\n");
  if (!head_method_) {
    out_.append(name);
    out_.append("\n");
  }
  if (!keep_alive_)
    close_after_flush_ = true;
}

// /control?latency_ms=..&jitter_ms=..&concurrency=..&error_percent=..: applies the values that
// parse (all or nothing), answers the settings as JSON, or 400 naming nothing on a bad value.
void Connection::answer_control(std::string_view query) noexcept {
  Settings next = server_.settings();
  bool ok = true;
  while (!query.empty() && ok) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      ok = false;
      break;
    }
    const std::string_view key = pair.substr(0, eq);
    const std::string_view text = pair.substr(eq + 1);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    ok = ec == std::errc{} && end == text.data() + text.size() && value >= 0 && value < 1e7;
    if (!ok)
      break;
    if (key == "latency_ms") {
      next.latency_ms = value;
    } else if (key == "jitter_ms") {
      next.jitter_ms = value;
    } else if (key == "concurrency") {
      next.concurrency = static_cast<uint32_t>(value);
    } else if (key == "error_percent") {
      ok = value <= 100;
      next.error_percent = value;
    } else {
      ok = false;
    }
  }
  char json[512];
  size_t json_size = 0;
  if (ok) {
    server_.settings() = next;
    json_size = server_.describe(json, sizeof(json));
  } else {
    json_size =
        static_cast<size_t>(std::snprintf(json, sizeof(json), "{\"error\":\"bad query\"}\n"));
  }
  char length[24];
  const auto [end, ec] = std::to_chars(length, length + sizeof(length), json_size);
  out_.append(ok ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.1 400 Bad Request\r\n");
  out_.append("Content-Type: application/json\r\nX-Backend: ");
  out_.append(server_.name());
  out_.append(connection_field());
  out_.append("Content-Length: ");
  out_.append(std::string_view(length, static_cast<size_t>(end - length)));
  out_.append("\r\n\r\n");
  if (!head_method_)
    out_.append(std::string_view(json, json_size));
  if (!keep_alive_)
    close_after_flush_ = true;
  if (ok)
    server_.admit_waiting();  // a larger concurrency frees slots now
}

void Connection::fail(uint16_t status) noexcept {
  const char* reason = status == 431   ? "Request Header Fields Too Large"
                       : status == 411 ? "Length Required"
                       : status == 501 ? "Not Implemented"
                       : status == 505 ? "HTTP Version Not Supported"
                                       : "Bad Request";
  char line[160];
  const int n = std::snprintf(line, sizeof(line),
                              "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                              static_cast<unsigned>(status), reason);
  out_.append(std::string_view(line, static_cast<size_t>(std::max(n, 0))));
  close_after_flush_ = true;
  can_read_ = false;  // whatever follows is not read
}

void Connection::flush() noexcept {
  while (!out_.empty()) {
    const std::string_view data = out_.readable();
    const ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out_.consume(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // EPOLLOUT will call pump() again
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      close();
      return;
    }
  }
  // Everything sent: close if asked to, or if the client left and nothing is left to answer.
  if (close_after_flush_ || (peer_closed_ && state_ == State::idle))
    close();
}

void Connection::close() noexcept {
  if (closed())
    return;
  server_.loop().unwatch(fd_.get());
  fd_.reset();
  if (state_ == State::queued)
    server_.unqueue(*this);
  // In service, the server's heap still names this connection: it frees it at the deadline.
  if (state_ != State::in_service)
    server_.loop().release_later(*this);
}

// ---- main ---------------------------------------------------------------------------------

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "ballast-testd: %s\nusage: ballast-testd --port P --name NAME [--host H] "
               "[--latency-ms L] [--jitter-ms J] [--concurrency C] [--error-percent E] "
               "[--seed S]\n",
               message);
  std::exit(2);
}

double number(const char* text, const char* flag) {
  double value = 0;
  const std::string_view view(text);
  const auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (ec != std::errc{} || end != view.data() + view.size() || value < 0) {
    usage((std::string("bad value for ") + flag).c_str());
  }
  return value;
}

int run(int argc, char** argv) {
  Settings settings;
  std::string name;
  std::string host = "127.0.0.1";
  int port = -1;
  uint64_t seed = 0;
  bool seeded = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h")
      usage("help");
    if (i + 1 >= argc)
      usage("missing value");
    const char* value = argv[++i];
    if (flag == "--port") {
      port = static_cast<int>(number(value, "--port"));
    } else if (flag == "--name") {
      name = value;
    } else if (flag == "--host") {
      host = value;
    } else if (flag == "--latency-ms") {
      settings.latency_ms = number(value, "--latency-ms");
    } else if (flag == "--jitter-ms") {
      settings.jitter_ms = number(value, "--jitter-ms");
    } else if (flag == "--concurrency") {
      settings.concurrency = static_cast<uint32_t>(number(value, "--concurrency"));
    } else if (flag == "--error-percent") {
      settings.error_percent = number(value, "--error-percent");
    } else if (flag == "--seed") {
      seed = static_cast<uint64_t>(number(value, "--seed"));
      seeded = true;
    } else {
      usage("unknown flag");
    }
  }
  if (port <= 0 || port > 65535)
    usage("--port is required (1..65535)");
  if (name.empty() || name.size() > 64 || name.find_first_of("\r\n\"\\") != std::string::npos) {
    usage("--name is required (1..64 characters, no quotes, backslashes or line breaks)");
  }
  if (settings.error_percent > 100)
    usage("--error-percent is at most 100");
  if (!seeded)
    seed = static_cast<uint64_t>(port);  // reproducible, yet distinct per server

  signal(SIGPIPE, SIG_IGN);
  core::EventLoop loop;
  Server server(loop, name, settings, seed);
  server.listen(core::resolve(host, static_cast<uint16_t>(port)));
  std::fprintf(stderr, "ballast-testd %s listening on %s:%d\n", name.c_str(), host.c_str(), port);
  loop.run();
  return 0;
}

}  // namespace
}  // namespace ballast::testd

int main(int argc, char** argv) {
  try {
    return ballast::testd::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ballast-testd: %s\n", error.what());
    return 1;
  }
}
