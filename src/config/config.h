#pragma once
// ballast's configuration as plain, validated data. The loader (loader.h) turns one YAML file
// into a Config; nothing else reads YAML. Every default lives here, next to its field, and is
// documented in docs/config.md.
//
// Both file shapes become this one model: the short shape (`load_balancer:`) is one listener
// named "default" routing everything to one cluster named "default".
//
// Threading: built once at start-up or reload on the main thread, then shared read-only
// (std::shared_ptr<const Config>) by the workers of that generation.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "balance/algorithm.h"
#include "config/file_ref.h"
#include "core/address_range.h"
#include "http/header_rules.h"

namespace ballast::config {

struct Endpoint {
  std::string host;  // an IPv4/IPv6 literal or a name resolved at start-up
  uint16_t port = 0;
};

enum class ListenerMode : uint8_t { http, tcp };

// Weights are relative; a larger range buys nothing and leaves less headroom in the policies'
// arithmetic (weight x in-flight requests, ring points per weight).
inline constexpr uint32_t kMaxWeight = 1'000'000;

// Limits on every count that sizes memory or a loop (docs/config.md, "Limits"). A file beyond
// one is refused with FILE:LINE:COL like any other mistake, so that what passes --check can
// always be built: a reload never asks a worker for memory it cannot have. Each is far above
// any fleet we know of, and low enough that the product of them stays buildable.
// More worker threads than this is a typo, not a machine.
inline constexpr uint32_t kMaxWorkers = 1'024;
// Every listener is one socket per worker (SO_REUSEPORT).
inline constexpr size_t kMaxListeners = 256;
// Routes are matched in order on every request.
inline constexpr size_t kMaxRoutesPerListener = 1'000;
// Each cluster has per-worker pickers, pools and limits.
inline constexpr size_t kMaxClusters = 1'000;
// Each server has per-worker state (pool, breaker, ring points, Maglev slots: 100 per server).
inline constexpr size_t kMaxServersPerCluster = 10'000;
inline constexpr size_t kMaxServersInAll = 100'000;
// Each worker's pool reserves room for this many idle connections per server, and each is a
// file descriptor.
inline constexpr uint32_t kMaxIdlePerServer = 1'024;
// Choosing the serving region walks every server once per region.
inline constexpr size_t kMaxFailoverRegions = 63;
// The health probe writes its request (path and Host) into a fixed 2 KiB buffer.
inline constexpr size_t kMaxHealthCheckPathBytes = 1'024;
// A count window keeps one outcome per call, per server and worker.
inline constexpr uint64_t kMaxCountWindowCalls = 100'000;

// How a server given by name becomes addresses (docs/fleet.md "DNS"): `first`, one server at the
// name's first address; `all`, a server per address; `srv`, the name's SRV records give hosts,
// ports and weights. Re-resolved in the background as the answers' TTLs run out.
enum class ResolveMode : uint8_t { first, all, srv };

struct ServerConfig {
  std::string host;
  uint16_t port = 0;             // 0 only with resolve: srv (the records give the ports)
  uint32_t weight = 1;           // 1 to 1,000,000 (kMaxWeight)
  uint32_t max_connections = 0;  // across all workers; 0 = unlimited
  bool backup = false;           // only when no primary server is eligible
  std::string region;            // empty = the cluster's primary region
  ResolveMode resolve = ResolveMode::first;  // for a host given by name
  // Filled by discovery: the IP literal the host resolved to (empty: resolved when loaded), and
  // the name a discovered address came from, which TLS sends and verifies (empty: the host).
  std::string address;
  std::string tls_name;

  const std::string& sni() const noexcept { return tls_name.empty() ? host : tls_name; }

  // "host:port", with an IPv6 host in brackets ("[::1]:8080") so that the port stays apart.
  std::string name() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    std::string name = ipv6 ? "[" : "";
    name.append(host).append(ipv6 ? "]:" : ":").append(std::to_string(port));
    return name;
  }

  bool operator==(const ServerConfig&) const = default;
};

enum class HealthCheckType : uint8_t { http, tcp, grpc };

