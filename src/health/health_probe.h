#pragma once
// One active health check of one server at a time: a non-blocking TCP connect and, for type
// http, one GET whose response head decides the result. Runs inside a worker's EventLoop; no
// threads, no blocking calls.
//
// Owns: the running check's socket (watched by the loop while the check runs), its timeout
// timer, a fixed buffer for the request and one for the response head.
// Owned by: the per-server scheduler, which decides when to check (interval, jitter) and feeds
// the results to a HealthTracker; the probe knows nothing of either.
// Threading: the loop's thread only. The loop must outlive the probe.
//
// Callback rule: after start(), Handler::on_probe_done is called exactly once, unless cancel()
// or the destructor comes first — and never from within start(). A check that fails before it
// reaches the network (the connect refused synchronously, no socket, a request too long for the
// buffer) reports from the probe's timer armed at "now", so within one timer tick (4 ms) on the
// loop's next timer pass. The callback runs after the socket is closed and the probe is idle, so
// it may start() the next check or destroy the probe; the detail it gets is valid only until it
// returns.
//
// TLS (use_tls(), for a cluster with upstream_tls): the connect is followed by a handshake,
// verified as the cluster's requests are, and the request and response go through it; a tcp
// check passes once the handshake is done ("TLS handshake done"); a failed one fails the check
// ("TLS handshake failed: hostname mismatch"). The probe resumes its own last session.
//
// Results (detail in quotes):
// - tcp passes once the connect completes ("connected"); the socket closes at once.
// - http sends `GET <path> HTTP/1.1` with Host, User-Agent: ballast-health-check and
//   Connection: close, reads the response head (never the body) and passes when the final
//   status is within [expected_status_min, expected_status_max] ("status 200"); interim 1xx
//   heads other than 101 are skipped. Failures: "status 503", "connection closed before
//   response", "bad response: <reason>" (malformed, truncated, or a head over kHeadBytes),
//   "send failed: <strerror>", "receive failed: <strerror>".
// - grpc (plaintext HTTP/2, h2c) calls grpc.health.v1.Health/Check for the configured service
//   and passes on grpc-status 0 with SERVING ("SERVING"); otherwise "NOT_SERVING",
//   "grpc-status 12: …", "status 404", "stream reset" (grpc_health_call.h).
// - Any type: "connect failed: <strerror>", and "timed out" when connect, request and head
//   together take over timeout_ms (measured from start(), on the loop's wheel, so up to one
//   tick late). Rarer, before the network: "bad request: path and Host do not fit the request
//   buffer", "cannot watch the socket: <strerror>".
//
// Cost: per check one socket, a connect, one send (the request is small), a recv or two and a
// close, plus getsockopt and getpeername when the connect completes; no allocation (but
// OpenSSL's, on TLS).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "health/grpc_health_call.h"
#include "http/head.h"
#include "http/response_parser.h"
#include "tls/client_context.h"
#include "tls/tls_stream.h"

namespace ballast::health {

class HealthProbe final : public core::IoHandler, public core::Timer::Handler {
 public:
  // The whole request must fit: the path and Host header may take about 1.9 KiB together.
  static constexpr size_t kRequestBytes = 2048;
  // The response head must fit, status line through the empty line.
  static constexpr size_t kHeadBytes = 4096;

  class Handler {
   public:
    virtual void on_probe_done(bool passed, std::string_view detail) noexcept = 0;

   protected:
    ~Handler() = default;
  };

  HealthProbe(core::EventLoop& loop, Handler& handler) noexcept;
  ~HealthProbe() { cancel(); }
  HealthProbe(const HealthProbe&) = delete;
  HealthProbe& operator=(const HealthProbe&) = delete;

  // Starts a check of `address` as `config` says (type, path, expected status range, timeout_ms;
  // the scheduling fields are the caller's). A check already running is cancelled first, without
  // a callback. host_header is the Host field's value for type http; when empty, the server's
  // address ("10.0.0.7:8080", "[::1]:8080") is sent instead. The path is sent as given: the
  // config loader has checked it is a request path.
  void start(const core::SocketAddress& address, const config::HealthCheckConfig& config,
             std::string_view host_header) noexcept;

  // Checks from now on speak TLS from `context` (which must outlive the probe) to a server
  // whose configured host is `server_host`.
  void use_tls(const tls::ClientContext& context, std::string server_host);

  // Checks from now on begin with a PROXY protocol header naming nobody (the cluster's
  // send_proxy_protocol), so servers that require one take them.
  void send_proxy_header(config::ProxyProtocolVersion version) noexcept { proxy_header_ = version; }

  // Ends the running check, if any: closes its socket and timer; no callback follows.
  void cancel() noexcept;

  // True from start() until the callback (or cancel()).
  bool running() const noexcept { return phase_ != Phase::idle; }

  void on_io(uint32_t events) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;

 private:
  enum class Phase : uint8_t {
    idle,
    failing,  // failed within start(): the timer, armed at now, reports it
    connecting,
    handshaking,
    sending,
    reading,
    calling,  // type grpc: the HTTP/2 call runs (grpc_health_call.h)
  };
  enum class Step : uint8_t { wait, next, ended };  // ended: the callback ran; touch nothing

  bool build_request(const core::SocketAddress& address, std::string_view path,
                     std::string_view host_header) noexcept;
  void fail_soon(std::string_view what, int error, std::string_view why) noexcept;
  Step finish_connect(uint32_t events) noexcept;
  Step handshake() noexcept;
  Step send_request() noexcept;
  ssize_t send_bytes(const char* data, size_t size) noexcept;
  ssize_t receive_bytes(char* data, size_t size) noexcept;
  void read_response() noexcept;
  void start_call() noexcept;
  void pump_call() noexcept;
  bool judge_head() noexcept;  // true when the check ended
  std::string_view describe(std::string_view what, std::string_view why) noexcept;
  std::string_view describe_call() noexcept;
  void close() noexcept;
  // Closes, then calls the handler: the last thing any path does.
  void finish(bool passed, std::string_view detail) noexcept;

  core::EventLoop& loop_;
  Handler& handler_;
  core::FileDescriptor fd_;
  const tls::ClientContext* tls_context_ = nullptr;  // null: plain checks
  std::string tls_host_;
  tls::SessionSlot tls_session_;
  std::unique_ptr<tls::TlsStream> tls_;   // the running check's, on TLS
  std::unique_ptr<GrpcHealthCall> call_;  // the running check's, for type grpc
  std::string authority_;                 // type grpc: the call's :authority
  std::string service_;                   // type grpc: the service asked about
  core::Timer timer_{*this};  // the check's timeout, or "now" to report a failure from start()
  Phase phase_ = Phase::idle;
  config::HealthCheckType type_ = config::HealthCheckType::http;
  config::ProxyProtocolVersion proxy_header_ = config::ProxyProtocolVersion::none;
  uint16_t status_min_ = 0;
  uint16_t status_max_ = 0;
  // A failure found within start(), reported by the timer: "<what>: <strerror(error)>" when
  // error is set, else "<what>: <why>". The text is formatted when reported.
  std::string_view failing_what_;
  std::string_view failing_why_;
  int failing_error_ = 0;

  size_t request_bytes_ = 0;
  size_t request_sent_ = 0;
  size_t response_bytes_ = 0;
  http::ResponseHeadParser parser_;
  http::ResponseHead head_;
  char detail_[160] = {};
  char request_[kRequestBytes];
  char response_[kHeadBytes];
};

}  // namespace ballast::health
