#include "discovery/dns_discovery.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "config/scalars.h"
#include "core/clock.h"
#include "observe/log.h"

namespace ballast::discovery {
namespace {

using config::LogLevel;

// The thread looks at its names at least this often (ttl_max may be long; a wait of "never"
// would overflow the clock's arithmetic).
constexpr uint64_t kLongestWaitNs = 60 * core::kNsPerMs * 1'000;
using config::ResolveMode;
using config::ServerConfig;

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string names_of(const std::vector<ServerConfig>& entries) {
  std::string names;
  for (const ServerConfig& entry : entries) {
    if (!config::is_ip_literal(entry.host)) {
      names += (names.empty() ? "" : ",") + entry.host;
    }
  }
  return names;
}

void keep_unique(std::vector<ServerConfig>& servers) {
  std::set<std::string> seen;
  std::erase_if(servers,
                [&](const ServerConfig& server) { return !seen.insert(server.name()).second; });
}

}  // namespace

bool has_named_servers(const config::ClusterConfig& cluster) {
  return std::any_of(
      cluster.servers.begin(), cluster.servers.end(),
      [](const ServerConfig& server) { return !config::is_ip_literal(server.host); });
}

DnsDiscovery::DnsDiscovery(const config::Config& config, ServerSets& sets)
    : settings_(config.resolver),
      sets_(sets),
      resolver_(ResolverOptions{config.resolver.nameservers, config.resolver.timeout_ms,
                                config.resolver.attempts}) {
  for (const config::ClusterConfig& cluster : config.clusters) {
    if (!has_named_servers(cluster)) {
      continue;
    }
    SourceReport report;
    report.kind = "dns";
    report.cluster = cluster.name;
    report.target = names_of(cluster.servers);
    clusters_.push_back({cluster.name, cluster.servers, std::make_unique<SourceStatus>(report)});
    for (const ServerConfig& entry : cluster.servers) {
      if (!config::is_ip_literal(entry.host)) {
        const LookupKind kind =
            entry.resolve == ResolveMode::srv ? LookupKind::srv : LookupKind::addresses;
        answers_.try_emplace(Name{entry.host, kind});
      }
    }
  }
}

DnsDiscovery::~DnsDiscovery() {
  stop();
}

void DnsDiscovery::stop() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void DnsDiscovery::take_answers(const DnsDiscovery& previous) {
  for (auto& [name, answer] : answers_) {
    if (const auto found = previous.answers_.find(name); found != previous.answers_.end()) {
      answer = found->second;
      answer.due_ns = 0;  // asked again at start(), the answer kept if that fails
    }
  }
  add_srv_targets();
  for (auto& [name, answer] : answers_) {
    if (const auto found = previous.answers_.find(name);
        !answer.answered && found != previous.answers_.end()) {
      answer = found->second;
      answer.due_ns = 0;
    }
  }
}

void DnsDiscovery::start() {
  if (clusters_.empty()) {
    return;
  }
  // Twice: SRV answers name targets whose addresses are looked up next.
  round(core::monotonic_now_ns());
  round(core::monotonic_now_ns());
  thread_ = std::thread([this] { run(); });
}

std::vector<SourceReport> DnsDiscovery::reports() const {
  std::vector<SourceReport> reports;
  for (const Cluster& cluster : clusters_) {
    reports.push_back(cluster.status->read());
  }
  return reports;
}

void DnsDiscovery::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    const uint64_t now_ns = core::monotonic_now_ns();
    const uint64_t due_ns = next_due_ns();
    if (due_ns > now_ns) {
      const uint64_t wait_ns = std::min<uint64_t>(due_ns - now_ns, kLongestWaitNs);
      wake_.wait_for(lock, std::chrono::nanoseconds(wait_ns));
      continue;
    }
    lock.unlock();
    try {
      round(now_ns);
    } catch (const std::exception& error) {  // memory: keep the answers, try again later
      observe::log_event(LogLevel::error, "dns discovery round failed", {{"error", error.what()}});
      for (auto& [name, answer] : answers_) {
        answer.due_ns = std::max(answer.due_ns, now_ns + settings_.ttl_min_ms * core::kNsPerMs);
      }
    }
    lock.lock();
  }
}

uint64_t DnsDiscovery::next_due_ns() const {
  uint64_t due = UINT64_MAX;
  for (const auto& [name, answer] : answers_) {
    due = std::min(due, answer.due_ns);
  }
  return due;
}

// Looks up every name that is due, then publishes the lists that changed.
void DnsDiscovery::round(uint64_t now_ns) {
  std::vector<LookupRequest> requests;
  std::vector<Name> names;
  for (const auto& [name, answer] : answers_) {
    if (answer.due_ns <= now_ns) {
      requests.push_back({name.name, name.kind});
      names.push_back(name);
    }
  }
  if (requests.empty()) {
    return;
  }
  const std::vector<LookupResult> results = resolver_.lookup(requests);
  const uint64_t done_ns = core::monotonic_now_ns();
  for (size_t i = 0; i < names.size(); ++i) {
    record(names[i], results[i], done_ns);
  }
  add_srv_targets();
  publish();
}

