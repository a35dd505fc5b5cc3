#pragma once
// One request's passage through ballast, apart from the protocol that carries it: the cluster it
// is routed to, the server each attempt goes to, whether a failed attempt is tried again, and
// what is counted and recorded when the request ends (counters, access log, spans).
//
// It does no I/O. The connection that carries the request — an HTTP/1 connection today
// (http_session.h), an HTTP/2 stream next — connects, writes and reads, and tells the exchange
// what happened; the exchange says what to do next. So every rule here is tested without a
// socket (tests/unit/proxy/exchange_test.cc).
//
// Per request:
//   begin(now) -> route(...) [no route: finish(404); over a rate limit: finish(429)]
//     -> admit() [refused: finish(503)]
//     -> start_attempt() -> the caller connects and sends
//        -> attempt_failed(): retry? -> start_attempt() again; else finish(502/504)
//        -> answered(status): retry on 5xx? -> as a failure; else the response streams
//     -> end_attempt(), finish(status)
//
// Attempts and retries (Envoy's and nginx's rules): a failed attempt is tried again on another
// server while `retry.attempts` allows, the failure kind is in `retry.on`, the request may be
// sent again, no body byte has been streamed, no response byte has reached the client, and the
// cluster's retry budget and max_retries have room. A request that is not idempotent (RFC 9110
// §9.2.2: POST, PATCH, any unknown method) may be sent again only while no byte of it has
// reached a server, unless retry.non_idempotent is set or it carries Idempotency-Key.
//
// Owns: the request's cluster (a view into the worker's generation), its attempt, the servers it
// has tried, its holdings against the cluster's limits and retry budget, its hash key, request
// id and trace. Threading: one worker's. A connection keeps one and reuses it for each request,
// so nothing here allocates.

#include <array>
#include <cstdint>
#include <string_view>

#include "balance/policy.h"
#include "edge/rate_limit_fields.h"
#include "edge/rate_policy.h"
#include "http/head.h"
#include "http/serializer.h"
#include "observe/trace_context.h"
#include "proxy/session.h"
#include "proxy/worker_cluster.h"
#include "proxy/worker_telemetry.h"

namespace ballast::proxy {

// How an attempt failed, as retry.on and the answer to the client see it.
enum class Failure : uint8_t { connect_failure, reset, timeout, server_error, bad_response };

std::string_view failure_name(Failure failure) noexcept;
AttemptEnd attempt_end_of(Failure failure) noexcept;

// RFC 9110 §9.2.2: the methods a client may repeat without changing what the request did.
bool is_idempotent(std::string_view method) noexcept;

// The client, as the exchange records and forwards it.
struct ClientInfo {
  std::string_view ip;   // its address as text; outlives the exchange (the connection's)
  bool trusted = false;  // forwarding.trusted_proxies holds it
  // On TLS, once the handshake is done: what was agreed (views the connection keeps).
  std::string_view tls_version, tls_cipher, sni;
  // The client's address and its connection's socket, for a PROXY protocol header to a server
  // (send_proxy_protocol); kept by the connection.
  const core::SocketAddress* address = nullptr;
  int fd = -1;
};

// What the client is to be told after a failure that is not retried.
struct FailureAnswer {
  uint16_t status;  // 502 or 504
  std::string_view reason;
};

class Exchange {
 public:
  static constexpr size_t kMaxRequestIdBytes = 64;  // kept from a trusted peer; nginx's is 32
  static constexpr size_t kHashKeyBytes = 256;

  Exchange(WorkerTelemetry& telemetry, ClientInfo client) noexcept
      : telemetry_(telemetry), client_(client) {}

  const ClientInfo& client() const noexcept { return client_; }

  // The connection's TLS handshake is done: its version, cipher and SNI go in every line.
  void client_secured(std::string_view version, std::string_view cipher,
                      std::string_view sni) noexcept {
    client_.tls_version = version;
    client_.tls_cipher = cipher;
    client_.sni = sni;
  }

