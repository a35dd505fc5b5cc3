#include "proxy/health_checks.h"

#include <algorithm>
#include <unordered_map>

#include "core/clock.h"
#include "core/hash.h"
#include "proxy/health_events.h"

namespace ballast::proxy {
namespace {

// A server nobody has checked yet takes no traffic, so its first check comes soon (spread over
// this much so a large fleet does not connect all at once); a server whose state carried over
// from the previous generation waits up to a whole interval, as it would have anyway.
constexpr uint64_t kFirstCheckSpreadNs = 100 * core::kNsPerMs;

}  // namespace

namespace {

// The probe's Host: the server's name, or for one found by DNS (`resolve: all`, `srv`) the name
// it was found under, with its port.
std::string host_header(const config::ServerConfig& server) {
  if (server.tls_name.empty()) {
    return server.name();
  }
  return server.tls_name + ":" + std::to_string(server.port);
}

}  // namespace

uint32_t health_check_owner(std::string_view cluster, std::string_view server,
                            uint32_t worker_count) noexcept {
  const uint64_t key = core::hash64(server, core::hash64(cluster));
  return worker_count == 0 ? 0 : static_cast<uint32_t>(key % worker_count);
}

ServerHealthCheck::ServerHealthCheck(core::EventLoop& loop, const upstream::ClusterState& cluster,
                                     uint32_t server, uint32_t worker, core::Random& random)
    : loop_(loop),
      cluster_(&cluster),
      server_(server),
      worker_(worker),
      random_(random),
      host_header_(host_header(cluster.servers[server]->config)),
      probe_(loop, *this) {
  const upstream::ServerState& state = *cluster.servers[server];
  if (cluster.upstream_tls != nullptr) {
    probe_.use_tls(*cluster.upstream_tls, state.config.sni());
  }
  probe_.send_proxy_header(cluster.config->send_proxy_protocol);
  const bool unknown = state.checks->state() == health::HealthState::unknown;
  const uint64_t spread =
      unknown ? kFirstCheckSpreadNs : cluster.config->health_check.interval_ms * core::kNsPerMs;
  schedule(random_.below(spread) + 1);
}

void ServerHealthCheck::schedule(uint64_t delay_ns) noexcept {
  timer_.arm(loop_.timers(), loop_.now_ns() + delay_ns);
}

// Checks of a fleet that started together would stay in step; after the first check each
// server's next one comes anywhere in the interval (as HAProxy's spread-checks does), and from
// then on every interval plus up to `jitter`.
uint64_t ServerHealthCheck::next_delay_ns() noexcept {
  const config::HealthCheckConfig& checks = cluster_->config->health_check;
  const uint64_t interval_ns = checks.interval_ms * core::kNsPerMs;
  if (!spread_) {
    spread_ = true;
    return interval_ns / 2 + random_.below(interval_ns / 2 + 1);
  }
  const uint64_t jitter_ns = checks.jitter_ms * core::kNsPerMs;
  return interval_ns + (jitter_ns == 0 ? 0 : random_.below(jitter_ns + 1));
}

void ServerHealthCheck::on_timer(core::Timer& /*timer*/) noexcept {
  probe_.start(cluster_->servers[server_]->address, cluster_->config->health_check, host_header_);
}

void ServerHealthCheck::on_probe_done(bool passed, std::string_view detail) noexcept {
  const uint64_t now_ns = loop_.now_ns();
  upstream::ServerState& state = *cluster_->servers[server_];
  upstream::ClusterHealth& shared = *cluster_->health;
  observe::ServerShard& counters = state.stats->shard(worker_);
  (passed ? counters.checks_passed : counters.checks_failed).add();
  const auto change = state.checks->record(
      passed ? health::CheckResult::passed : health::CheckResult::failed, now_ns);
  if (change) {
    const bool healthy = change->to == health::HealthState::healthy;
    if (healthy && cluster_->config->health_check.slow_start_ms != 0) {
      state.ramp_started_ns.store(now_ns, std::memory_order_relaxed);
    }
    state.passes_checks.store(healthy, std::memory_order_relaxed);
    shared.changed();
    log_health_change(cluster_->config->name, state.name, *change, detail);
  }
  if (passed && shared.outliers != nullptr && shared.outliers->is_ejected(server_, now_ns)) {
    if (const auto event = shared.outliers->return_server(server_, now_ns)) {
      shared.changed();
      log_outlier_event(cluster_->config->name, state.name, *event);
    }
  }
  schedule(next_delay_ns());
}

HealthChecks::HealthChecks(core::EventLoop& loop,
                           const std::vector<const upstream::ClusterState*>& clusters,
                           uint32_t worker_index, uint32_t worker_count, uint64_t seed)
    : loop_(loop), worker_index_(worker_index), worker_count_(worker_count), random_(seed) {
  for (const upstream::ClusterState* cluster : clusters) {
    by_cluster_.push_back(checks_of(*cluster, {}));
  }
}

void HealthChecks::take_cluster(size_t index, const upstream::ClusterState& cluster) {
  by_cluster_[index] = checks_of(cluster, std::move(by_cluster_[index]));
}

size_t HealthChecks::size() const noexcept {
  size_t total = 0;
  for (const Checks& checks : by_cluster_) {
    total += checks.size();
  }
  return total;
}

// The checks this worker owns for `cluster`: those in `kept` for the servers that stay, new ones
// for the others.
HealthChecks::Checks HealthChecks::checks_of(const upstream::ClusterState& cluster, Checks kept) {
  Checks checks;
  if (!cluster.config->health_check.enabled) {
    return checks;
  }
  std::unordered_map<const upstream::ServerState*, std::unique_ptr<ServerHealthCheck>> previous;
  for (std::unique_ptr<ServerHealthCheck>& check : kept) {
    const upstream::ServerState* server = &check->server();
    previous.emplace(server, std::move(check));
  }
  for (uint32_t server = 0; server < cluster.servers.size(); ++server) {
    if (health_check_owner(cluster.config->name, cluster.servers[server]->name, worker_count_) !=
        worker_index_) {
      continue;
    }
    if (auto found = previous.find(cluster.servers[server].get()); found != previous.end()) {
      found->second->move_to(cluster, server);
      checks.push_back(std::move(found->second));
    } else {
      checks.push_back(
          std::make_unique<ServerHealthCheck>(loop_, cluster, server, worker_index_, random_));
    }
  }
  return checks;
}

}  // namespace ballast::proxy
