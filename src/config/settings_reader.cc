#include "config/settings_reader.h"

#include <array>
#include <optional>
#include <string_view>

#include "config/scalars.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 3> kAdminKeys = {"listen", "token", "allowed_hosts"};
// A list a person writes: the names the admin API is reached by.
constexpr size_t kMaxAllowedHosts = 64;
constexpr std::array<std::string_view, 3> kMonitoringKeys = {"metrics", "logging", "tracing"};
constexpr std::array<std::string_view, 3> kMetricsKeys = {"enabled", "port", "path"};
constexpr std::array<std::string_view, 5> kLoggingKeys = {
    "level", "format", "output", "access_log", "access_log_sample",
};
constexpr std::array<std::string_view, 4> kTracingKeys = {"enabled", "sample_rate", "endpoint",
                                                          "jaeger_endpoint"};

// Jaeger has taken OTLP over HTTP since 1.35, on the collector's port 4318 at /v1/traces. A
// `jaeger_endpoint` (the Thrift collector's URL, http://jaeger:14268/api/traces in the design
// document) names the host; the spans go to that host's OTLP port.
constexpr std::string_view kJaegerOtlpPortAndPath = ":4318/v1/traces";

constexpr std::array<Named<LogLevel>, 4> kLogLevels = {{
    {"debug", LogLevel::debug},
    {"info", LogLevel::info},
    {"warn", LogLevel::warn},
    {"error", LogLevel::error},
}};

constexpr std::array<Named<LogFormat>, 2> kLogFormats = {{
    {"json", LogFormat::json},
    {"text", LogFormat::text},
}};

// The collector is spoken to in plain HTTP: ballast has no TLS client.
constexpr std::string_view kTracingScheme = "http://";

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

MetricsConfig read_metrics(const Node& node, AddressBook& addresses) {
  const MapView block = node.as_map(kMetricsKeys);
  MetricsConfig metrics;
  if (const std::optional<Node> enabled = block.find("enabled")) {
    metrics.enabled = enabled->as_bool();
  }
  const Node port = block.get("port");
  if (!port.is_null()) {
    metrics.port = port.as_uint<uint16_t>(1);
  }
  if (metrics.enabled) {
    addresses.claim(Endpoint{"0.0.0.0", metrics.port}, "monitoring.metrics.port", port);
  }
  if (const std::optional<Node> path = block.find("path")) {
    metrics.path = path->as_string();
    if (!is_request_path(metrics.path)) {
      path->fail("expected a path starting with / (visible ASCII, no spaces), got " +
                 path->describe());
    }
  }
  return metrics;
}

LoggingConfig read_logging(const Node& node) {
  const MapView block = node.as_map(kLoggingKeys);
  LoggingConfig logging;
  if (const std::optional<Node> level = block.find("level")) {
    logging.level = level->as_enum(kLogLevels, /*ignore_case=*/true);
  }
  if (const std::optional<Node> format = block.find("format")) {
    logging.format = format->as_enum(kLogFormats);
  }
  if (const std::optional<Node> output = block.find("output")) {
    logging.output = output->as_string();
    if (logging.output.empty() || logging.output.find('\0') != std::string::npos) {
      output->fail("expected stdout, stderr or a file path");
    }
  }
  if (const std::optional<Node> access_log = block.find("access_log")) {
    logging.access_log = access_log->as_bool();
  }
  if (const std::optional<Node> sample = block.find("access_log_sample")) {
    logging.access_log_sample = sample->as_double(0, 1);
  }
  return logging;
}

}  // namespace