  // A new request began at `now_ns`: nothing of the previous one's is counted again.
  void begin(uint64_t now_ns) noexcept;

  enum class Routed : uint8_t {
    none,      // no route matches: finish() it with the caller's 404
    redirect,  // the route answers with a redirect: redirect_location(), then finish()
    limited,   // a rate limit refused it: finish() it with a 429 and rate_limit_fields()
    cluster,
  };
  // Chooses the route for `request` (target already normalised) among `listener`'s, and its
  // cluster among `generation`'s. For a cluster, also takes what the rest of the request needs
  // from its head (views into it are not kept): the hash key, the affinity cookie's server, the
  // request id, the trace, whether it may be sent again.
  Routed route(WorkerGeneration& generation, const config::ListenerConfig& listener,
               const http::RequestHead& request) noexcept;
  const config::RouteConfig& route_config() const noexcept { return *route_; }
  // The request is answered with a redirect (counted for /metrics and /status).
  void count_redirect() noexcept {
    if (telemetry_.protocols != nullptr) {
      observe::ProtocolShard::count(telemetry_.protocols->redirects);
    }
  }
  // After Routed::limited: Retry-After and the RateLimit fields (edge/rate_limit_fields.h).
  std::span<const http::Header> rate_limit_fields() const noexcept { return rate_fields_.fields(); }

  // A redirect route's Location for `request`, written into `out` (reused: no allocation once
  // it has grown).
  void redirect_location(const http::RequestHead& request, std::string_view scheme,
                         std::string& out) const;
  // The route's request_headers and rewrite_prefix, for the head sent on.
  void edit_upstream_request(const http::RequestHead& request, std::string_view scheme,
                             http::ForwardContext& forward) const noexcept;
  // The route's response_headers for the response of the current attempt's server.
  http::HeadEdits response_edits(std::string_view scheme) const noexcept;

  // Takes the request's place in the cluster's max_requests and retry budget. False: the cluster
  // is at max_requests; finish() it with a 503.
  bool admit(uint64_t now_ns) noexcept;

  // Chooses and admits a server for the next attempt (a retry if one failed before); kNoServer
  // when none can take it, and then failure_answer() (after a failed attempt) or a 503 (none
  // tried) is the client's answer.
  balance::ServerIndex start_attempt(uint64_t now_ns) noexcept;
  // The next attempt takes `server` if it can (and no affinity cookie named another): the
  // server of the client's private connection (upstream_leg.h).
  void prefer_server(balance::ServerIndex server) noexcept { preferred_server_ = server; }
  // A new connection for the attempt holds one of the cluster's max_pending_requests until it
  // is established (connected()). False: the cluster is at that limit; cancel_attempt().
  bool hold_pending() noexcept;
  void connected() noexcept;
  // The attempt could not start for a limit of ours (max_pending_requests): it ends, cancelled.
  void cancel_attempt(uint64_t now_ns) noexcept;

  // Bytes of the request reached the current attempt's server: from now on it may be sent
  // again only if it is replayable.
  void request_reached_server(bool body_bytes) noexcept {
    reached_server_ = true;
    body_streamed_ |= body_bytes;
  }
  // The response's head went to the client: nothing may be retried now.
  void response_started() noexcept { response_started_ = true; }

  // Whether the current attempt may be tried again on a fresh connection to the same server
  // when its pooled connection turned out closed: only when a second copy can do no harm.
  bool may_send_again() const noexcept { return replayable_ || !reached_server_; }
  bool body_streamed() const noexcept { return body_streamed_; }