struct HealthCheckConfig {
  bool enabled = false;  // true when the block is present, unless it says `enabled: false`
  HealthCheckType type = HealthCheckType::http;
  std::string path = "/health";
  uint16_t expected_status_min = 200;  // `expected_status: 200-399` or a single code
  uint16_t expected_status_max = 399;
  std::string service;  // type grpc: the grpc.health.v1 service name ("" = the whole server)
  uint64_t interval_ms = 30'000;
  uint64_t timeout_ms = 5'000;
  uint32_t healthy_threshold = 2;
  uint32_t unhealthy_threshold = 3;
  uint64_t jitter_ms = 0;
  uint64_t slow_start_ms = 0;  // 0 = a returning server takes its full weight at once
  bool start_healthy = false;  // a new server is "unknown" (not eligible) until its first check

  bool operator==(const HealthCheckConfig&) const = default;
};

// Passive health: ejection of servers failing real traffic (Envoy's outlier detection).
struct OutlierDetectionConfig {
  bool enabled = false;  // true when the block is present, unless it says `enabled: false`
  uint32_t consecutive_failures = 5;
  bool on_5xx = false;
  uint64_t base_ejection_time_ms = 30'000;
  uint64_t max_ejection_time_ms = 300'000;
  uint32_t max_ejection_percent = 10;

  bool operator==(const OutlierDetectionConfig&) const = default;
};

enum class BreakerMode : uint8_t { consecutive, rate, predictive };
enum class WindowType : uint8_t { count, time };

inline constexpr uint32_t kDefaultFailureRatePercent = 50;
// half_open_requests and success_threshold share the breaker's one atomic state word (20 bits).
inline constexpr uint32_t kMaxHalfOpenCount = (1u << 20) - 1;
inline constexpr uint64_t kDefaultCountWindowCalls = 100;

struct CircuitBreakerConfig {
  bool enabled = false;  // true when a circuit_breaker block applies to the cluster, unless the
                         // last one to say so says `enabled: false`
  // Unless `mode:` is given: `rate` when the block has window_size, window_type or
  // min_requests, else `consecutive`.
  BreakerMode mode = BreakerMode::consecutive;
  uint32_t failure_threshold = 5;  // consecutive: failures in a row; rate/predictive: percent,
                                   // kDefaultFailureRatePercent unless given
  uint64_t timeout_ms = 30'000;    // OPEN -> HALF_OPEN
  uint32_t half_open_requests = 3;
  uint32_t success_threshold = 3;
  WindowType window_type = WindowType::time;
  uint64_t window_size = 10'000;  // ms for a time window; calls for a count window, where the
                                  // default is kDefaultCountWindowCalls
  uint32_t min_requests = 20;
  uint32_t slow_call_rate_threshold = 100;  // percent; 100 = slow calls alone never open it
  uint64_t slow_call_duration_ms = 60'000;
  double prediction_threshold = 0.7;
  // Cluster limits (Envoy's): overflow gets an immediate 503. 0 = unlimited.
  uint32_t max_pending_requests = 0;
  uint32_t max_requests = 0;
  uint32_t max_retries = 0;

  bool operator==(const CircuitBreakerConfig&) const = default;
};

enum class RetryOn : uint8_t { connect_failure = 1, timeout = 2, server_error = 4 };

struct RetryConfig {
  uint32_t attempts = 1;  // tries per request including the first; 1 = no retry
  uint8_t on = static_cast<uint8_t>(RetryOn::connect_failure);  // bitmask of RetryOn
  uint64_t per_try_timeout_ms = 0;                              // 0 = the server (response) timeout
  uint32_t budget_percent = 20;        // retries in flight <= this share of active requests...
  uint32_t budget_min_concurrent = 3;  // ...but this many are always allowed
  // RFC 9110 §9.2.2: a request that is not idempotent (POST, PATCH, any unknown method) is never
  // sent a second time once a byte of it reached a server, unless this is set or the request
  // carries Idempotency-Key. A connect failure is retried for every method.
  bool non_idempotent = false;
};

