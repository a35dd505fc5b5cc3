// Every kind of mistake the loader refuses, each with its whole message: where (FILE:LINE:COL,
// counted from 1), which key, and what is wrong.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config_error_of.h"

namespace ballast::config {
namespace {

struct ErrorCase {
  const char* name;
  std::string yaml;
  std::string message;  // the whole what(), with the source named "c.yaml"
};

// A cluster block that loads, to which a case adds one mistake.
const std::string kServers = "  servers:\n    - host: a\n      port: 80\n";

std::string short_shape(const std::string& extra) {
  return "load_balancer:\n" + kServers + extra;
}

using test_support::error_of;

class LoaderErrors : public testing::TestWithParam<ErrorCase> {};

TEST_P(LoaderErrors, SaysWhereWhichKeyAndWhat) {
  EXPECT_EQ(error_of(GetParam().yaml), GetParam().message);
}

const std::vector<ErrorCase> kDocumentCases = {
    {"Empty", "",
     "c.yaml:1:1: (top level): the file is empty; write load_balancer: (one cluster) "
     "or listeners: and clusters:"},
    {"OnlyAComment", "# nothing yet\n",
     "c.yaml:1:1: (top level): the file is empty; write load_balancer: (one cluster) or "
     "listeners: and clusters:"},
    {"ScalarAtTopLevel", "hello",
     "c.yaml:1:1: (top level): expected a map of settings, got \"hello\""},
    {"ListAtTopLevel", "- a\n", "c.yaml:1:1: (top level): expected a map of settings, got a list"},
    {"SyntaxError", "load_balancer:\n  servers: [\n",
     "c.yaml:3:1: (syntax): end of sequence flow not found; the flow sequence [ opened at 2:12 is "
     "never closed (the file ends at line 2)"},
    {"UnclosedFlowMapFarAbove",
     "load_balancer:\n  servers: [{host: a, port: 1},\n    {host: b, port: 2]\n  algorithm: x\n"
     "workers: 1\n",
     "c.yaml:3:22: (syntax): illegal flow end; the flow map { opened at 3:5 is never closed (the "
     "file ends at line 5)"},
    {"BadIndentation", "workers: 1\n  drain_timeout: 1s\n",
     "c.yaml:2:16: (syntax): illegal map value"},
    // yaml-cpp 0.7's LoadAll loops forever on these (jbeder/yaml-cpp#1040).
    {"StrayComma", ",", "c.yaml:1:1: (syntax): unexpected character"},
    {"StrayCommaAfterTheDocument", short_shape("") + ",\n",
     "c.yaml:5:1: (syntax): end of map not found"},
    {"TwoDocuments", short_shape("") + "---\nworkers: 1\n",
     "c.yaml:5:1: (top level): a configuration is one YAML document; remove the ---"},
    {"DeepNesting", std::string(5'000, '[') + std::string(5'000, ']'),
     "c.yaml:1:1: (syntax): nested too deeply"},
    {"NoShape", "workers: 2\n",
     "c.yaml:1:1: load_balancer: missing; write load_balancer: (one cluster) or listeners: and "
     "clusters:"},
    {"BothShapes", short_shape("") + "clusters: {}\n",
     "c.yaml:5:11: clusters: load_balancer: (one cluster) and listeners: with clusters: are two "
     "ways to write a configuration; use one"},
    {"ListenersWithoutClusters", "listeners: []\n",
     "c.yaml:1:1: clusters: missing; a map from each cluster's name to its settings"},
    {"UnknownTopLevelKey", "load_balancers:\n" + kServers,
     "c.yaml:1:1: load_balancers: unknown key (did you mean load_balancer?); allowed here: "
     "load_balancer, listeners, clusters, workers, drain_timeout, timeouts, admin, monitoring, "
     "circuit_breaker, tracing, forwarding, max_connections, max_connections_per_client, io_uring, "
     "resolver, etcd, rate_limits, geo"},
    {"DuplicateKey", short_shape("  algorithm: p2c\n  algorithm: random\n"),
     "c.yaml:6:3: load_balancer.algorithm: duplicate key; first at 5:3"},
    {"ExplicitTag", short_shape("  panic_threshold: !!int 5\n"),
     "c.yaml:5:20: load_balancer.panic_threshold: YAML tags (tag:yaml.org,2002:int) are not "
     "supported"},
    {"KeyThatIsAList", short_shape("  [a]: 1\n"),
     "c.yaml:5:3: load_balancer: a key must be plain text, not a list"},
};

const std::vector<ErrorCase> kTypeCases = {
    {"PortIsAMap", short_shape("  listen: {port: 80}\n"),
     "c.yaml:5:11: load_balancer.listen: expected a string, got a map"},
    {"PortIsQuoted", "load_balancer:\n  servers:\n    - host: a\n      port: \"80\"\n",
     "c.yaml:4:13: load_balancer.servers[0].port: expected an integer, got the string \"80\"; "
     "remove the quotes"},
    {"PortIsText", "load_balancer:\n  servers:\n    - host: a\n      port: http\n",
     "c.yaml:4:13: load_balancer.servers[0].port: expected an integer, got \"http\""},
    {"BoolIsYes", short_shape("  session_affinity:\n    enabled: yes\n"),
     "c.yaml:6:14: load_balancer.session_affinity.enabled: expected true or false, got \"yes\""},
    {"ServersIsAMap", "load_balancer:\n  servers: {host: a, port: 80}\n",
     "c.yaml:2:12: load_balancer.servers: expected a list, got a map"},
    {"BlockIsAScalar", short_shape("  health_check: on\n"),
     "c.yaml:5:17: load_balancer.health_check: expected a map of settings, got \"on\""},
    {"StringIsNull", short_shape("  health_check:\n    path:\n"),
     "c.yaml:6:5: load_balancer.health_check.path: expected a string, got null"},
    {"UnknownClusterKey", short_shape("  algoritm: p2c\n"),
     "c.yaml:5:3: load_balancer.algoritm: unknown key (did you mean algorithm?); allowed here: "
     "algorithm, servers, hash_on, health_check, outlier_detection, circuit_breaker, retry, "
     "timeouts, session_affinity, pool, regions, panic_threshold, upstream_tls, protocol, http2, "
     "grpc, discovery, send_proxy_protocol, listen, mode, max_connections, tls, "
     "redirect_to_https, https_port, allow_trace, h2c, proxy_protocol"},
    {"UnknownServerKey", "load_balancer:\n  servers:\n    - {host: a, port: 80, wieght: 2}\n",
     "c.yaml:3:27: load_balancer.servers[0].wieght: unknown key (did you mean weight?); allowed "
     "here: host, port, weight, max_connections, backup, region, resolve"},
    {"UnknownHealthCheckKey", short_shape("  health_check:\n    grace: 5s\n"),
     "c.yaml:6:5: load_balancer.health_check.grace: unknown key; allowed here: enabled, type, "
     "path, expected_status, service, interval, timeout, healthy_threshold, unhealthy_threshold, "
     "jitter, slow_start, start_healthy"},
    {"ServicesInAClustersOwnBreaker", short_shape("  circuit_breaker:\n    services: {}\n"),
     "c.yaml:6:5: load_balancer.circuit_breaker.services: unknown key; allowed here: enabled, "
     "mode, failure_threshold, timeout, half_open_requests, success_threshold, window_type, "
     "window_size, min_requests, slow_call_rate_threshold, slow_call_duration, "
     "prediction_threshold, max_pending_requests, max_requests, max_retries"},
};

const std::vector<ErrorCase> kRangeCases = {
    {"HalfOpenRequestsBeyondTheBreakersWord",
     "circuit_breaker: {half_open_requests: 1048576}\n" + short_shape(""),
     "c.yaml:1:39: circuit_breaker.half_open_requests: must be between 1 and 1048575, got "
     "1048576"},
    {"PortZero", "load_balancer:\n  servers:\n    - {host: a, port: 0}\n",
     "c.yaml:3:23: load_balancer.servers[0].port: must be between 1 and 65535, got 0"},
    {"PortTooLarge", "load_balancer:\n  servers:\n    - {host: a, port: 65536}\n",
     "c.yaml:3:23: load_balancer.servers[0].port: must be between 1 and 65535, got 65536"},
    {"PortNegative", "load_balancer:\n  servers:\n    - {host: a, port: -80}\n",
     "c.yaml:3:23: load_balancer.servers[0].port: must be between 1 and 65535, got -80"},
    {"HugeNumber", short_shape("  pool: {idle_per_server: 123456789012345678901234567890}\n"),
     "c.yaml:5:27: load_balancer.pool.idle_per_server: must be between 0 and 1024, got "
     "123456789012345678901234567890"},
    {"NegativeForUnsigned",
     "load_balancer:\n  servers:\n    - {host: a, port: 1, max_connections: -1}\n",
     "c.yaml:3:43: load_balancer.servers[0].max_connections: must be at least 0, got -1"},
    {"WeightZero", "load_balancer:\n  servers:\n    - {host: a, port: 80, weight: 0}\n",
     "c.yaml:3:35: load_balancer.servers[0].weight: must be between 1 and 1000000, got 0"},
    {"WeightNegative", "load_balancer:\n  servers:\n    - {host: a, port: 80, weight: -2}\n",
     "c.yaml:3:35: load_balancer.servers[0].weight: must be between 1 and 1000000, got -2"},
    {"PanicThresholdOver100", short_shape("  panic_threshold: 101\n"),
     "c.yaml:5:20: load_balancer.panic_threshold: must be between 0 and 100, got 101"},
    {"EjectionPercentOver100", short_shape("  outlier_detection: {max_ejection_percent: 150}\n"),
     "c.yaml:5:45: load_balancer.outlier_detection.max_ejection_percent: must be between 0 and "
     "100, got 150"},
    {"BreakerPercentOver100",
     short_shape("circuit_breaker:\n  mode: rate\n  failure_threshold: 150\n"),
     "c.yaml:7:22: circuit_breaker.failure_threshold: is a percentage in rate mode: must be "
     "between 1 and 100, got 150"},
    {"BreakerThresholdZero", short_shape("circuit_breaker:\n  failure_threshold: 0\n"),
     "c.yaml:6:22: circuit_breaker.failure_threshold: must be at least 1, got 0"},
    {"BudgetPercentOver100", short_shape("  retry: {budget_percent: 101}\n"),
     "c.yaml:5:27: load_balancer.retry.budget_percent: must be between 0 and 100, got 101"},
    {"TooManyAttempts", short_shape("  retry: {attempts: 9}\n"),
     "c.yaml:5:21: load_balancer.retry.attempts: must be between 1 and 8, got 9"},
    {"TooManyWorkers", short_shape("workers: 5000\n"),
     "c.yaml:5:10: workers: must be between 0 and 1024, got 5000"},
    {"TracingSampleRateOver1",
     short_shape("tracing:\n  sample_rate: 1.5\n  endpoint: http://127.0.0.1:4318/v1/traces\n"),
     "c.yaml:6:16: tracing.sample_rate: must be between 0 and 1, got 1.5"},
    {"TracingSampleRateNegative",
     short_shape("tracing:\n  sample_rate: -0.1\n  endpoint: http://127.0.0.1:4318/v1/traces\n"),
     "c.yaml:6:16: tracing.sample_rate: must be between 0 and 1, got -0.1"},
    {"TracingSampleRateNotANumber", short_shape("tracing:\n  sample_rate: .nan\n"),
     "c.yaml:6:16: tracing.sample_rate: expected a number, got \".nan\""},
    {"AccessLogSampleOver1", short_shape("monitoring:\n  logging: {access_log_sample: 2}\n"),
     "c.yaml:6:32: monitoring.logging.access_log_sample: must be between 0 and 1, got 2"},
    {"HealthyFractionOver1", short_shape("  regions: {primary: a, min_healthy_fraction: 1.1}\n"),
     "c.yaml:5:47: load_balancer.regions.min_healthy_fraction: must be between 0 and 1, got 1.1"},
};

const std::vector<ErrorCase> kValueCases = {
    {"HashOnBesideHashedAffinity",
     short_shape("  algorithm: consistent_hash\n  hash_on: path\n"
                 "  session_affinity: {method: ip}\n"),
     "c.yaml:7:21: load_balancer.session_affinity: ip and header affinity choose the hash key "
     "themselves; remove hash_on"},
    {"UnknownAlgorithm", short_shape("  algorithm: leastconn\n"),
     "c.yaml:5:14: load_balancer.algorithm: expected one of round_robin, weighted_round_robin, "
     "smooth_weighted_round_robin, least_connections, weighted_least_connections, random, p2c, "
     "adaptive, ip_hash, consistent_hash, maglev; got \"leastconn\""},
    {"UnknownLogLevel", short_shape("monitoring:\n  logging:\n    level: verbose\n"),
     "c.yaml:7:12: monitoring.logging.level: expected one of debug, info, warn, error; got "
     "\"verbose\""},
    {"BareNumberDuration", short_shape("  health_check:\n    interval: 30\n"),
     "c.yaml:6:15: load_balancer.health_check.interval: expected a duration such as 250ms, 5s, "
     "2m or 1h, got 30 (a bare number has no unit)"},
    {"JunkDuration", short_shape("drain_timeout: soon\n"),
     "c.yaml:5:16: drain_timeout: expected a duration such as 250ms, 5s, 2m or 1h, got \"soon\""},
    {"UnknownDurationUnit", short_shape("drain_timeout: 2d\n"),
     "c.yaml:5:16: drain_timeout: unknown unit in \"2d\"; expected a duration such as 250ms, 5s, "
     "2m or 1h"},
    {"DurationTooLong", short_shape("drain_timeout: 1000h\n"),
     "c.yaml:5:16: drain_timeout: 1000h is too long; the longest duration is 168h"},
    {"ZeroTimeout", short_shape("timeouts: {connect: 0s}\n"),
     "c.yaml:5:21: timeouts.connect: must be longer than 0"},
    {"HealthCheckTimeoutAboveInterval",
     short_shape("  health_check: {interval: 5s, timeout: 6s}\n"),
     "c.yaml:5:41: load_balancer.health_check.timeout: must be at most the interval (5s)"},
    {"HealthCheckIntervalBelowDefaultTimeout", short_shape("  health_check: {interval: 2s}\n"),
     "c.yaml:5:28: load_balancer.health_check.interval: must be at least the timeout (5s, the "
     "default); set timeout: too"},
    {"EjectionMaxBelowBase",
     short_shape("  outlier_detection: {base_ejection_time: 1m, max_ejection_time: 30s}\n"),
     "c.yaml:5:66: load_balancer.outlier_detection.max_ejection_time: must be at least "
     "base_ejection_time (1m)"},
    {"ExpectedStatusRange", short_shape("  health_check: {expected_status: 399-200}\n"),
     "c.yaml:5:35: load_balancer.health_check.expected_status: expected a status code or a range "
     "of them such as 200 or 200-399 (codes 100-599), got \"399-200\""},
    {"PathOnATcpCheck", short_shape("  health_check: {type: tcp, path: /health}\n"),
     "c.yaml:5:35: load_balancer.health_check.path: applies to http checks only; this check's "
     "type is tcp"},
    {"ExpectedStatusOnAGrpcCheck",
     short_shape("  health_check: {type: grpc, expected_status: 200}\n"),
     "c.yaml:5:47: load_balancer.health_check.expected_status: applies to http checks only; this "
     "check's type is grpc"},
    {"ServiceOnAnHttpCheck", short_shape("  health_check: {service: orders}\n"),
     "c.yaml:5:27: load_balancer.health_check.service: applies to grpc checks only"},
    {"PathWithALineBreak", short_shape("  health_check: {path: \"/a\\r\\nHost: x\"}\n"),
     "c.yaml:5:24: load_balancer.health_check.path: expected a path starting with / (visible "
     "ASCII, no spaces), got the string \"/a\\x0d\\x0aHost: x\""},
    {"PathWithASpace", short_shape("  health_check: {path: \"/a b\"}\n"),
     "c.yaml:5:24: load_balancer.health_check.path: expected a path starting with / (visible "
     "ASCII, no spaces), got the string \"/a b\""},
    {"CountWindowGivenADuration",
     short_shape("circuit_breaker:\n  window_type: count\n  window_size: 10s\n"),
     "c.yaml:7:16: circuit_breaker.window_size: a count window's size is a number of calls, such "
     "as 100"},
    {"TimeWindowGivenACount", short_shape("circuit_breaker:\n  window_size: 100\n"),
     "c.yaml:6:16: circuit_breaker.window_size: a time window's size is a duration such as 10s "
     "(for a number of calls, set window_type: count)"},
    {"RetryOnNothing", short_shape("  retry: {on: []}\n"),
     "c.yaml:5:15: load_balancer.retry.on: list at least one of connect_failure, timeout, 5xx"},
    {"RetryOnTwice", short_shape("  retry:\n    on: [5xx, timeout, 5xx]\n"),
     "c.yaml:6:24: load_balancer.retry.on[2]: listed twice"},
    {"RetryOnUnknown", short_shape("  retry:\n    on: [reset]\n"),
     "c.yaml:6:10: load_balancer.retry.on[0]: expected one of connect_failure, timeout, 5xx; got "
     "\"reset\""},
    {"HashOnJunk", short_shape("  algorithm: maglev\n  hash_on: header\n"),
     "c.yaml:6:12: load_balancer.hash_on: expected client_ip, path, header:NAME or cookie:NAME, "
     "got \"header\""},
    {"HashOnWithoutHashing", short_shape("  hash_on: path\n"),
     "c.yaml:5:12: load_balancer.hash_on: applies to the consistent_hash and maglev algorithms "
     "(ip_hash always hashes the client IP); this cluster's algorithm is round_robin"},
    {"HeaderAffinityWithoutHeader", short_shape("  session_affinity: {method: header}\n"),
     "c.yaml:5:3: load_balancer.session_affinity.header_name: missing; method: header needs the "
     "header to read"},
    {"CookieNameWithIpAffinity", short_shape("  session_affinity: {method: ip, cookie_name: s}\n"),
     "c.yaml:5:47: load_balancer.session_affinity.cookie_name: applies to method: cookie only"},
    {"BadHost", "load_balancer:\n  servers:\n    - {host: \"a b\", port: 80}\n",
     "c.yaml:3:14: load_balancer.servers[0].host: the string \"a b\" is not an IP address or "
     "host name"},
    {"TracingWithoutEndpoint", short_shape("tracing:\n  sample_rate: 0.5\n"),
     "c.yaml:5:1: tracing.endpoint: missing; the OTLP/HTTP collector's URL, such as "
     "http://127.0.0.1:4318/v1/traces"},
    {"TracingOverHttps", short_shape("tracing: {endpoint: \"https://x/v1/traces\"}\n"),
     "c.yaml:5:21: tracing.endpoint: expected an http:// URL of an OTLP/HTTP collector, got the "
     "string \"https://x/v1/traces\""},
    {"ListenWithoutBrackets", short_shape("  listen: \"::1:8080\"\n"),
     "c.yaml:5:11: load_balancer.listen: put an IPv6 address in brackets, as in [::1]:8080; got "
     "\"::1:8080\""},
    {"ListenWithoutPort", short_shape("  listen: 8080\n"),
     "c.yaml:5:11: load_balancer.listen: expected HOST:PORT, [IPv6]:PORT or :PORT, got \"8080\""},
};

const std::vector<ErrorCase> kServerCases = {
    {"NoServers", "load_balancer:\n  servers: []\n",
     "c.yaml:2:12: load_balancer.servers: a cluster needs at least one server"},
    {"ServersMissing", "load_balancer:\n  algorithm: p2c\n",
     "c.yaml:1:1: load_balancer.servers: missing; list the cluster's servers, each with host: and "
     "port:"},
    {"PortMissing", "load_balancer:\n  servers:\n    - host: a\n",
     "c.yaml:3:7: load_balancer.servers[0].port: missing; the server's port, 1-65535"},
    {"DuplicateServer",
     "load_balancer:\n  servers:\n    - {host: app.local, port: 80}\n    - {host: APP.local, port: "
     "80}\n",
     "c.yaml:4:7: load_balancer.servers[1]: duplicate server APP.local:80 (also "
     "load_balancer.servers[0])"},
    {"OnlyBackups", "load_balancer:\n  servers:\n    - {host: a, port: 80, backup: true}\n",
     "c.yaml:3:5: load_balancer.servers: every server is a backup; at least one must be a primary"},
    {"RegionWithoutRegions", "load_balancer:\n  servers:\n    - {host: a, port: 80, region: eu}\n",
     "c.yaml:3:35: load_balancer.servers[0].region: a server's region needs a regions: block in "
     "its cluster"},
    {"UnknownRegion",
     "load_balancer:\n  regions: {primary: eu, failover: [us]}\n  servers:\n"
     "    - {host: a, port: 80, region: asia}\n",
     "c.yaml:4:35: load_balancer.servers[0].region: region asia is neither the primary (eu) nor a "
     "failover region"},
    {"FailoverIsThePrimary", short_shape("  regions: {primary: eu, failover: [us, eu]}\n"),
     "c.yaml:5:41: load_balancer.regions.failover[1]: region eu is listed twice (or is the "
     "primary)"},
};

// The full shape, with one listener routing to cluster `api`, to which a case adds a mistake.
std::string full_shape(const std::string& listeners, const std::string& extra_clusters = "") {
  return "listeners:\n" + listeners + "clusters:\n  api:\n    servers: [{host: a, port: 80}]\n" +
         extra_clusters;
}

const std::string kWeb = "  - {name: web, listen: \":80\", routes: [{cluster: api}]}\n";

const std::vector<ErrorCase> kFullShapeCases = {
    {"RouteToUnknownCluster",
     full_shape("  - {name: web, listen: \":80\", routes: [{cluster: apl}]}\n"),
     "c.yaml:2:51: listeners[0].routes[0].cluster: no cluster named \"apl\""},
    {"DuplicateListenerName",
     full_shape(kWeb + "  - {name: web, listen: \":81\", routes: [{cluster: api}]}\n"),
     "c.yaml:3:12: listeners[1].name: listener name web is also used by listeners[0]"},
    {"DuplicateClusterName", full_shape(kWeb, "  api:\n    servers: [{host: b, port: 80}]\n"),
     "c.yaml:6:3: clusters.api: duplicate key; first at 4:3"},
    {"DuplicateListenAddress",
     full_shape(kWeb + "  - {name: web2, listen: \"10.0.0.1:80\", routes: [{cluster: api}]}\n"),
     "c.yaml:3:26: listeners[1].listen: 10.0.0.1:80 overlaps 0.0.0.0:80, already taken by "
     "listener web"},
    {"ListenerOnTheAdminAddress",
     "admin: {listen: \"127.0.0.1:8080\"}\n" +
         full_shape("  - {name: web, listen: \"127.0.0.1:8080\", routes: [{cluster: api}]}\n"),
     "c.yaml:3:25: listeners[0].listen: 127.0.0.1:8080 is already taken by admin.listen"},
    {"ListenerOnTheMetricsPort",
     full_shape("  - {name: web, listen: \"127.0.0.1:9090\", routes: [{cluster: api}]}\n"),
     "c.yaml:2:25: listeners[0].listen: 127.0.0.1:9090 overlaps 0.0.0.0:9090, already taken by "
     "monitoring.metrics.port"},
    {"MetricsOnTheAdminPort", "monitoring: {metrics: {port: 9091}}\n" + full_shape(kWeb),
     "c.yaml:1:30: monitoring.metrics.port: 0.0.0.0:9091 overlaps 127.0.0.1:9091, already taken "
     "by admin.listen"},
    {"NoClusters", "listeners: []\nclusters: {}\n",
     "c.yaml:2:11: clusters: define at least one cluster"},
    {"NoListeners", full_shape("  []\n"), "c.yaml:2:3: listeners: list at least one listener"},
    {"ClusterNameWithADot", full_shape(kWeb, "  api.v2:\n    servers: [{host: b, port: 80}]\n"),
     "c.yaml:6:3: clusters.api.v2: a cluster name is 1-64 letters, digits, '-' and '_'; got "
     "\"api.v2\""},
    {"ServiceForUnknownCluster",
     "circuit_breaker:\n  services:\n    apu: {timeout: 5s}\n" + full_shape(kWeb),
     "c.yaml:3:5: circuit_breaker.services.apu: no cluster named apu"},
    {"BreakerSetTwice",
     "circuit_breaker:\n  services:\n    api: {timeout: 5s}\n" + full_shape(kWeb) +
         "    circuit_breaker: {timeout: 9s}\n",
     "c.yaml:9:22: clusters.api.circuit_breaker: this cluster's breaker is also set at "
     "circuit_breaker.services.api (3:10); set it in one place"},
    {"TcpRouteOnHost",
     full_shape(
         "  - {name: db, listen: \":5432\", mode: tcp, routes: [{host: a, cluster: api}]}\n"),
     "c.yaml:2:60: listeners[0].routes[0].host: a tcp listener sees no requests: route on sni "
     "(the TLS server name)"},
    {"TcpRoutesAndCluster",
     full_shape(
         "  - {name: db, listen: \":5432\", mode: tcp, cluster: api, routes: [{cluster: api}]}\n"),
     "c.yaml:2:53: listeners[0].cluster: write either cluster: (every connection) or routes: (by "
     "sni), not both"},
    {"HttpRouteOnSni",
     full_shape("  - {name: web, listen: \":80\", routes: [{sni: a.test, cluster: api}]}\n"),
     "c.yaml:2:47: listeners[0].routes[0].sni: sni routes are for tcp listeners (TLS passed "
     "through); route on host here"},
    {"SniNotAName",
     full_shape(
         "  - {name: db, listen: \":5432\", mode: tcp, routes: [{sni: \"a b\", cluster: api}]}\n"),
     "c.yaml:2:59: listeners[0].routes[0].sni: expected a server name such as api.example.com or "
     "*.example.com, got the string \"a b\""},
    {"HttpListenerWithCluster", full_shape("  - {name: web, listen: \":80\", cluster: api}\n"),
     "c.yaml:2:41: listeners[0].cluster: an http listener routes with routes: [{cluster: NAME}]; "
     "cluster: is for mode: tcp"},
    {"TcpListenerToAnHttpOnlyCluster",
     full_shape("  - {name: db, listen: \":5432\", mode: tcp, cluster: api}\n") +
         "    retry: {on: [5xx]}\n",
     "c.yaml:2:53: listeners[0].cluster: cluster api retries on 5xx responses, which a tcp "
     "listener cannot see"},
    {"RouteAfterACatchAll",
     full_shape("  - name: web\n    listen: \":80\"\n    routes:\n      - cluster: api\n"
                "      - {path_prefix: /a, cluster: api}\n"),
     "c.yaml:6:9: listeners[0].routes[1]: can never match: listeners[0].routes[0] (no host, no "
     "path_prefix) matches first"},
    {"DuplicateRoute",
     full_shape(
         "  - name: web\n    listen: \":80\"\n    routes:\n"
         "      - {path_prefix: /a, cluster: api}\n      - {path_prefix: /a, cluster: api}\n"),
     "c.yaml:6:9: listeners[0].routes[1]: can never match: an earlier route has the same host and "
     "path_prefix"},
    {"RouteHostWithPort",
     full_shape("  - {name: web, listen: \":80\", routes: [{host: \"a.com:80\", cluster: api}]}\n"),
     "c.yaml:2:48: listeners[0].routes[0].host: expected a host name (without a port), got the "
     "string \"a.com:80\""},
};

std::string case_name(const testing::TestParamInfo<ErrorCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Document, LoaderErrors, testing::ValuesIn(kDocumentCases), case_name);
INSTANTIATE_TEST_SUITE_P(Types, LoaderErrors, testing::ValuesIn(kTypeCases), case_name);
INSTANTIATE_TEST_SUITE_P(Ranges, LoaderErrors, testing::ValuesIn(kRangeCases), case_name);
INSTANTIATE_TEST_SUITE_P(Values, LoaderErrors, testing::ValuesIn(kValueCases), case_name);
INSTANTIATE_TEST_SUITE_P(Servers, LoaderErrors, testing::ValuesIn(kServerCases), case_name);
INSTANTIATE_TEST_SUITE_P(FullShape, LoaderErrors, testing::ValuesIn(kFullShapeCases), case_name);

}  // namespace
}  // namespace ballast::config