  // The current attempt failed. Ends it; true when a retry has been taken (call start_attempt()
  // next), false when the client is to get failure_answer().
  bool attempt_failed(Failure failure, uint64_t now_ns) noexcept;
  FailureAnswer failure_answer() const noexcept;
  // When start_attempt() found no server: the last failure's answer, or 503 if none was tried.
  FailureAnswer no_server_answer() const noexcept;
  // Logs (rate-limited per server) why the current attempt's server failed it.
  void log_attempt_failure(std::string_view message, std::string_view failure,
                           std::string_view detail, uint64_t now_ns) const noexcept;
  // A final response head with `status` arrived: whether it is to be retried, as a server_error
  // failure (attempt_failed() next); if not, answered() gives the verdict.
  bool retry_after_status(uint16_t status) noexcept;
  // The server's final response head arrived: the attempt's verdict.
  void answered(uint16_t status, uint64_t now_ns) noexcept;
  // A gRPC call's status arrived (its trailers, or a Trailers-Only head): the attempt's verdict,
  // a failure when the cluster's grpc.failure_codes hold `grpc_status`.
  void answered_grpc(uint16_t status, uint32_t grpc_status, uint64_t now_ns) noexcept;
  // The current attempt ended (its connection given back or closed by the caller).
  void end_attempt(AttemptEnd end, uint64_t now_ns) noexcept;

  // The method and target as sent upstream, for logs and spans; views the caller keeps valid
  // until finish(). Unset (empty) for a request refused before it was routed.
  void set_request_line(std::string_view method, std::string_view target) noexcept {
    method_ = method;
    target_ = target;
  }
  // The protocol the client speaks, for the access log and the metrics; kept across requests.
  void set_protocol(observe::ClientProtocol protocol) noexcept { protocol_ = protocol; }

  // The request's answer: `server` forwarded `status`, or ballast answered (server kNoServer).
  // Counts it once (counters, access log, request span) and gives back what the request held.
  struct Outcome {
    uint16_t status = 0;
    balance::ServerIndex server = balance::kNoServer;
    uint64_t bytes_received = 0;          // from the client: head and body
    uint64_t bytes_sent = 0;              // to the client
    bool request_body_cut_short = false;  // a server answered, but not all the body reached it
  };
  void finish(const Outcome& outcome, uint64_t now_ns) noexcept;
  // Whether the request has been counted (finish() ran) since begin().
  bool finished() const noexcept { return finished_; }

  WorkerCluster* cluster() const noexcept { return cluster_; }
  // The exchange is over and nothing of it (a leg, a timer) uses the cluster any more: an idle
  // connection must not keep a cluster that a discovery change replaced, with its servers.
  void release_cluster() noexcept {
    cluster_ = nullptr;
    routed_.reset();
  }
  const Attempt& attempt() const noexcept { return attempt_; }
  balance::ServerIndex server() const noexcept { return attempt_.server; }
  bool active() const noexcept { return holds_budget_; }
  uint32_t attempts_made() const noexcept { return attempts_made_; }
  bool is_retry() const noexcept { return attempt_is_retry_; }
  std::string_view request_id() const noexcept { return {request_id_.data(), request_id_length_}; }
  // The traceparent for the current attempt's request (its span as the parent); empty when the
  // worker does not trace. A retry's differs only in the span id, at kTraceparentSpanOffset.
  std::string_view traceparent() const noexcept;
  static constexpr size_t kTraceparentSpanOffset = 3 + observe::kTraceIdHexBytes + 1;
  // A Set-Cookie value to send with the response (cookie affinity to a server the client's
  // cookie did not name), or empty.
  std::string_view affinity_cookie() const noexcept;