// The client-side deadlines are what keep a slow or idle client from holding a connection for
// as long as it likes: the head has a total deadline (not an idle timer a trickle re-arms), and
// each wait on the client has a timer of its own, apart from the server's, so a client that
// stops reading never counts against a server. Client-side keys apply from the top-level block
// (in the short shape, `load_balancer.timeouts`).
struct TimeoutsConfig {
  uint64_t connect_ms = 5'000;
  uint64_t client_ms = 60'000;         // the default of client_body, client_send and keepalive
  uint64_t server_ms = 60'000;         // waiting for the server's response (and between its bytes)
  uint64_t client_header_ms = 10'000;  // from a request's first byte to the end of its head
  uint64_t client_body_ms = 0;         // longest wait for more request body; 0 = client_ms
  uint64_t client_send_ms = 0;         // longest the client may take no bytes; 0 = client_ms
  uint64_t keepalive_ms = 0;           // idle between requests; 0 = client_ms
  uint64_t tunnel_ms = 3'600'000;      // an upgraded connection (WebSocket) idle in both ways

  uint64_t client_body() const noexcept { return client_body_ms != 0 ? client_body_ms : client_ms; }
  uint64_t client_send() const noexcept { return client_send_ms != 0 ? client_send_ms : client_ms; }
  uint64_t keepalive() const noexcept { return keepalive_ms != 0 ? keepalive_ms : client_ms; }
};

struct PoolConfig {
  uint32_t idle_per_server = 32;  // idle keep-alive connections kept per server per worker
  uint64_t idle_timeout_ms = 60'000;
};

enum class AffinityMethod : uint8_t { cookie, ip, header };

struct SessionAffinityConfig {
  bool enabled = false;  // true when the block is present, unless it says `enabled: false`
  AffinityMethod method = AffinityMethod::cookie;
  std::string cookie_name = "ballast_server";
  std::string header_name;
};

enum class HashOn : uint8_t { client_ip, header, cookie, path };

struct HashKeyConfig {
  HashOn on = HashOn::client_ip;
  std::string name;  // header or cookie name
};

struct RegionsConfig {
  std::string primary;
  std::vector<std::string> failover;
  double min_healthy_fraction = 0.5;  // the primary serves while this share is eligible
};

struct TlsCertificateConfig {
  FileRef cert;  // PEM: the certificate, then its chain
  FileRef key;   // PEM private key (RSA or EC)
};

enum class TlsVersion : uint8_t { v1_2, v1_3 };
enum class ClientCertificateMode : uint8_t { off, optional, required };

// TLS from ballast to a cluster's servers (`upstream_tls:`); off unless the block is present.
struct UpstreamTlsConfig {
  bool enabled = false;
  std::string where;  // the block's place, for errors found when its context is built
  // SNI and the name the server's certificate must carry; empty = each server's host when it is
  // a name (a server given by IP address gets no SNI, and its certificate must name the address).
  std::string server_name;
  bool verify = true;  // false: any certificate is accepted (a test bed, never production)
  FileRef ca;          // the CAs the servers' certificates chain to; empty path: the system store
  TlsCertificateConfig certificate;  // presented when a server asks; empty paths: none
  TlsVersion min_version = TlsVersion::v1_2;
  TlsVersion max_version = TlsVersion::v1_3;
  std::string ciphers;        // TLS 1.2 list; empty = kDefaultTlsCiphers
  std::string ciphersuites;   // TLS 1.3 suites; empty = OpenSSL's default three
  bool session_reuse = true;  // resume each server's last session on a new connection
  bool offer_h2 = false;      // ALPN h2 (set from the cluster's `protocol: h2`, not a key)
};

// What a cluster's servers speak (docs/config.md "HTTP/2 to servers"): HTTP/1.1 with pooled
// keep-alive connections, or HTTP/2 over TLS (ALPN h2) or in clear by prior knowledge (h2c),
// many requests multiplexed on each connection.
enum class UpstreamProtocol : uint8_t { http1, h2, h2c };

struct Http2UpstreamConfig {
  uint32_t max_concurrent_streams = 100;  // per connection; another opens when all are full
};

struct GrpcConfig {
  // The grpc-status codes (0-16) that count as the server's failure, a bit per code; by default
  // UNAVAILABLE (14) alone: the others are the application's answers.
  uint32_t failure_codes = 1u << 14;
  bool is_failure(uint32_t code) const noexcept { return code < 32 && (failure_codes >> code) & 1; }
};

// A cluster's `discovery:` block: where its servers come from besides `servers:`.
struct DiscoveryConfig {
  std::string etcd_prefix;  // one key per server under it (docs/fleet.md); empty = none

  bool operator==(const DiscoveryConfig&) const = default;
};