AdminConfig read_admin(const Node& node, AddressBook& addresses) {
  const MapView block = node.as_map(kAdminKeys);
  AdminConfig admin;
  const Node listen = block.get("listen");
  if (!listen.is_null()) {
    const Parsed<Endpoint> endpoint = parse_endpoint(listen.as_string());
    if (!endpoint.value) {
      listen.fail(endpoint.error);
    }
    admin.listen = *endpoint.value;
  }
  addresses.claim(admin.listen, "admin.listen", listen);
  if (const std::optional<Node> token = block.find("token")) {
    admin.token = token->as_string();
    if (!is_visible_ascii(admin.token)) {
      token->fail("expected visible ASCII characters with no spaces");
    }
  }
  // Beyond loopback, anyone who can reach the port could drain or disable every server.
  if (admin.token.empty() && !is_loopback(admin.listen.host)) {
    const std::string why = "the admin API would accept changes from anyone who can reach " +
                            format_endpoint(admin.listen) +
                            "; set admin.token, or listen on 127.0.0.1";
    listen.fail(why);
  }
  if (const std::optional<Node> hosts = block.find("allowed_hosts")) {
    const std::vector<Node> entries = hosts->as_list();
    if (entries.size() > kMaxAllowedHosts) {
      hosts->fail("at most " + std::to_string(kMaxAllowedHosts) + " entries");
    }
    for (const Node& entry : entries) {
      std::string host = entry.as_string();
      if (host.empty() || !is_visible_ascii(host)) {
        entry.fail("expected a host name, or name:port, got " + entry.describe());
      }
      admin.allowed_hosts.push_back(std::move(host));
    }
  }
  return admin;
}

MonitoringConfig read_monitoring(const Node& node, AddressBook& addresses) {
  const MapView block = node.as_map(kMonitoringKeys);
  MonitoringConfig monitoring;
  monitoring.metrics = read_metrics(block.get("metrics"), addresses);
  if (const std::optional<Node> logging = block.find("logging")) {
    monitoring.logging = read_logging(*logging);
  }
  return monitoring;
}

std::optional<Node> nested_tracing(const Node& monitoring) {
  if (monitoring.is_null()) {
    return std::nullopt;
  }
  return monitoring.as_map(kMonitoringKeys).find("tracing");
}

// http://HOST[:PORT][/PATH] -> http://HOST:4318/v1/traces; empty when it is no http:// URL.
std::string jaeger_otlp_url(std::string_view jaeger_endpoint) {
  if (!jaeger_endpoint.starts_with(kTracingScheme)) {
    return {};
  }
  const std::string_view rest = jaeger_endpoint.substr(kTracingScheme.size());
  const std::string_view authority = rest.substr(0, rest.find('/'));
  const size_t bracket = authority.find(']');
  const size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  const std::string_view host = has_port ? authority.substr(0, colon) : authority;
  if (host.empty()) {
    return {};
  }
  return std::string(kTracingScheme).append(host).append(kJaegerOtlpPortAndPath);
}

TracingConfig read_tracing(const Node& node) {
  const MapView block = node.as_map(kTracingKeys);
  TracingConfig tracing;
  const std::optional<Node> enabled = block.find("enabled");
  tracing.enabled = enabled ? enabled->as_bool() : true;
  if (const std::optional<Node> rate = block.find("sample_rate")) {
    tracing.sample_rate = rate->as_double(0, 1);
  }
  std::optional<Node> endpoint = block.find("endpoint");
  if (const std::optional<Node> jaeger = block.find("jaeger_endpoint")) {
    if (endpoint) {
      jaeger->fail("endpoint is set too; give one of the two");
    }
    tracing.endpoint = jaeger_otlp_url(jaeger->as_string());
    if (tracing.endpoint.empty() || !is_visible_ascii(tracing.endpoint)) {
      jaeger->fail("expected the http:// URL of a Jaeger collector, got " + jaeger->describe());
    }
    tracing.from_jaeger_endpoint = true;
  } else if (endpoint) {
    tracing.endpoint = endpoint->as_string();
    const bool url = tracing.endpoint.starts_with(kTracingScheme) &&
                     tracing.endpoint.size() > kTracingScheme.size() &&
                     is_visible_ascii(tracing.endpoint);
    if (!url) {
      endpoint->fail("expected an http:// URL of an OTLP/HTTP collector, got " +
                     endpoint->describe());
    }
  } else if (tracing.enabled) {
    block.require("endpoint",
                  "the OTLP/HTTP collector's URL, such as http://127.0.0.1:4318/v1/traces");
  }
  return tracing;
}

}  // namespace ballast::config