 private:
  bool may_retry(Failure failure) const noexcept;
  bool take_retry(Failure failure) noexcept;
  void give_back_retry() noexcept;
  void release_request() noexcept;
  void set_hash_key(const http::RequestHead& request) noexcept;
  void set_affinity(const http::RequestHead& request) noexcept;
  void set_request_id(const http::RequestHead& request) noexcept;
  std::string_view policy_client_ip(const http::RequestHead& request) const noexcept;
  bool within_rate_limits(WorkerGeneration& generation, const config::ListenerConfig& listener,
                          const http::RequestHead& request) noexcept;
  edge::GeoDecision locate_client(const upstream::Generation& generation,
                                  const http::RequestHead& request) noexcept;
  size_t geo_cluster(WorkerGeneration& generation, size_t listener, size_t route,
                     const http::RequestHead& request, size_t fallback) noexcept;
  bool passes(const edge::RatePolicy& policy, const edge::CompiledLimit* limit,
              WorkerGeneration& generation, const http::RequestHead& request) noexcept;
  void begin_trace(const http::RequestHead& request) noexcept;
  void submit_attempt_span(AttemptEnd end, uint64_t now_ns) noexcept;
  void submit_request_span(const Outcome& outcome, uint64_t now_ns) noexcept;
  void log_access(const Outcome& outcome, uint64_t now_ns) noexcept;

  WorkerTelemetry& telemetry_;
  ClientInfo client_;

  WorkerCluster* cluster_ = nullptr;            // the current request's; null until it is routed
  const config::RouteConfig* route_ = nullptr;  // likewise; in the generation's configuration
  balance::ServerIndex preferred_server_ = balance::kNoServer;  // for the next attempt only
  // The cluster routed to, kept alive while this exchange may still use it (a discovery change
  // may replace it mid-request: worker_cluster.h), until release_cluster().
  std::shared_ptr<WorkerCluster> routed_;
  uint64_t started_ns_ = 0;
  bool finished_ = false;
  bool holds_budget_ = false;         // counts in the retry budget's active requests
  bool holds_request_limit_ = false;  // counts against the cluster's max_requests
  bool replayable_ = false;           // may be sent again once a byte of it reached a server
  bool reached_server_ = false;
  bool body_streamed_ = false;
  bool response_started_ = false;

  std::array<char, kHashKeyBytes> hash_key_{};
  size_t hash_key_length_ = 0;
  balance::ServerIndex affinity_server_ = balance::kNoServer;  // the cookie's server, if any
  const edge::CompiledLimit* refused_by_ = nullptr;  // the rate limit that refused the request
  // Geographic routing's decision, for the access log: the region served (-1: the route's own
  // cluster) and how the client's region was found; unset (none, not geo) for other routes.
  int32_t geo_region_ = -1;
  edge::GeoSource geo_by_ = edge::GeoSource::none;
  bool geo_routed_ = false;
  const edge::GeoLocator* geo_locator_ = nullptr;
  // Where the connection's own address was placed, by the locator of which generation (number): a
  // connection's address does not change, so its lookup is made once, not per request (a new
  // generation's locator, or an address from X-Forwarded-For, is looked up anew).
  uint64_t placed_in_ = 0;
  edge::GeoDecision placed_;
  edge::RateLimitFields rate_fields_;  // its 429's fields
  std::array<char, kMaxRequestIdBytes> request_id_{};
  size_t request_id_length_ = 0;
  std::string_view method_, target_;
  observe::ClientProtocol protocol_ = observe::ClientProtocol::http11;

  // Attempts.
  Attempt attempt_;
  balance::ExcludedServers excluded_;
  uint32_t attempts_made_ = 0;
  bool attempt_is_retry_ = false;
  bool retry_in_budget_ = false;  // the current retry counts in the worker's retry budget
  Failure last_failure_ = Failure::connect_failure;  // the one a retry is retrying
  int32_t grpc_status_ = -1;     // the last attempt's gRPC status, for the access log (-1: none)
  uint16_t attempt_status_ = 0;  // the status the attempt got (0: none)

  // Tracing, while the worker traces: the request's trace and its current attempt's span.
  observe::RequestTrace trace_;
  bool traced_ = false;  // trace_ is this request's
  observe::SpanId attempt_span_;
  std::array<char, observe::kTraceParentBytes> traceparent_{};
};

}  // namespace ballast::proxy