enum class ProxyProtocolVersion : uint8_t { none, v1, v2 };

struct ClusterConfig {
  std::string name;
  UpstreamProtocol protocol = UpstreamProtocol::http1;
  Http2UpstreamConfig http2;
  GrpcConfig grpc;
  // Each connection to a server begins with a PROXY protocol header naming the client (HAProxy's
  // send-proxy / send-proxy-v2); health checks send one naming nobody (v1 UNKNOWN, v2 LOCAL).
  ProxyProtocolVersion send_proxy_protocol = ProxyProtocolVersion::none;
  balance::Algorithm algorithm = balance::Algorithm::round_robin;
  // From the file; once discovery runs, what it found (a name's addresses, an etcd prefix's
  // records). May then be empty.
  std::vector<ServerConfig> servers;
  DiscoveryConfig discovery;
  HashKeyConfig hash_key;
  HealthCheckConfig health_check;
  OutlierDetectionConfig outlier_detection;
  CircuitBreakerConfig circuit_breaker;
  RetryConfig retry;
  TimeoutsConfig timeouts;  // defaults from the top-level `timeouts:`
  PoolConfig pool;
  SessionAffinityConfig session_affinity;
  std::optional<RegionsConfig> regions;
  uint32_t panic_threshold = 0;  // percent; 0 = off
  UpstreamTlsConfig upstream_tls;

  // How long an attempt waits for its server's response, and between its bytes.
  uint64_t response_timeout_ms() const noexcept {
    return retry.per_try_timeout_ms != 0 ? retry.per_try_timeout_ms : timeouts.server_ms;
  }
};

// A request rate limit (docs/config.md "Rate limits"), on a listener or a route: GCRA with a
// burst, per key. A request without the key (no such header or cookie) is not counted.
enum class RateKeyKind : uint8_t { client_ip, header, cookie, route };

struct RateLimitConfig {
  bool enabled = false;  // true when the block is present
  uint64_t requests = 0;
  uint64_t period_ms = 1'000;
  uint64_t burst = 0;  // requests let through at once from rest; 0 = `requests` (a period's worth)
  RateKeyKind key = RateKeyKind::client_ip;
  std::string key_name;  // the header's or cookie's name (key: header:NAME, cookie:NAME)
  bool global = false;   // counts shared by the fleet through rate_limits.redis
  // Stable across instances (a fleet's counts meet under it in Redis): "LISTENER" for a
  // listener's limit, "LISTENER/ROUTE" for a route's.
  std::string name;
};

// Written with designated initializers ({.host = ..., .cluster = ...}): what is left out is empty.
// A route's `redirect:`: the client is answered with `status` and Location, nothing is proxied.
struct RedirectConfig {
  bool enabled = false;
  http::ValueTemplate location;
  uint16_t status = 302;
};

struct RouteConfig {
  std::string host{};         // empty = any host; exact match, case-insensitive, port ignored
  std::string path_prefix{};  // empty = any path
  // tcp listeners: the TLS ClientHello's server name, lowercase: exact, or "*.rest" for one
  // label more; empty = any connection, with or without a name.
  std::string sni{};
  std::string cluster{};  // empty for a redirect
  // http listeners (route_policy_reader.h): ${route}, the access log's "route"; the cluster's
  // name unless given ("redirect" for a redirect).
  std::string name{};
  http::HeaderRules request_headers{};
  http::HeaderRules response_headers{};
  std::string rewrite_prefix{};  // replaces path_prefix in the target sent on; empty = none
  RedirectConfig redirect{};
  RateLimitConfig rate_limit{};
  // Geographic routing: the cluster serving each region (geo.regions), in the route's order; a
  // client of no known region goes to `cluster` (docs/config.md "Geographic routing").
  std::vector<std::pair<std::string, std::string>> geo_clusters{};
};

