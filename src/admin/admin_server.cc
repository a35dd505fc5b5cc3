#include "admin/admin_server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "admin/admin_host.h"
#include "admin/dashboard_page.h"
#include "admin/rate_sampler.h"
#include "admin/status_json.h"
#include "core/clock.h"
#include "core/event_loop.h"
#include "core/timer_wheel.h"
#include "http/error_response.h"
#include "http/request_parser.h"
#include "observe/log.h"

namespace ballast::admin {
namespace {

using config::LogLevel;

enum class ListenerKind : uint8_t { admin, metrics };

constexpr size_t kInputCapacity = AdminServer::kMaxHeadBytes + AdminServer::kMaxBodyBytes;
constexpr size_t kReadChunk = 4096;
constexpr uint64_t kLingerMs = 2'000;  // to read what a client still sends after our last word

// The dashboard may run its inline script and style, and fetch from its own origin only; no
// other page may frame it (its buttons change servers).
constexpr std::string_view kDashboardPolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'";

struct Response {
  uint16_t status = 200;
  std::string_view content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string_view, std::string_view>> fields;  // more header fields
  bool close = false;  // close the connection after it
};

std::string_view reason_of(uint16_t status) noexcept {
  switch (status) {
    case 202:
      return "Accepted";
    case 401:
      return "Unauthorized";
    default: {
      const std::string_view phrase = http::reason_phrase(status);
      return phrase.empty() ? "Unknown" : phrase;
    }
  }
}

Response json_error(uint16_t status, std::string_view message) {
  Response response;
  response.status = status;
  response.body = "{\"error\":";
  observe::append_json_string(response.body, message);
  response.body.append("}\n");
  return response;
}

Response method_not_allowed(std::string_view allow) {
  Response response = json_error(405, "method not allowed");
  response.fields.emplace_back("Allow", allow);
  return response;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// Compares a presented secret with the expected one in time that depends only on the expected
// one's length, so the answer's timing tells nothing about how much of a guess was right.
bool constant_time_equal(std::string_view presented, std::string_view expected) noexcept {
  size_t difference = presented.size() ^ expected.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    const char offered = i < presented.size() ? presented[i] : '\0';
    difference |= static_cast<unsigned char>(offered ^ expected[i]);
  }
  return difference == 0;
}

// Decodes %XX escapes of one path segment; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return false;
    }
    unsigned value = 0;
    const auto [end, error] = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
    if (error != std::errc() || end != in.data() + i + 3) {
      return false;
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

// The value of `name` in a query string ("a=1&b=2"), or empty.
std::string_view query_value(std::string_view query, std::string_view name) noexcept {
  while (!query.empty()) {
    const size_t end = query.find('&');
    const std::string_view pair = query.substr(0, end);
    const size_t equals = pair.find('=');
    if (pair.substr(0, equals) == name) {
      return equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1);
    }
    if (end == std::string_view::npos) {
      break;
    }
    query.remove_prefix(end + 1);
  }
  return {};
}

}  // namespace

struct AdminServer::Impl final : core::Timer::Handler {
  class Listener;
  class Connection;

  Impl(const config::Config& config, uint32_t workers, AdminHooks hooks, std::string metrics_host)
      : admin_listen(config.admin.listen),
        started_admin(config.admin),
        metrics_enabled(config.monitoring.metrics.enabled),
        metrics_port(config.monitoring.metrics.port),
        metrics_path(config.monitoring.metrics.path),
        metrics_host(std::move(metrics_host)),
        workers(workers),
        hooks(std::move(hooks)),
        started_ns(core::monotonic_now_ns()) {}

  void on_timer(core::Timer& timer) noexcept override;
  void sample();
  void accept_all(Listener& listener) noexcept;
  void remove(Connection* connection) noexcept;

