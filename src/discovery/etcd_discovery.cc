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

// Parses only the records that changed since the last call (10,000 sidecars registering one by
// one would otherwise parse ~10^8 records); a bad one is logged once per value.
void EtcdDiscovery::take(const PrefixMirror::Keys& keys) {
  std::map<std::string, Record> records;
  std::vector<config::ServerConfig> servers;
  std::set<std::string> names;
  servers.reserve(keys.size());
  for (const auto& [key, value] : keys) {
    Record record;
    if (const auto known = records_.find(key);
        known != records_.end() && known->second.value == value) {
      record = std::move(known->second);
    } else {
      std::string error;
      record = {value, parse_server_record(value, error)};
      if (!record.server) {
        observe::log_event(config::LogLevel::warn, "etcd record ignored",
                           {{"cluster", cluster_}, {"key", key}, {"error", error}});
      }
    }
    if (record.server && names.insert(record.server->name()).second) {
      servers.push_back(*record.server);
    }
    records.emplace(key, std::move(record));
  }
  records_ = std::move(records);
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
