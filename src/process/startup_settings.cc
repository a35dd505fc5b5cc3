#include "process/startup_settings.h"

#include <sstream>

#include "config/scalars.h"

namespace ballast::process {
namespace {

std::string text(bool value) {
  return value ? "true" : "false";
}

std::string text(uint32_t value) {
  return std::to_string(value);
}

std::string text(uint16_t value) {
  return std::to_string(value);
}

std::string text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string text(const std::string& value) {
  return value.empty() ? "(none)" : value;
}

std::string text(const std::vector<std::string>& values) {
  std::string joined;
  for (const std::string& value : values) {
    joined += (joined.empty() ? "" : ",") + value;
  }
  return text(joined);
}

std::string text(const config::Endpoint& endpoint) {
  return config::format_endpoint(endpoint);
}

bool same(const config::Endpoint& a, const config::Endpoint& b) {
  return a.host == b.host && a.port == b.port;
}

template <typename Value>
bool same(const Value& a, const Value& b) {
  return a == b;
}

// Appends "key: running -> next" when they differ.
template <typename Value>
void compare(std::vector<std::string>& changed, const char* key, const Value& running,
             const Value& next) {
  if (!same(running, next)) {
    changed.push_back(std::string(key) + ": " + text(running) + " -> " + text(next));
  }
}

}  // namespace

std::vector<std::string> changed_startup_settings(const config::Config& running,
                                                  const config::Config& next) {
  std::vector<std::string> changed;
  compare(changed, "workers", running.workers, next.workers);
  compare(changed, "max_connections", running.max_connections, next.max_connections);
  compare(changed, "io_uring", running.io_uring, next.io_uring);
  compare(changed, "admin.listen", running.admin.listen, next.admin.listen);
  const config::MetricsConfig& metrics = running.monitoring.metrics;
  const config::MetricsConfig& next_metrics = next.monitoring.metrics;
  compare(changed, "monitoring.metrics.enabled", metrics.enabled, next_metrics.enabled);
  compare(changed, "monitoring.metrics.port", metrics.port, next_metrics.port);
  compare(changed, "monitoring.metrics.path", metrics.path, next_metrics.path);
  compare(changed, "tracing.enabled", running.tracing.enabled, next.tracing.enabled);
  compare(changed, "tracing.endpoint", running.tracing.endpoint, next.tracing.endpoint);
  compare(changed, "tracing.sample_rate", running.tracing.sample_rate, next.tracing.sample_rate);
  compare(changed, "etcd.endpoints (the fleet's registration; discovery takes them now)",
          running.etcd.endpoints, next.etcd.endpoints);
  compare(changed, "etcd.fleet_prefix", running.etcd.fleet_prefix, next.etcd.fleet_prefix);
  compare(changed, "etcd.instance", running.etcd.instance, next.etcd.instance);
  return changed;
}

}  // namespace ballast::process