  Response handle(ListenerKind kind, const http::RequestHead& head,
                  const core::SocketAddress& peer);
  Response handle_admin(const http::RequestHead& head, std::string_view path,
                        std::string_view query, const core::SocketAddress& peer);
  Response handle_write(const http::RequestHead& head, const core::SocketAddress& peer,
                        std::string_view action, const std::string& cluster,
                        const std::string& server);
  // admin.token and admin.allowed_hosts as a reload left them: the current generation's (or
  // those the server started with, when it has no generation to look at).
  config::AdminConfig access() const;
  bool authorized(const http::RequestHead& head, const std::string& token) const noexcept;
  bool same_origin(const http::RequestHead& head) const noexcept;
  std::shared_ptr<const upstream::Generation> generation() const {
    return hooks.generation ? hooks.generation() : nullptr;
  }

  // Settings, read once (but for started_admin's token and allowed_hosts: see access()).
  const config::Endpoint admin_listen;
  const config::AdminConfig started_admin;
  const bool metrics_enabled;
  const uint16_t metrics_port;
  const std::string metrics_path;
  const std::string metrics_host;
  const uint32_t workers;
  const AdminHooks hooks;
  const uint64_t started_ns;

  // Declared before everything registered with it, so destroyed after.
  core::EventLoop loop;
  core::SocketAddress admin_bound;
  std::optional<core::SocketAddress> metrics_bound;
  std::unique_ptr<Listener> admin_listener;
  std::unique_ptr<Listener> metrics_listener;
  std::vector<std::unique_ptr<Connection>> connections;  // admin thread only, once started
  RateSampler sampler;
  core::Timer sample_timer{*this};
  std::thread thread;
  bool started = false;
};

class AdminServer::Impl::Listener final : public core::IoHandler {
 public:
  Listener(Impl& server, core::FileDescriptor fd, ListenerKind kind) noexcept
      : server_(server), fd_(std::move(fd)), kind_(kind) {}

  void on_io(uint32_t) noexcept override { server_.accept_all(*this); }
  int fd() const noexcept { return fd_.get(); }
  ListenerKind kind() const noexcept { return kind_; }

 private:
  Impl& server_;
  core::FileDescriptor fd_;
  ListenerKind kind_;
};