// A listener's `tls:` block: TLS termination (docs/config.md "TLS").
struct TlsListenerConfig {
  bool enabled = false;  // true when the block is present
  // By SNI from each certificate's names; the first is the default (no SNI, or an unknown one).
  std::vector<TlsCertificateConfig> certificates;
  TlsVersion min_version = TlsVersion::v1_2;
  TlsVersion max_version = TlsVersion::v1_3;
  std::string ciphers;       // TLS 1.2 cipher list (OpenSSL syntax); empty = kDefaultTlsCiphers
  std::string ciphersuites;  // TLS 1.3 suites; empty = OpenSSL's default three
  std::vector<std::string> alpn = {"http/1.1"};  // in our order of preference
  uint64_t handshake_timeout_ms = 10'000;
  bool session_tickets = true;
  FileRef session_ticket_keys;  // empty path: generated in memory and rotated
  uint64_t session_ticket_rotation_ms = 3'600'000;
  uint32_t session_cache_size = 20'480;  // sessions; 0 = no server-side cache
  uint64_t session_timeout_ms = 300'000;
  ClientCertificateMode client_certificate = ClientCertificateMode::off;
  FileRef client_ca;  // the CAs a client certificate must chain to
};

// Mozilla's "intermediate" TLS 1.2 ciphers without DHE: forward secret, AEAD only.
inline constexpr std::string_view kDefaultTlsCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// A listener's `proxy_protocol:` block: the peers (proxies in front, such as HAProxy or a cloud
// load balancer) whose connections begin with a PROXY protocol header, v1 or v2, naming the
// client. From any other peer no header is read: its bytes are the client's own.
struct ProxyProtocolListenerConfig {
  std::vector<core::AddressRange> trusted;  // empty: the block is absent, nobody sends one

  bool trusts(const core::SocketAddress& peer) const noexcept {
    return std::any_of(trusted.begin(), trusted.end(), [&peer](const core::AddressRange& range) {
      return core::contains(range, peer);
    });
  }
};

struct ListenerConfig {
  std::string name;
  Endpoint listen{"0.0.0.0", 8080};  // the short shape's default; required in `listeners:`
  ListenerMode mode = ListenerMode::http;
  std::vector<RouteConfig> routes;  // first match wins; tcp listeners have exactly one
  uint32_t max_connections = 0;     // client connections at once; 0 = the process's limit only
  TlsListenerConfig tls;
  // Plain HTTP listener that answers every request with a redirect to https:// (301 for GET
  // and HEAD, 308 otherwise), at https_port (443: none written in the URL).
  bool redirect_to_https = false;
  uint16_t https_port = 443;
  // TRACE is forwarded (and answered at Max-Forwards: 0) instead of refused with 405.
  bool allow_trace = false;
  // Clear HTTP/2 by prior knowledge: a connection that opens with the HTTP/2 preface speaks it.
  bool h2c = false;
  ProxyProtocolListenerConfig proxy_protocol;
  RateLimitConfig rate_limit;  // every request of the listener, before its route's own
};

// More client connections than this is a typo: no process has that many descriptors.
inline constexpr uint32_t kMaxClientConnections = 10'000'000;

struct MetricsConfig {
  bool enabled = true;
  uint16_t port = 9090;
  std::string path = "/metrics";
};

enum class LogLevel : uint8_t { debug, info, warn, error };
enum class LogFormat : uint8_t { json, text };

struct LoggingConfig {
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::json;
  std::string output = "stdout";  // stdout, stderr or a file path
  bool access_log = true;
  double access_log_sample = 1.0;  // share of requests logged
};

struct MonitoringConfig {
  MetricsConfig metrics;
  LoggingConfig logging;
};

struct TracingConfig {
  bool enabled = false;  // true when the block is present, unless it says `enabled: false`
  double sample_rate = 0.01;
  std::string endpoint;               // OTLP/HTTP JSON collector URL
  bool from_jaeger_endpoint = false;  // endpoint was derived from `jaeger_endpoint`
};

// What ballast tells servers about the client (X-Forwarded-*, Forwarded, Via, X-Request-Id).
struct ForwardingConfig {
  // Peers whose X-Forwarded-*, Forwarded and X-Request-Id are kept and extended; from any other
  // peer they are replaced. Empty: nobody is trusted.
  std::vector<core::AddressRange> trusted_proxies;
  bool forwarded = false;  // also send RFC 7239 Forwarded
};

struct AdminConfig {
  Endpoint listen{"127.0.0.1", 9091};
  std::string token;  // empty = no token required for writes; required beyond loopback
  // Host values (name, or name:port) a write may name besides the listen address, localhost and
  // the loopback literals: the DNS-rebinding defence (admin/admin_host.h).
  std::vector<std::string> allowed_hosts;
};

