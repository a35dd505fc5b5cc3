#include "config/health_reader.h"

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "config/scalars.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 12> kHealthCheckKeys = {
    "enabled",
    "type",
    "path",
    "expected_status",
    "service",
    "interval",
    "timeout",
    "healthy_threshold",
    "unhealthy_threshold",
    "jitter",
    "slow_start",
    "start_healthy",
};

constexpr std::array<Named<HealthCheckType>, 3> kHealthCheckTypes = {{
    {"http", HealthCheckType::http},
    {"tcp", HealthCheckType::tcp},
    {"grpc", HealthCheckType::grpc},
}};

// A grpc.health.v1 service name: what the probe's request carries, bounded by its buffer.
constexpr size_t kMaxGrpcServiceBytes = 1024;

constexpr std::array<std::string_view, 6> kOutlierDetectionKeys = {
    "enabled",           "consecutive_failures", "on_5xx", "base_ejection_time",
    "max_ejection_time", "max_ejection_percent",
};

}  // namespace

HealthCheckConfig read_health_check(const Node& node) {
  const MapView block = node.as_map(kHealthCheckKeys);
  HealthCheckConfig check;
  const std::optional<Node> enabled = block.find("enabled");
  check.enabled = enabled ? enabled->as_bool() : true;
  if (const std::optional<Node> type = block.find("type")) {
    check.type = type->as_enum(kHealthCheckTypes);
  }
  const std::optional<Node> path = block.find("path");
  const std::optional<Node> expected_status = block.find("expected_status");
  for (const std::optional<Node>& http_only : {path, expected_status}) {
    if (http_only && check.type != HealthCheckType::http) {
      http_only->fail(std::string("applies to http checks only; this check's type is ") +
                      (check.type == HealthCheckType::tcp ? "tcp" : "grpc"));
    }
  }
  if (const std::optional<Node> service = block.find("service")) {
    if (check.type != HealthCheckType::grpc) {
      service->fail("applies to grpc checks only");
    }
    check.service = service->as_string();
    if (check.service.size() > kMaxGrpcServiceBytes) {
      service->fail("at most " + std::to_string(kMaxGrpcServiceBytes) + " bytes, got " +
                    std::to_string(check.service.size()));
    }
  }
  if (path) {
    check.path = path->as_string();
    if (!is_request_path(check.path)) {
      path->fail("expected a path starting with / (visible ASCII, no spaces), got " +
                 path->describe());
    }
    if (check.path.size() > kMaxHealthCheckPathBytes) {
      path->fail("at most " + std::to_string(kMaxHealthCheckPathBytes) +
                 " bytes (the probe's request buffer), got " + std::to_string(check.path.size()));
    }
  }
  if (expected_status) {
    const Parsed<StatusRange> range = parse_status_range(expected_status->as_string());
    if (!range.value) {
      expected_status->fail(range.error);
    }
    check.expected_status_min = range.value->min;
    check.expected_status_max = range.value->max;
  }
  const std::optional<Node> interval = block.find("interval");
  if (interval) {
    check.interval_ms = interval->as_positive_duration_ms();
  }
  const std::optional<Node> timeout = block.find("timeout");
  if (timeout) {
    check.timeout_ms = timeout->as_positive_duration_ms();
  }
  // The next check is scheduled when one ends, so checks never overlap; but a timeout longer
  // than the interval would make the interval a promise the checker cannot keep. Equal is fine
  // (the design document's own example: interval 200ms, timeout 200ms).
  if (check.timeout_ms > check.interval_ms) {
    if (timeout) {
      timeout->fail("must be at most the interval (" + format_duration(check.interval_ms) + ")");
    }
    interval->fail("must be at least the timeout (" + format_duration(check.timeout_ms) +
                   ", the default); set timeout: too");
  }
  if (const std::optional<Node> healthy = block.find("healthy_threshold")) {
    check.healthy_threshold = healthy->as_uint<uint32_t>(1);
  }
  if (const std::optional<Node> unhealthy = block.find("unhealthy_threshold")) {
    check.unhealthy_threshold = unhealthy->as_uint<uint32_t>(1);
  }
  if (const std::optional<Node> jitter = block.find("jitter")) {
    check.jitter_ms = jitter->as_duration_ms();
  }
  if (const std::optional<Node> slow_start = block.find("slow_start")) {
    check.slow_start_ms = slow_start->as_duration_ms();
  }
  if (const std::optional<Node> start_healthy = block.find("start_healthy")) {
    check.start_healthy = start_healthy->as_bool();
  }
  return check;
}

OutlierDetectionConfig read_outlier_detection(const Node& node) {
  const MapView block = node.as_map(kOutlierDetectionKeys);
  OutlierDetectionConfig detection;
  const std::optional<Node> enabled = block.find("enabled");
  detection.enabled = enabled ? enabled->as_bool() : true;
  if (const std::optional<Node> failures = block.find("consecutive_failures")) {
    detection.consecutive_failures = failures->as_uint<uint32_t>(1);
  }
  if (const std::optional<Node> on_5xx = block.find("on_5xx")) {
    detection.on_5xx = on_5xx->as_bool();
  }
  const std::optional<Node> base = block.find("base_ejection_time");
  if (base) {
    detection.base_ejection_time_ms = base->as_positive_duration_ms();
  }
  const std::optional<Node> max = block.find("max_ejection_time");
  if (max) {
    detection.max_ejection_time_ms = max->as_positive_duration_ms();
  }
  if (detection.max_ejection_time_ms < detection.base_ejection_time_ms) {
    const std::string base_text = format_duration(detection.base_ejection_time_ms);
    const std::string max_text = format_duration(detection.max_ejection_time_ms);
    if (max) {
      max->fail("must be at least base_ejection_time (" + base_text + ")");
    }
    base->fail("must be at most max_ejection_time (" + max_text + ", the default)");
  }
  if (const std::optional<Node> percent = block.find("max_ejection_percent")) {
    detection.max_ejection_percent = percent->as_percent(0);
  }
  return detection;
}

}  // namespace ballast::config