// One client connection: reads a request, answers it, and so on while the client keeps the
// connection alive; one request at a time (a pipelined one waits in the buffer).
class AdminServer::Impl::Connection final : public core::IoHandler,
                                            public core::Releasable,
                                            public core::Timer::Handler {
 public:
  Connection(Impl& server, core::FileDescriptor fd, const core::SocketAddress& peer,
             ListenerKind kind)
      : server_(server),
        fd_(std::move(fd)),
        peer_(peer),
        kind_(kind),
        parser_(http::Limits{kMaxHeadBytes, kMaxHeaders}),
        head_(std::make_unique<http::RequestHead>()) {
    input_.reserve(kInputCapacity);
  }

  bool start() noexcept {
    if (!server_.loop.watch(fd_.get(), *this)) {
      return false;
    }
    enter(Phase::reading, kRequestTimeoutMs);  // the first request is due from now
    return true;
  }

  void on_io(uint32_t events) noexcept override {
    if (closed_) {
      return;
    }
    try {
      if ((events & EPOLLERR) != 0) {
        close();
        return;
      }
      if ((events & EPOLLOUT) != 0) {
        flush();
      }
      if (!closed_ && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0) {
        read_input();
      }
      if (!closed_) {
        process();
      }
    } catch (...) {
      close();  // out of memory: this client goes, the server stays
    }
  }

  void on_timer(core::Timer&) noexcept override { close(); }

  void release() noexcept override { server_.remove(this); }

 private:
  enum class Phase : uint8_t { idle, reading, writing, lingering };

  void enter(Phase phase, uint64_t timeout_ms) noexcept {
    phase_ = phase;
    timer_.arm(server_.loop.timers(), server_.loop.now_ns() + timeout_ms * core::kNsPerMs);
  }

  // Reads until the socket has nothing more, the peer closed, or the buffer is full (the rest
  // waits in the socket until a request leaves the buffer; process() reads again then).
  void read_input() {
    while (!peer_closed_ && !closed_) {
      const size_t used = input_.size();
      const size_t room = kInputCapacity - used;
      if (room == 0) {
        return;
      }
      const size_t chunk = std::min(room, kReadChunk);
      input_.resize(used + chunk);
      const ssize_t n = recv(fd_.get(), input_.data() + used, chunk, 0);
      input_.resize(used + (n > 0 ? static_cast<size_t>(n) : 0));
      if (n > 0) {
        if (phase_ == Phase::lingering) {
          input_.clear();  // nobody will answer it
        } else if (phase_ == Phase::idle) {
          enter(Phase::reading, kRequestTimeoutMs);
        }
        continue;
      }
      if (n == 0) {
        peer_closed_ = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        close();
      }
      return;
    }
  }

  void process() {
    while (!closed_) {
      if (phase_ == Phase::lingering) {
        if (peer_closed_) {
          close();
        }
        return;
      }
      if (phase_ == Phase::writing) {
        return;  // one response at a time
      }
      if (input_.empty()) {
        if (peer_closed_) {
          close();
        }
        return;
      }
      http::RequestHead& head = *head_;
      const http::ParseResult result = parser_.parse(input_, head);
      if (result.status == http::ParseResult::error) {
        respond(json_error(result.error_status, result.reason), false, false);
        continue;
      }
      if (result.status == http::ParseResult::incomplete) {
        if (peer_closed_) {
          close();
        }
        return;
      }
      if (head.body_kind == http::BodyKind::chunked) {
        respond(json_error(411, "a request body must have a Content-Length"), false, false);
        continue;
      }
      const uint64_t body =
          head.body_kind == http::BodyKind::content_length ? head.content_length : 0;
      if (body > kMaxBodyBytes) {
        respond(json_error(413, "the admin API takes no request body"), false, false);
        continue;
      }
      const size_t request_bytes = head.head_bytes + static_cast<size_t>(body);
      if (input_.size() < request_bytes) {
        if (peer_closed_) {
          close();
        }
        return;
      }
      Response response;
      try {
        response = server_.handle(kind_, head, peer_);
      } catch (const std::exception& error) {
        response = json_error(500, error.what());
      }
      const bool keep_alive = head.keep_alive && !response.close && !peer_closed_;
      const bool head_only = head.method == "HEAD";
      input_.erase(0, request_bytes);  // `head` points into it: not used from here on
      parser_.reset();
      respond(response, head_only, keep_alive);
      read_input();  // room was made: take what the socket still holds
    }
  }

  void respond(const Response& response, bool head_only, bool keep_alive) {
    output_.clear();
    output_sent_ = 0;
    output_.append("HTTP/1.1 ")
        .append(std::to_string(response.status))
        .append(" ")
        .append(reason_of(response.status))
        .append("\r\nContent-Type: ")
        .append(response.content_type)
        .append("\r\nContent-Length: ")
        .append(std::to_string(response.body.size()))
        .append("\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
    for (const auto& [name, value] : response.fields) {
      output_.append(name).append(": ").append(value).append("\r\n");
    }
    output_.append(keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    if (!head_only) {
      output_.append(response.body);
    }
    close_after_output_ = !keep_alive;
    enter(Phase::writing, kWriteTimeoutMs);
    flush();
  }

  void flush() {
    while (output_sent_ < output_.size()) {
      const ssize_t n = send(fd_.get(), output_.data() + output_sent_,
                             output_.size() - output_sent_, MSG_NOSIGNAL);
      if (n > 0) {
        output_sent_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;  // EPOLLOUT brings us back
      }
      close();
      return;
    }
    if (phase_ != Phase::writing) {
      return;
    }
    output_.clear();
    output_sent_ = 0;
    if (close_after_output_) {
      // Closing now, with the client's bytes unread, would send a reset that can destroy the
      // answer before the client reads it: say we are done, then read until it is too.
      shutdown(fd_.get(), SHUT_WR);
      input_.clear();
      enter(Phase::lingering, kLingerMs);
      read_input();
      if (peer_closed_) {
        close();
      }
      return;
    }
    if (input_.empty()) {
      enter(Phase::idle, kIdleTimeoutMs);
    } else {
      enter(Phase::reading, kRequestTimeoutMs);
    }
  }

  void close() noexcept {
    if (closed_) {
      return;
    }
    closed_ = true;
    timer_.cancel();
    server_.loop.unwatch(fd_.get());
    fd_.reset();
    server_.loop.release_later(*this);
  }

  Impl& server_;
  core::FileDescriptor fd_;
  const core::SocketAddress peer_;
  const ListenerKind kind_;
  http::RequestHeadParser parser_;
  std::unique_ptr<http::RequestHead> head_;  // about 4 KiB: on the heap, not in the object
  std::string input_;                        // at most kInputCapacity
  std::string output_;
  size_t output_sent_ = 0;
  Phase phase_ = Phase::reading;
  bool close_after_output_ = false;
  bool peer_closed_ = false;
  bool closed_ = false;
  core::Timer timer_{*this};
};

void AdminServer::Impl::accept_all(Listener& listener) noexcept {
  while (true) {
    core::SocketAddress peer;
    core::FileDescriptor fd = core::accept_from(listener.fd(), peer);
    if (!fd.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      return;  // EAGAIN; or out of descriptors, when the next connection tries again
    }
    if (connections.size() >= kMaxConnections) {
      static constexpr std::string_view kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Content-Length: 33\r\nConnection: close\r\n\r\n{\"error\":\"too many connections\"}\n";
      [[maybe_unused]] const ssize_t n =
          send(fd.get(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      shutdown(fd.get(), SHUT_WR);
      // What the client already sent is read first: closing with unread bytes would send a
      // reset, which may destroy the 503 before the client reads it.
      char scratch[4096];
      for (int i = 0; i < 16 && recv(fd.get(), scratch, sizeof(scratch), MSG_DONTWAIT) > 0; ++i) {
      }
      continue;  // closed by fd's destructor
    }
    try {
      auto connection = std::make_unique<Connection>(*this, std::move(fd), peer, listener.kind());
      Connection* raw = connection.get();
      connections.push_back(std::move(connection));
      if (!raw->start()) {
        connections.pop_back();
      }
    } catch (...) {
      return;  // out of memory: the connection (already moved or not) is closed
    }
  }
}

void AdminServer::Impl::remove(Connection* connection) noexcept {
  const auto found =
      std::find_if(connections.begin(), connections.end(),
                   [connection](const auto& held) { return held.get() == connection; });
  if (found != connections.end()) {
    connections.erase(found);
  }
}

void AdminServer::Impl::on_timer(core::Timer& timer) noexcept {
  try {
    sample();
  } catch (...) {
    // Out of memory: skip this second.
  }
  const uint64_t now_ns = loop.now_ns();
  uint64_t next_ns = timer.deadline_ns() + RateSampler::kIntervalNs;
  if (next_ns <= now_ns) {
    next_ns = now_ns + RateSampler::kIntervalNs;  // fell behind: keep the pace from now on
  }
  timer.arm(loop.timers(), next_ns);
}

void AdminServer::Impl::sample() {
  const std::shared_ptr<const upstream::Generation> current = generation();
  if (current == nullptr) {
    return;
  }
  const uint64_t now_ns = loop.now_ns();
  sampler.begin_round();
  for (const upstream::ClusterState& cluster : current->clusters) {
    const ClusterVerdict verdict = assess_cluster(cluster, now_ns);
    for (size_t i = 0; i < cluster.servers.size(); ++i) {
      const upstream::ServerState& server = *cluster.servers[i];
      sampler.record(cluster.config->name, server.name, server.stats.get(),
                     read_server(server, verdict.servers[i], now_ns));
    }
  }
  sampler.end_round();
}

config::AdminConfig AdminServer::Impl::access() const {
  const std::shared_ptr<const upstream::Generation> current = generation();
  return current != nullptr ? current->config->admin : started_admin;
}

bool AdminServer::Impl::authorized(const http::RequestHead& head,
                                   const std::string& token) const noexcept {
  if (token.empty()) {
    return true;
  }
  const http::Header* field = head.headers.find("Authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (field == nullptr || field->value.size() < kScheme.size() ||
      !equals_ignoring_case(field->value.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  std::string_view presented = field->value.substr(kScheme.size());
  while (!presented.empty() && presented.front() == ' ') {
    presented.remove_prefix(1);
  }
  return constant_time_equal(presented, token);
}

// A browser sends Origin with a POST; one from another site (a page trying to drive the admin
// API of the operator's machine) is refused. Clients that send no Origin (curl, ballast status)
// are not browsers and pass.
bool AdminServer::Impl::same_origin(const http::RequestHead& head) const noexcept {
  const http::Header* origin = head.headers.find("Origin");
  if (origin == nullptr) {
    return true;
  }
  constexpr std::string_view kScheme = "http://";
  return origin->value.size() == kScheme.size() + head.host.size() &&
         origin->value.substr(0, kScheme.size()) == kScheme &&
         equals_ignoring_case(origin->value.substr(kScheme.size()), head.host);
}

Response AdminServer::Impl::handle(ListenerKind kind, const http::RequestHead& head,
                                   const core::SocketAddress& peer) {
  const std::string_view target = head.target;
  if (target.empty() || target.front() != '/') {
    return json_error(400, "the request target must be a path");
  }
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  if (kind == ListenerKind::admin) {
    return handle_admin(head, path, query, peer);
  }

  // The metrics listener serves the metrics path and nothing else.
  if (path != metrics_path) {
    return json_error(404, "not found");
  }
  if (head.method != "GET" && head.method != "HEAD") {
    return method_not_allowed("GET, HEAD");
  }
  const std::shared_ptr<const upstream::Generation> current = generation();
  if (current == nullptr || !hooks.metrics) {
    return json_error(503, "not ready");
  }
  Response response;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = hooks.metrics(*current);
  return response;
}

Response AdminServer::Impl::handle_admin(const http::RequestHead& head, std::string_view path,
                                         std::string_view query, const core::SocketAddress& peer) {
  const bool read = head.method == "GET" || head.method == "HEAD";
  const bool write = head.method == "POST";

  if (path == "/" || path == "/index.html") {
    if (!read) {
      return method_not_allowed("GET, HEAD");
    }
    Response response;
    response.content_type = "text/html; charset=utf-8";
    response.body = dashboard_html();
    response.fields.emplace_back("Content-Security-Policy", kDashboardPolicy);
    response.fields.emplace_back("X-Frame-Options", "DENY");
    return response;
  }

  if (path == "/status" || path == "/status/history") {
    if (!read) {
      return method_not_allowed("GET, HEAD");
    }
    const std::shared_ptr<const upstream::Generation> current = generation();
    if (current == nullptr) {
      return json_error(503, "not ready");
    }
    Response response;
    const uint64_t now_ns = loop.now_ns();
    if (path == "/status") {
      ProcessInfo process;
      process.uptime_seconds = static_cast<double>(now_ns - started_ns) / 1e9;
      process.workers = workers;
      if (hooks.protocols) {
        process.protocols = hooks.protocols();
      }
      if (hooks.discovery) {
        process.discovery = hooks.discovery();
      }
      response.body = status_json(*current, sampler, process, now_ns);
    } else {
      const std::string_view since_text = query_value(query, "since");
      uint64_t since = 0;
      if (!since_text.empty()) {
        const auto [end, error] =
            std::from_chars(since_text.data(), since_text.data() + since_text.size(), since);
        if (error != std::errc() || end != since_text.data() + since_text.size()) {
          return json_error(400, "since must be a round number");
        }
      }
      response.body = history_json(*current, sampler, since);
    }
    response.body.push_back('\n');
    return response;
  }

  if (path == "/reload") {
    if (!write) {
      return method_not_allowed("POST");
    }
    return handle_write(head, peer, "reload", {}, {});
  }

  constexpr std::string_view kServers = "/servers/";
  if (path.substr(0, kServers.size()) == kServers) {
    // /servers/{cluster}/{server}/{action}, each segment percent-decoded ("[::1]:80" arrives as
    // "%5B%3A%3A1%5D%3A80" from a careful client).
    std::string_view rest = path.substr(kServers.size());
    std::string_view segments[3];
    size_t count = 0;
    while (count < 3) {
      const size_t slash = rest.find('/');
      segments[count++] = rest.substr(0, slash);
      if (slash == std::string_view::npos) {
        rest = {};
        break;
      }
      rest.remove_prefix(slash + 1);
    }
    const bool known_action =
        count == 3 && rest.empty() &&
        (segments[2] == "drain" || segments[2] == "enable" || segments[2] == "disable");
    if (!known_action || segments[0].empty() || segments[1].empty()) {
      return json_error(404,
                        "not found: use POST /servers/{cluster}/{server}/drain|enable|disable");
    }
    if (!write) {
      return method_not_allowed("POST");
    }
    std::string cluster;
    std::string server;
    if (!percent_decode(segments[0], cluster) || !percent_decode(segments[1], server)) {
      return json_error(400, "malformed percent-encoding in the path");
    }
    return handle_write(head, peer, segments[2], cluster, server);
  }

  return json_error(404, "not found");
}

Response AdminServer::Impl::handle_write(const http::RequestHead& head,
                                         const core::SocketAddress& peer, std::string_view action,
                                         const std::string& cluster, const std::string& server) {
  const core::IpText client = core::ip_text(peer);
  const config::AdminConfig settings = access();
  if (!is_admin_host(head.host, admin_listen, settings.allowed_hosts)) {
    observe::log_event(LogLevel::warn, "admin action refused",
                       {{"action", action},
                        {"cluster", cluster},
                        {"server", server},
                        {"client", client.view()},
                        {"reason", "Host does not name the admin API"}});
    return json_error(421,
                      "Host must name the admin API (admin.listen, localhost, or an "
                      "admin.allowed_hosts entry)");
  }
  if (!same_origin(head)) {
    observe::log_event(LogLevel::warn, "admin action refused",
                       {{"action", action},
                        {"cluster", cluster},
                        {"server", server},
                        {"client", client.view()},
                        {"reason", "cross-origin request"}});
    return json_error(403, "cross-origin requests may not change anything");
  }
  if (!authorized(head, settings.token)) {
    observe::log_event(LogLevel::warn, "admin action refused",
                       {{"action", action},
                        {"cluster", cluster},
                        {"server", server},
                        {"client", client.view()},
                        {"reason", "missing or wrong token"}});
    Response response = json_error(401, "a valid admin token is required");
    response.fields.emplace_back("WWW-Authenticate", "Bearer realm=\"ballast\"");
    return response;
  }

  if (action == "reload") {
    observe::log_event(LogLevel::info, "admin action",
                       {{"action", action}, {"client", client.view()}});
    if (hooks.reload) {
      hooks.reload();
    }
    Response response;
    response.status = 202;
    response.body = "{\"result\":\"reload requested\"}\n";
    return response;
  }

  const upstream::AdminState next = action == "enable"    ? upstream::AdminState::enabled
                                    : action == "disable" ? upstream::AdminState::disabled
                                                          : upstream::AdminState::draining;
  const std::shared_ptr<const upstream::Generation> current = generation();
  if (current == nullptr) {
    return json_error(503, "not ready");
  }
  // Through the process's hook, the write waits for a reload being built and lands in the
  // generation it publishes; without one (tests), straight into the current generation.
  const upstream::AdminWrite written =
      hooks.set_admin_state ? hooks.set_admin_state(cluster, server, next)
                            : upstream::set_admin_state(*current, cluster, server, next);
  if (written == upstream::AdminWrite::no_cluster) {
    return json_error(404, "no cluster named " + cluster);
  }
  if (written == upstream::AdminWrite::no_server) {
    return json_error(404, "no server " + server + " in cluster " + cluster);
  }
  observe::log_event(
      LogLevel::info, "admin action",
      {{"action", action}, {"cluster", cluster}, {"server", server}, {"client", client.view()}});
  // The server as it is now (a reload may have come in between and even removed it).
  Response response;
  const std::shared_ptr<const upstream::Generation> latest = generation();
  const size_t cluster_index = latest->cluster_index(cluster);
  if (cluster_index == latest->clusters.size()) {
    response.body = "{\"result\":\"done\"}\n";
    return response;
  }
  const upstream::ClusterState& state = latest->clusters[cluster_index];
  const auto found =
      std::find_if(state.servers.begin(), state.servers.end(),
                   [&server](const auto& candidate) { return candidate->name == server; });
  if (found == state.servers.end()) {
    response.body = "{\"result\":\"done\"}\n";
    return response;
  }
  response.body = server_json(state, static_cast<size_t>(found - state.servers.begin()), sampler,
                              loop.now_ns());
  response.body.push_back('\n');
  return response;
}

namespace {

// Binds one listener; the error names the address and what it is for.
core::FileDescriptor bind_listener(const std::string& host, uint16_t port, std::string_view what,
                                   core::SocketAddress& bound) {
  const std::string wanted = host + ":" + std::to_string(port);
  try {
    const core::SocketAddress address = core::resolve(host, port);
    core::FileDescriptor fd = core::listen_on(address, /*reuse_port=*/false);
    bound.length = sizeof(bound.storage);
    if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) != 0) {
      bound = address;
    }
    return fd;
  } catch (const std::system_error& error) {
    throw std::runtime_error("cannot listen on " + wanted + " (" + std::string(what) +
                             "): " + error.code().message());
  } catch (const std::exception& error) {
    throw std::runtime_error("cannot listen on " + wanted + " (" + std::string(what) +
                             "): " + error.what());
  }
}

// A listening socket taken over from a binary upgrade's predecessor, and its address.
core::FileDescriptor bound_listener(core::FileDescriptor fd, core::SocketAddress& bound) {
  bound.length = sizeof(bound.storage);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound.storage), &bound.length);
  return fd;
}

// Whether a socket address is one only this machine can reach: 127.0.0.0/8, ::1 or an
// IPv4-mapped 127.x address.
bool is_loopback_address(const core::SocketAddress& address) noexcept {
  if (address.storage.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address.storage);
    return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  }
  if (address.storage.ss_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6&>(address.storage).sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

// The configuration refuses an admin API beyond loopback without a token already
// (config/settings_reader.cc). Checked again here, on the address the listen host resolves to
// and before anything is bound, for configurations built in code (`ballast demo --admin
// 0.0.0.0:9091` skips the configuration reader) and names that resolve beyond loopback.
// `refusing`: what is refused ("refusing to start", "refusing the reload").
void refuse_open_without_token(const config::Endpoint& listen, const std::string& token,
                               std::string_view refusing) {
  if (!token.empty() || is_loopback_address(core::resolve(listen.host, listen.port))) {
    return;
  }
  const bool ipv6 = listen.host.find(':') != std::string::npos;
  throw std::runtime_error("admin.listen " + (ipv6 ? "[" + listen.host + "]" : listen.host) + ":" +
                           std::to_string(listen.port) +
                           " is reachable beyond this machine and admin.token is not set: " +
                           std::string(refusing) + " (set admin.token, or listen on 127.0.0.1)");
}

}  // namespace

AdminServer::AdminServer(const config::Config& config, uint32_t workers, AdminHooks hooks,
                         std::string metrics_host)
    : impl_(std::make_unique<Impl>(config, workers, std::move(hooks), std::move(metrics_host))) {}

void AdminServer::check_reload(const config::Config& next) const {
  refuse_open_without_token(impl_->admin_listen, next.admin.token, "refusing the reload");
}

int AdminServer::admin_socket() const noexcept {
  return impl_->admin_listener != nullptr ? impl_->admin_listener->fd() : -1;
}

int AdminServer::metrics_socket() const noexcept {
  return impl_->metrics_listener != nullptr ? impl_->metrics_listener->fd() : -1;
}

std::string AdminServer::admin_listen() const {
  return impl_->admin_listen.host + ":" + std::to_string(impl_->admin_listen.port);
}

std::string AdminServer::metrics_listen() const {
  return impl_->metrics_host + ":" + std::to_string(impl_->metrics_port);
}

AdminServer::~AdminServer() {
  stop();
}

void AdminServer::start(Inherited inherited) {
  Impl& impl = *impl_;
  if (impl.started) {
    throw std::logic_error("AdminServer::start called twice");
  }
  refuse_open_without_token(impl.admin_listen, impl.started_admin.token, "refusing to start");
  core::FileDescriptor admin_fd =
      inherited.admin.valid() ? bound_listener(std::move(inherited.admin), impl.admin_bound)
                              : bind_listener(impl.admin_listen.host, impl.admin_listen.port,
                                              "admin API", impl.admin_bound);
  core::FileDescriptor metrics_fd;
  if (impl.metrics_enabled) {
    core::SocketAddress bound;
    metrics_fd = inherited.metrics.valid()
                     ? bound_listener(std::move(inherited.metrics), bound)
                     : bind_listener(impl.metrics_host, impl.metrics_port, "metrics", bound);
    impl.metrics_bound = bound;
  }
  impl.admin_listener =
      std::make_unique<Impl::Listener>(impl, std::move(admin_fd), ListenerKind::admin);
  if (!impl.loop.watch(impl.admin_listener->fd(), *impl.admin_listener)) {
    throw std::system_error(errno, std::generic_category(), "admin API: epoll");
  }
  if (metrics_fd.valid()) {
    impl.metrics_listener =
        std::make_unique<Impl::Listener>(impl, std::move(metrics_fd), ListenerKind::metrics);
    if (!impl.loop.watch(impl.metrics_listener->fd(), *impl.metrics_listener)) {
      throw std::system_error(errno, std::generic_category(), "metrics: epoll");
    }
  }
  // The first reading at once, so the first window has a start.
  impl.sample_timer.arm(impl.loop.timers(), core::monotonic_now_ns());
  impl.started = true;
  impl.thread = std::thread([&impl] {
    try {
      impl.loop.run();
    } catch (const std::exception& error) {
      observe::log_event(LogLevel::error, "admin server stopped", {{"error", error.what()}});
    }
  });
}

void AdminServer::stop() noexcept {
  Impl& impl = *impl_;
  if (!impl.thread.joinable()) {
    return;
  }
  impl.loop.stop();
  impl.thread.join();
  // The thread is gone: its objects may be torn down here.
  impl.connections.clear();
  impl.sample_timer.cancel();
  if (impl.admin_listener != nullptr) {
    impl.loop.unwatch(impl.admin_listener->fd());
  }
  if (impl.metrics_listener != nullptr) {
    impl.loop.unwatch(impl.metrics_listener->fd());
  }
  impl.admin_listener.reset();
  impl.metrics_listener.reset();
}

core::SocketAddress AdminServer::admin_address() const {
  return impl_->admin_bound;
}

std::optional<core::SocketAddress> AdminServer::metrics_address() const {
  return impl_->metrics_bound;
}

}  // namespace ballast::admin
