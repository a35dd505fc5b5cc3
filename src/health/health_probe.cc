#include "health/health_probe.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/clock.h"
#include "edge/proxy_header_send.h"

namespace ballast::health {
namespace {

// Saturating, so that an absurd configured timeout means "never" rather than wrapping.
uint64_t deadline_after(uint64_t now_ns, uint64_t ms) noexcept {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  const uint64_t ns = ms > kMax / core::kNsPerMs ? kMax : ms * core::kNsPerMs;
  return ns > kMax - now_ns ? kMax : now_ns + ns;
}

// Appends to a fixed buffer; remembers whether anything did not fit.
class Writer {
 public:
  Writer(char* out, size_t capacity) noexcept : out_(out), capacity_(capacity) {}

  void put(std::string_view text) noexcept {
    if (text.size() > capacity_ - length_) {
      overflow_ = true;
      return;
    }
    std::memcpy(out_ + length_, text.data(), text.size());
    length_ += text.size();
  }
  void put_number(uint32_t value) noexcept {
    char digits[10];
    const std::to_chars_result end = std::to_chars(digits, digits + sizeof(digits), value);
    put({digits, static_cast<size_t>(end.ptr - digits)});
  }

  size_t length() const noexcept { return length_; }
  bool overflow() const noexcept { return overflow_; }

