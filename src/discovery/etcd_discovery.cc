#include "discovery/etcd_discovery.h"

#include <chrono>
#include <set>

#include "discovery/server_record.h"
#include "observe/log.h"

namespace ballast::discovery {
namespace {

SourceReport first_report(const std::string& cluster, const std::string& prefix) {
  SourceReport report;
  report.kind = "etcd";
  report.cluster = cluster;
  report.target = prefix;
  return report;
}

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::vector<EtcdEndpoint> etcd_endpoints(const config::EtcdConfig& etcd) {
  std::vector<EtcdEndpoint> endpoints;
  for (const std::string& text : etcd.endpoints) {
    endpoints.push_back(parse_etcd_endpoint(text));
  }
  return endpoints;
}

EtcdDiscovery::EtcdDiscovery(const config::EtcdConfig& etcd, const std::string& cluster,
                             const std::string& prefix, ServerSets& sets)
    : cluster_(cluster),
      sets_(sets),
      status_(first_report(cluster, prefix)),
      mirror_(
          etcd_endpoints(etcd), etcd.timeout_ms, prefix,
          [this](const PrefixMirror::Keys& keys) { take(keys); }, status_) {}

void EtcdDiscovery::take(const PrefixMirror::Keys& keys) {
  std::vector<config::ServerConfig> servers;
  std::set<std::string> names;
  servers.reserve(keys.size());
  for (const auto& [key, value] : keys) {
    std::string error;
    std::optional<config::ServerConfig> server = parse_server_record(value, error);
    if (!server) {
      auto [seen, inserted] = rejected_.try_emplace(key, value);
      if (inserted || seen->second != value) {
        seen->second = value;
        observe::log_event(config::LogLevel::warn, "etcd record ignored",
                           {{"cluster", cluster_}, {"key", key}, {"error", error}});
      }
      continue;
    }
    rejected_.erase(key);
    if (names.insert(server->name()).second) {
      servers.push_back(std::move(*server));
    }
  }
  const size_t count = servers.size();
  const bool changed = sets_.set(cluster_, std::move(servers));
  status_.update([&](SourceReport& report) {
    report.servers = count;
    if (changed) {
      ++report.updates;
      report.last_change_unix_ms = unix_now_ms();
    }
  });
}

}  // namespace ballast::discovery
