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
          [this](const PrefixMirror::Keys& keys, const std::vector<std::string>* changed) {
            take(keys, changed);
          },
          status_) {}

EtcdDiscovery::~EtcdDiscovery() {
  mirror_.stop();  // no take() after this, so no builder registered again
  sets_.drop_builder(cluster_);
}

// Parses only the records that changed (10,000 sidecars registering one by one would otherwise
// parse ~10^8), and leaves the list to be built when it is applied (servers()).
void EtcdDiscovery::take(const PrefixMirror::Keys& keys, const std::vector<std::string>* changed) {
  {
    const std::lock_guard<std::mutex> lock(records_mutex_);
    if (changed == nullptr) {
      std::map<std::string, Record> records;
      for (const auto& [key, value] : keys) {
        const auto known = records_.find(key);
        records.emplace(key, known != records_.end() && known->second.value == value
                                 ? std::move(known->second)
                                 : parse(key, value));
      }
      records_ = std::move(records);
    } else {
      for (const std::string& key : *changed) {
        const auto now = keys.find(key);
        if (now == keys.end()) {
          records_.erase(key);
        } else if (auto known = records_.find(key);
                   known == records_.end() || known->second.value != now->second) {
          records_.insert_or_assign(key, parse(key, now->second));
        }
      }
    }
  }
  sets_.changed(cluster_, [this] { return servers(); });
}

EtcdDiscovery::Record EtcdDiscovery::parse(const std::string& key, const std::string& value) {
  std::string error;
  Record record{value, parse_server_record(value, error)};
  if (!record.server) {
    observe::log_event(config::LogLevel::warn, "etcd record ignored",
                       {{"cluster", cluster_}, {"key", key}, {"error", error}});
  }
  return record;
}

std::vector<config::ServerConfig> EtcdDiscovery::servers() {
  std::vector<config::ServerConfig> servers;
  {
    const std::lock_guard<std::mutex> lock(records_mutex_);
    std::set<std::string> names;
    servers.reserve(records_.size());
    for (const auto& [key, record] : records_) {
      if (record.server && names.insert(record.server->name()).second) {
        servers.push_back(*record.server);
      }
    }
  }
  status_.update([&](SourceReport& report) {
    report.servers = servers.size();
    ++report.updates;
    report.last_change_unix_ms = unix_now_ms();
  });
  return servers;
}

}  // namespace ballast::discovery