 private:
  char* out_;
  size_t capacity_;
  size_t length_ = 0;
  bool overflow_ = false;
};

// A completed non-blocking connect reads SO_ERROR 0, but so does one still in progress. The
// event that got us here may be stale — left in this epoll batch by the socket of a check that
// was cancelled and replaced earlier in the same batch — so a 0 is confirmed by asking for the
// peer, which a socket still connecting does not have (ENOTCONN).
bool is_connected(int fd) noexcept {
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  return getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0;
}

uint16_t port_of(const core::SocketAddress& address) noexcept {
  return ntohs(address.storage.ss_family == AF_INET6
                   ? reinterpret_cast<const sockaddr_in6&>(address.storage).sin6_port
                   : reinterpret_cast<const sockaddr_in&>(address.storage).sin_port);
}

// "10.0.0.7:8080", "[::1]:8080": what a check names its server by when no host is configured.
std::string address_text(const core::SocketAddress& address) {
  const bool v6 = address.storage.ss_family == AF_INET6;
  return (v6 ? "[" : "") + std::string(core::ip_text(address).view()) + (v6 ? "]:" : ":") +
         std::to_string(port_of(address));
}

}  // namespace

HealthProbe::HealthProbe(core::EventLoop& loop, Handler& handler) noexcept
    : loop_(loop), handler_(handler), parser_(http::Limits{kHeadBytes, http::kMaxHeaders}) {}

void HealthProbe::start(const core::SocketAddress& address, const config::HealthCheckConfig& config,
                        std::string_view host_header) noexcept {
  cancel();
  type_ = config.type;
  status_min_ = config.expected_status_min;
  status_max_ = config.expected_status_max;
  request_sent_ = 0;
  response_bytes_ = 0;
  parser_.reset();
  if (type_ == config::HealthCheckType::http && !build_request(address, config.path, host_header)) {
    fail_soon("bad request", 0, "path and Host do not fit the request buffer");
    return;
  }
  if (type_ == config::HealthCheckType::grpc) {
    authority_ = host_header.empty() ? address_text(address) : std::string(host_header);
    service_ = config.service;
  }
  fd_ = core::connect_to(address);
  if (!fd_.valid()) {
    fail_soon("connect failed", errno, {});
    return;
  }
  if (tls_context_ != nullptr) {
    tls_ = std::make_unique<tls::TlsStream>(tls_context_->new_connection(tls_host_, tls_session_),
                                            fd_.get());
    if (!tls_->valid()) {
      close();
      fail_soon("TLS", 0, "cannot make a TLS connection");
      return;
    }
  }
  if (!loop_.watch(fd_.get(), *this)) {
    const int error = errno;
    close();
    fail_soon("cannot watch the socket", error, {});
    return;
  }
  phase_ = Phase::connecting;
  timer_.arm(loop_.timers(), deadline_after(loop_.now_ns(), config.timeout_ms));
}

bool HealthProbe::build_request(const core::SocketAddress& address, std::string_view path,
                                std::string_view host_header) noexcept {
  Writer out(request_, kRequestBytes);
  out.put("GET ");
  out.put(path);
  out.put(" HTTP/1.1\r\nHost: ");
  if (!host_header.empty()) {
    out.put(host_header);
  } else {
    const bool v6 = address.storage.ss_family == AF_INET6;
    out.put(v6 ? "[" : "");
    out.put(core::ip_text(address).view());
    out.put(v6 ? "]:" : ":");
    out.put_number(port_of(address));
  }
  out.put("\r\nUser-Agent: ballast-health-check\r\nConnection: close\r\n\r\n");
  request_bytes_ = out.length();
  return !out.overflow();
}

void HealthProbe::fail_soon(std::string_view what, int error, std::string_view why) noexcept {
  failing_what_ = what;
  failing_error_ = error;
  failing_why_ = why;
  phase_ = Phase::failing;
  timer_.arm(loop_.timers(), loop_.now_ns());
}

void HealthProbe::use_tls(const tls::ClientContext& context, std::string server_host) {
  tls_context_ = &context;
  tls_host_ = std::move(server_host);
}

void HealthProbe::cancel() noexcept {
  close();
}

void HealthProbe::close() noexcept {
  timer_.cancel();
  call_.reset();
  if (tls_ != nullptr) {
    tls_->close_notify();
    tls_.reset();
  }
  if (fd_.valid()) {
    loop_.unwatch(fd_.get());
    fd_.reset();
  }
  phase_ = Phase::idle;
}

void HealthProbe::finish(bool passed, std::string_view detail) noexcept {
  close();
  handler_.on_probe_done(passed, detail);  // may start the next check or destroy *this
}

std::string_view HealthProbe::describe(std::string_view what, std::string_view why) noexcept {
  const int length =
      std::snprintf(detail_, sizeof(detail_), "%.*s: %.*s", static_cast<int>(what.size()),
                    what.data(), static_cast<int>(why.size()), why.data());
  return {detail_, std::min(static_cast<size_t>(std::max(length, 0)), sizeof(detail_) - 1)};
}

void HealthProbe::on_timer(core::Timer& /*timer*/) noexcept {
  if (phase_ == Phase::failing) {
    finish(false, describe(failing_what_,
                           failing_error_ != 0 ? std::strerror(failing_error_) : failing_why_));
  } else if (phase_ != Phase::idle) {
    finish(false, "timed out");
  }
}

void HealthProbe::on_io(uint32_t events) noexcept {
  // Edge-triggered: each phase works until it would block, then falls through to the next, so
  // no readiness is lost between phases (a response that came with the connect is read at once).
  if (phase_ == Phase::connecting && finish_connect(events) != Step::next) {
    return;
  }
  if (phase_ == Phase::handshaking && handshake() != Step::next) {
    return;
  }
  if (phase_ == Phase::sending && send_request() != Step::next) {
    return;
  }
  // Each of these may end the check, and the handler may then destroy the probe: nothing may
  // follow them.
  if (phase_ == Phase::reading) {
    read_response();
  } else if (phase_ == Phase::calling) {
    pump_call();
  }
  // idle or failing: an event of a socket already closed, left in this epoll batch.
}

HealthProbe::Step HealthProbe::finish_connect(uint32_t events) noexcept {
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
    return Step::wait;
  }
  const int error = core::connect_error(fd_.get());
  if (error != 0) {
    finish(false, describe("connect failed", std::strerror(error)));
    return Step::ended;
  }
  if (!is_connected(fd_.get())) {
    return Step::wait;
  }
  if (proxy_header_ != config::ProxyProtocolVersion::none &&
      !edge::send_local_proxy_header(fd_.get(), proxy_header_)) {
    finish(false, describe("PROXY protocol header not sent", std::strerror(errno)));
    return Step::ended;
  }
  if (tls_ != nullptr) {
    phase_ = Phase::handshaking;
    return Step::next;
  }
  if (type_ == config::HealthCheckType::tcp) {
    finish(true, "connected");
    return Step::ended;
  }
  if (type_ == config::HealthCheckType::grpc) {
    start_call();
    return Step::next;
  }
  phase_ = Phase::sending;
  return Step::next;
}

HealthProbe::Step HealthProbe::handshake() noexcept {
  switch (tls_->handshake()) {
    case tls::TlsStream::Step::blocked:
      return Step::wait;
    case tls::TlsStream::Step::failed:
      finish(false, describe("TLS handshake failed", tls_->failure_detail()));
      return Step::ended;
    case tls::TlsStream::Step::done:
      break;
  }
  if (type_ == config::HealthCheckType::tcp) {
    finish(true, "TLS handshake done");
    return Step::ended;
  }
  if (type_ == config::HealthCheckType::grpc) {
    start_call();
    return Step::next;
  }
  phase_ = Phase::sending;
  return Step::next;
}