// The top-level `resolver:` block: how servers given by name are looked up again (DNS).
struct ResolverConfig {
  std::vector<std::string> nameservers;  // "ip" or "ip:port"; empty = /etc/resolv.conf and hosts
  uint64_t timeout_ms = 2'000;           // per try
  uint32_t attempts = 2;
  // An answer is kept for its TTL, held within these bounds; a failed lookup keeps the last
  // answer and is tried again after ttl_min, doubling up to ttl_max.
  uint64_t ttl_min_ms = 1'000;
  uint64_t ttl_max_ms = 300'000;

  bool operator==(const ResolverConfig&) const = default;
};

// The top-level `etcd:` block: the store clusters with `discovery.etcd_prefix` read, and where
// the fleet's instances and fleet-wide admin actions are kept (docs/fleet.md).
struct EtcdConfig {
  std::vector<std::string> endpoints;  // "host:port" or "http://host:port"; empty = no etcd
  std::string fleet_prefix = "/ballast/";
  std::string instance;  // this instance's name in the fleet; empty = host name and admin port
  uint64_t timeout_ms = 2'000;     // per call
  uint64_t lease_ttl_ms = 10'000;  // this instance's registration lease

  bool enabled() const noexcept { return !endpoints.empty(); }
  bool operator==(const EtcdConfig&) const = default;
};

// The top-level `rate_limits:` block: the table every worker counts in, and the Redis a fleet
// shares global limits through (docs/config.md "Rate limits").
struct RedisConfig {
  bool enabled = false;  // true when the block is present
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  uint64_t sync_interval_ms = 100;  // how often counts are exchanged
  uint64_t timeout_ms = 1'000;      // an exchange not answered in this time: Redis is down
  std::string key_prefix = "ballast:rl:";

  bool operator==(const RedisConfig&) const = default;
};

struct RateLimitsConfig {
  uint64_t table_slots = uint64_t{1} << 21;  // 8 bytes each: 16 MiB
  RedisConfig redis;
};

// The top-level `geo:` block: where a client is, from its address (docs/config.md "Geographic
// routing"). Read in order: networks (longest prefix), then the database's country, continent,
// and coordinates (nearest region with a location).
struct GeoPoint {
  double latitude = 0;
  double longitude = 0;

  bool operator==(const GeoPoint&) const = default;
};

struct GeoRegionConfig {
  std::string name;
  std::optional<GeoPoint> location;
};

struct GeoNetworkConfig {
  core::AddressRange range;
  std::string region;
};

struct GeoConfig {
  bool enabled = false;  // true when the block is present
  FileRef database;      // a MaxMind DB (.mmdb: City or Country); empty path: none
  std::vector<GeoNetworkConfig> networks;
  std::vector<std::pair<std::string, std::string>> countries;   // ISO 3166 code, upper → region
  std::vector<std::pair<std::string, std::string>> continents;  // two-letter code → region
  std::vector<GeoRegionConfig> regions;
};

struct Config {
  std::string source;    // the file this came from, for messages
  uint32_t workers = 0;  // 0 = one per core
  uint64_t drain_timeout_ms = 30'000;
  // Client connections at once, over every listener (HAProxy's maxconn); 0 = derived from the
  // descriptor limit at start-up (proxy/connection_gate.h). Read at start-up.
  uint32_t max_connections = 0;
  uint32_t max_connections_per_client = 0;  // from one client address; 0 = unlimited
  // Reads and sends in clear on HTTP listeners made in batches through io_uring
  // (core/io_queue.h) where the kernel allows it. Read at start-up.
  bool io_uring = true;
  TimeoutsConfig timeouts;  // top-level `timeouts:`; the client-side keys apply to every listener
  ForwardingConfig forwarding;
  std::vector<ListenerConfig> listeners;
  std::vector<ClusterConfig> clusters;
  MonitoringConfig monitoring;
  TracingConfig tracing;
  AdminConfig admin;
  ResolverConfig resolver;
  EtcdConfig etcd;
  RateLimitsConfig rate_limits;
  GeoConfig geo;
  // Things that load but look wrong, each `FILE:LINE:COL: key: message`, for the caller to log.
  std::vector<std::string> warnings;
};

}  // namespace ballast::config
