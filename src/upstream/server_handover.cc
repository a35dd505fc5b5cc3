#include "upstream/server_handover.h"

#include <charconv>
#include <string_view>

namespace ballast::upstream {
namespace {

// cluster, server, passes checks (0/1), slow start's start (ns, 0 = none), admin state
// (AdminState's value), breaker open until (ns, 0 = not open).
constexpr size_t kFields = 6;

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  for (;;) {
    const size_t tab = line.find('\t');
    fields.push_back(line.substr(0, tab));
    if (tab == std::string_view::npos) {
      return fields;
    }
    line.remove_prefix(tab + 1);
  }
}

bool parse_number(std::string_view text, uint64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

// A half-open breaker is described as open until now: the new process probes it at once.
uint64_t open_until_ns(const ServerState& server, uint64_t now_ns) {
  if (server.breaker == nullptr) {
    return 0;
  }
  const health::BreakerSnapshot breaker = server.breaker->snapshot(now_ns);
  switch (breaker.state) {
    case health::BreakerState::closed:
      return 0;
    case health::BreakerState::open:
      return breaker.half_open_at_ns;
    case health::BreakerState::half_open:
      return now_ns;
  }
  return 0;
}

ServerState* find_server(const Generation& generation, std::string_view cluster,
                         std::string_view server) {
  const size_t index = generation.cluster_index(std::string(cluster));
  if (index == generation.clusters.size()) {
    return nullptr;
  }
  for (const std::shared_ptr<ServerState>& state : generation.clusters[index].servers) {
    if (state->name == server) {
      return state.get();
    }
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> describe_server_states(const Generation& generation, uint64_t now_ns) {
  std::vector<std::string> lines;
  for (const ClusterState& cluster : generation.clusters) {
    for (const std::shared_ptr<ServerState>& server : cluster.servers) {
      lines.push_back(
          cluster.config->name + '\t' + server->name + '\t' +
          (server->passes_checks.load(std::memory_order_relaxed) ? "1" : "0") + '\t' +
          std::to_string(server->ramp_started_ns.load(std::memory_order_relaxed)) + '\t' +
          std::to_string(static_cast<int>(server->admin.load(std::memory_order_relaxed))) + '\t' +
          std::to_string(open_until_ns(*server, now_ns)));
    }
  }
  return lines;
}

size_t resume_server_states(const Generation& generation, const std::vector<std::string>& lines) {
  size_t resumed = 0;
  for (const std::string& line : lines) {
    const std::vector<std::string_view> fields = split_tabs(line);
    uint64_t passes = 0;
    uint64_t ramp_started_ns = 0;
    uint64_t admin = 0;
    uint64_t open_until = 0;
    if (fields.size() != kFields || !parse_number(fields[2], passes) || passes > 1 ||
        !parse_number(fields[3], ramp_started_ns) || !parse_number(fields[4], admin) ||
        admin > static_cast<uint64_t>(AdminState::draining) ||
        !parse_number(fields[5], open_until)) {
      continue;
    }
    ServerState* server = find_server(generation, fields[0], fields[1]);
    if (server == nullptr) {
      continue;
    }
    const size_t cluster = generation.cluster_index(std::string(fields[0]));
    if (server->checks) {
      // As at a reload: a server that was not passing is not yet known here; one check decides.
      server->checks.emplace(
          generation.clusters[cluster].config->health_check,
          passes == 1 ? health::HealthState::healthy : health::HealthState::unknown);
      server->passes_checks.store(passes == 1, std::memory_order_relaxed);
      server->ramp_started_ns.store(ramp_started_ns, std::memory_order_relaxed);
    }
    server->admin.store(static_cast<AdminState>(admin), std::memory_order_relaxed);
    if (server->breaker != nullptr && open_until != 0) {
      server->breaker->resume_open(open_until);
    }
    ++resumed;
  }
  return resumed;
}

}  // namespace ballast::upstream