ssize_t HealthProbe::send_bytes(const char* data, size_t size) noexcept {
  return tls_ != nullptr ? tls_->send(data, size) : send(fd_.get(), data, size, MSG_NOSIGNAL);
}

ssize_t HealthProbe::receive_bytes(char* data, size_t size) noexcept {
  bool drained = false;
  return tls_ != nullptr ? tls_->receive(data, size, drained) : recv(fd_.get(), data, size, 0);
}

HealthProbe::Step HealthProbe::send_request() noexcept {
  while (request_sent_ < request_bytes_) {
    const ssize_t sent = send_bytes(request_ + request_sent_, request_bytes_ - request_sent_);
    if (sent >= 0) {
      request_sent_ += static_cast<size_t>(sent);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Step::wait;
    } else if (errno != EINTR) {
      finish(false, describe("send failed", std::strerror(errno)));
      return Step::ended;
    }
  }
  phase_ = Phase::reading;
  return Step::next;
}

void HealthProbe::read_response() noexcept {
  for (;;) {
    // The parser reports a head over kHeadBytes before the buffer can fill, so space remains.
    const ssize_t received =
        receive_bytes(response_ + response_bytes_, kHeadBytes - response_bytes_);
    if (received > 0) {
      response_bytes_ += static_cast<size_t>(received);
      if (judge_head()) {
        return;
      }
    } else if (received == 0) {
      finish(false, response_bytes_ == 0 ? "connection closed before response"
                                         : "bad response: truncated response head");
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno != EINTR) {
      finish(false, describe("receive failed", std::strerror(errno)));
      return;
    }
  }
}

void HealthProbe::start_call() noexcept {
  try {
    call_ = std::make_unique<GrpcHealthCall>(authority_, service_);
  } catch (const std::bad_alloc&) {
    finish(false, "cannot make the call");
    return;
  }
  phase_ = Phase::calling;
}

// The call's bytes out, the server's in, until the call has its verdict.
void HealthProbe::pump_call() noexcept {
  for (;;) {
    for (std::string_view out; !(out = call_->output()).empty();) {
      const ssize_t sent = send_bytes(out.data(), out.size());
      if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          break;  // the rest when the socket is writable
        }
        finish(false, describe("send failed", std::strerror(errno)));
        return;
      }
      call_->sent(static_cast<size_t>(sent));
    }
    const ssize_t received = receive_bytes(response_, kHeadBytes);
    if (received > 0) {
      const bool open = call_->receive({response_, static_cast<size_t>(received)});
      if (call_->done()) {
        finish(call_->passed(), describe_call());
        return;
      }
      if (!open) {
        finish(false, "bad response: HTTP/2 connection error");
        return;
      }
    } else if (received == 0) {
      finish(false, "connection closed before response");
      return;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (errno != EINTR) {
      finish(false, describe("receive failed", std::strerror(errno)));
      return;
    }
  }
}

// The call's verdict, copied out: finish() destroys the call before the handler reads it.
std::string_view HealthProbe::describe_call() noexcept {
  const std::string_view detail = call_->detail();
  const size_t length = std::min(detail.size(), sizeof(detail_) - 1);
  std::memcpy(detail_, detail.data(), length);
  return {detail_, length};
}

bool HealthProbe::judge_head() noexcept {
  for (;;) {
    if (response_bytes_ == 0) {
      return false;  // only an interim head so far
    }
    const http::ParseResult parsed =
        parser_.parse({response_, response_bytes_}, /*request_was_head=*/false, head_);
    if (parsed.status == http::ParseResult::error) {
      finish(false, describe("bad response", parsed.reason));
      return true;
    }
    if (parsed.status == http::ParseResult::incomplete) {
      if (response_bytes_ == kHeadBytes) {  // not expected: the parser's limit is the buffer's
        finish(false, "bad response: response head too large");
        return true;
      }
      return false;
    }
    if (head_.status >= 200 || head_.status == 101) {
      break;
    }
    // An interim response (100 Continue, 103 Early Hints): the final head follows it.
    response_bytes_ -= head_.head_bytes;
    std::memmove(response_, response_ + head_.head_bytes, response_bytes_);
    parser_.reset();
  }
  const bool passed = head_.status >= status_min_ && head_.status <= status_max_;
  const int length =
      std::snprintf(detail_, sizeof(detail_), "status %u", static_cast<unsigned>(head_.status));
  finish(passed, {detail_, static_cast<size_t>(length)});
  return true;
}

}  // namespace ballast::health