void DnsDiscovery::record(const Name& name, const LookupResult& result, uint64_t now_ns) {
  Answer& answer = answers_[name];
  if (result.ok) {
    if (answer.retry_ms != 0) {
      observe::log_event(LogLevel::info, "dns lookup answered again", {{"name", name.name}});
    }
    answer.result = result;
    answer.answered = true;
    answer.retry_ms = 0;
    const uint64_t ttl_ms = std::clamp<uint64_t>(uint64_t{result.ttl_s} * 1'000,
                                                 settings_.ttl_min_ms, settings_.ttl_max_ms);
    answer.due_ns = now_ns + ttl_ms * core::kNsPerMs;
    return;
  }
  if (answer.retry_ms == 0) {
    observe::log_event(LogLevel::warn, "dns lookup failed: keeping the last answer",
                       {{"name", name.name}, {"error", result.error}});
  }
  answer.retry_ms = answer.retry_ms == 0 ? settings_.ttl_min_ms
                                         : std::min(answer.retry_ms * 2, settings_.ttl_max_ms);
  answer.due_ns = now_ns + answer.retry_ms * core::kNsPerMs;
  answer.error = result.error;
  ++answer.failures;
}

// SRV targets are looked up as names of their own; those no record names any more are dropped.
void DnsDiscovery::add_srv_targets() {
  std::set<Name> wanted;
  for (const Cluster& cluster : clusters_) {
    for (const ServerConfig& entry : cluster.entries) {
      if (!config::is_ip_literal(entry.host)) {
        wanted.insert(Name{entry.host, entry.resolve == ResolveMode::srv ? LookupKind::srv
                                                                         : LookupKind::addresses});
      }
    }
  }
  for (const auto& [name, answer] : answers_) {
    if (name.kind == LookupKind::srv) {
      for (const SrvTarget& target : answer.result.srv) {
        wanted.insert(Name{target.target, LookupKind::addresses});
      }
    }
  }
  std::erase_if(answers_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  for (const Name& name : wanted) {
    answers_.try_emplace(name);  // new: due now
  }
}

void DnsDiscovery::publish() {
  for (Cluster& cluster : clusters_) {
    std::vector<ServerConfig> servers = expand(cluster);
    const size_t count = servers.size();
    const bool changed = sets_.set(cluster.name, std::move(servers));
    std::string error;
    uint64_t failures = 0;
    for (const Name& name : names_used(cluster)) {
      const Answer& answer = answers_.at(name);
      failures += answer.failures;
      if (answer.retry_ms != 0 && error.empty()) {
        error = name.name + ": " + answer.error;
      }
    }
    cluster.status->update([&](SourceReport& report) {
      report.servers = count;
      report.up = error.empty();
      report.error = error;
      report.failures = failures;
      if (changed) {
        ++report.updates;
        report.last_change_unix_ms = unix_now_ms();
      }
    });
  }
}

// The names a cluster's list is made from: its entries' and their SRV records' targets.
std::vector<DnsDiscovery::Name> DnsDiscovery::names_used(const Cluster& cluster) const {
  std::vector<Name> names;
  for (const ServerConfig& entry : cluster.entries) {
    if (config::is_ip_literal(entry.host)) {
      continue;
    }
    const bool srv = entry.resolve == ResolveMode::srv;
    const Name name{entry.host, srv ? LookupKind::srv : LookupKind::addresses};
    names.push_back(name);
    if (const auto found = answers_.find(name); srv && found != answers_.end()) {
      for (const SrvTarget& target : found->second.result.srv) {
        if (answers_.contains(Name{target.target, LookupKind::addresses})) {
          names.push_back(Name{target.target, LookupKind::addresses});
        }
      }
    }
  }
  return names;
}

std::vector<ServerConfig> DnsDiscovery::expand(const Cluster& cluster) const {
  std::vector<ServerConfig> servers;
  // Answers are capped (kMaxRecords per name) but targets × addresses could still make a
  // million; past twice the cluster limit (duplicates are dropped below) the rest is not built.
  const auto full = [&servers] { return servers.size() >= 2 * config::kMaxServersPerCluster; };
  const auto answer_of = [this](const std::string& name, LookupKind kind) -> const LookupResult* {
    const auto found = answers_.find(Name{name, kind});
    return found != answers_.end() && found->second.answered ? &found->second.result : nullptr;
  };
  for (const ServerConfig& entry : cluster.entries) {
    if (config::is_ip_literal(entry.host)) {
      servers.push_back(entry);
      continue;
    }
    if (entry.resolve != ResolveMode::srv) {
      const LookupResult* answer = answer_of(entry.host, LookupKind::addresses);
      if (answer == nullptr || answer->addresses.empty()) {
        continue;
      }
      if (entry.resolve == ResolveMode::first) {
        ServerConfig server = entry;
        server.address = answer->addresses.front();
        servers.push_back(std::move(server));
        continue;
      }
      for (size_t i = 0; i < answer->addresses.size() && !full(); ++i) {
        ServerConfig server = entry;
        server.host = answer->addresses[i];
        server.tls_name = entry.host;
        servers.push_back(std::move(server));
      }
      continue;
    }
    const LookupResult* records = answer_of(entry.host, LookupKind::srv);
    if (records == nullptr || records->srv.empty()) {
      continue;
    }
    const uint16_t primary = std::min_element(records->srv.begin(), records->srv.end(),
                                              [](const SrvTarget& a, const SrvTarget& b) {
                                                return a.priority < b.priority;
                                              })
                                 ->priority;
    for (const SrvTarget& record : records->srv) {
      const LookupResult* target = answer_of(record.target, LookupKind::addresses);
      if (target == nullptr || record.port == 0) {
        continue;
      }
      for (size_t i = 0; i < target->addresses.size() && !full(); ++i) {
        ServerConfig server = entry;
        server.host = target->addresses[i];
        server.port = record.port;
        server.weight = std::max<uint32_t>(record.weight, 1);
        server.backup = entry.backup || record.priority != primary;
        server.tls_name = record.target;
        servers.push_back(std::move(server));
      }
    }
  }
  keep_unique(servers);
  return servers;
}

}  // namespace ballast::discovery
