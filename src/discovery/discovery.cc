#include "discovery/discovery.h"

#include <chrono>
#include <set>

#include "observe/log.h"

namespace ballast::discovery {
namespace {

// A burst of changes (a deployment registering its servers) lands as one update.
constexpr uint64_t kGatherMs = 20;
// At most ten updates a second: each builds every worker's view of the cluster.
constexpr uint64_t kMinSpacingMs = 100;
constexpr uint64_t kIdleWaitMs = 1'000;

// What the sources depend on, as text: the resolver's and etcd's settings and each cluster's
// named servers or prefix. Sources restart only when it changes.
std::string signature(const config::Config& config) {
  std::string text;
  const config::ResolverConfig& resolver = config.resolver;
  for (const std::string& nameserver : resolver.nameservers) {
    text += nameserver + ",";
  }
  text += "|" + std::to_string(resolver.timeout_ms) + "|" + std::to_string(resolver.attempts) +
          "|" + std::to_string(resolver.ttl_min_ms) + "|" + std::to_string(resolver.ttl_max_ms);
  for (const std::string& endpoint : config.etcd.endpoints) {
    text += "|" + endpoint;
  }
  text += "|" + std::to_string(config.etcd.timeout_ms);
  for (const config::ClusterConfig& cluster : config.clusters) {
    if (!cluster.discovery.etcd_prefix.empty()) {
      text += "\n" + cluster.name + " etcd " + cluster.discovery.etcd_prefix;
    } else if (has_named_servers(cluster)) {
      text += "\n" + cluster.name + " dns";
      for (const config::ServerConfig& server : cluster.servers) {
        text += " " + server.name() + "/" + std::to_string(static_cast<int>(server.resolve)) + "/" +
                std::to_string(server.weight) + "/" + std::to_string(server.max_connections) + "/" +
                (server.backup ? "b" : "p") + "/" + server.region;
      }
    }
  }
  return text;
}

bool is_discovered(const config::ClusterConfig& cluster) {
  return !cluster.discovery.etcd_prefix.empty() || has_named_servers(cluster);
}

}  // namespace

Discovery::Discovery(Apply apply) : apply_(std::move(apply)) {
  publisher_ = std::thread([this] { publish_changes(); });
}

Discovery::~Discovery() {
  sets_.stop();
  publisher_.join();
  stop_sources();
}

// Stops the running sources (their threads end before this returns).
void Discovery::stop_sources() {
  std::unique_ptr<DnsDiscovery> dns;
  std::vector<std::unique_ptr<EtcdDiscovery>> etcd;
  {
    const std::lock_guard<std::mutex> lock(sources_mutex_);
    dns = std::move(dns_);
    etcd = std::move(etcd_);
  }
}

void Discovery::configure(const config::Config& config) {
  std::string settings = signature(config);
  if (settings == settings_) {
    return;
  }
  // Made first, so that settings c-ares refuses leave the running sources alone (it throws).
  auto dns = std::make_unique<DnsDiscovery>(config, sets_);
  std::vector<std::unique_ptr<EtcdDiscovery>> etcd;
  for (const config::ClusterConfig& cluster : config.clusters) {
    if (!cluster.discovery.etcd_prefix.empty()) {
      etcd.push_back(std::make_unique<EtcdDiscovery>(config.etcd, cluster.name,
                                                     cluster.discovery.etcd_prefix, sets_));
    }
  }
  std::unique_ptr<DnsDiscovery> previous_dns;
  {
    const std::lock_guard<std::mutex> lock(sources_mutex_);
    previous_dns = std::move(dns_);
  }
  if (previous_dns != nullptr) {
    previous_dns->stop();
    dns->take_answers(*previous_dns);
    previous_dns.reset();
  }
  stop_sources();
  settings_ = std::move(settings);
  for (const config::ClusterConfig& cluster : config.clusters) {
    if (!is_discovered(cluster)) {
      sets_.forget(cluster.name);  // static now: what was found for it must not come back
    }
  }
  dns->start();
  for (const std::unique_ptr<EtcdDiscovery>& source : etcd) {
    source->start();
  }
  const std::lock_guard<std::mutex> lock(sources_mutex_);
  dns_ = std::move(dns);
  etcd_ = std::move(etcd);
}

std::shared_ptr<const config::Config> Discovery::expand(
    std::shared_ptr<const config::Config> config) {
  auto expanded = std::make_shared<config::Config>(*config);
  for (config::ClusterConfig& cluster : expanded->clusters) {
    if (is_discovered(cluster)) {
      cluster.servers =
          sets_.servers_of(cluster.name).value_or(std::vector<config::ServerConfig>{});
    }
  }
  return expanded;
}

std::vector<SourceReport> Discovery::reports() const {
  const std::lock_guard<std::mutex> lock(sources_mutex_);
  std::vector<SourceReport> reports =
      dns_ != nullptr ? dns_->reports() : std::vector<SourceReport>{};
  for (const std::unique_ptr<EtcdDiscovery>& source : etcd_) {
    reports.push_back(source->report());
  }
  return reports;
}

void Discovery::publish_changes() {
  while (!sets_.stopped()) {
    try {
      std::set<std::string> changed = sets_.take_changed(kIdleWaitMs);
      if (changed.empty()) {
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kGatherMs));
      changed.merge(sets_.take_changed(0));
      for (const std::string& cluster : changed) {
        apply_(cluster);
      }
    } catch (const std::exception& error) {  // memory: the next change tries again
      observe::log_event(config::LogLevel::error, "discovered servers not handed over",
                         {{"error", error.what()}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kMinSpacingMs - kGatherMs));
  }
}

}  // namespace ballast::discovery
