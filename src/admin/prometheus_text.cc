#include "admin/prometheus_text.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ctime>
#include <vector>

#include "admin/status_json.h"

namespace ballast::admin {
namespace {

using observe::FailureKind;
using observe::kDurationBoundsSeconds;
using observe::kStatusClasses;

constexpr double kNsPerSecond = 1e9;

constexpr std::array<std::string_view, kStatusClasses> kStatusClassNames = {"1xx", "2xx", "3xx",
                                                                            "4xx", "5xx"};
// Indexed by FailureKind.
constexpr std::array<std::string_view, static_cast<size_t>(FailureKind::count)> kFailureKindNames =
    {"connect_failure", "reset", "timeout", "server_error"};
static_assert(static_cast<size_t>(FailureKind::connect_failure) == 0 &&
              static_cast<size_t>(FailureKind::server_error) == 3);

void append_number(std::string& out, uint64_t value) {
  std::array<char, 24> digits;
  const auto result = std::to_chars(digits.begin(), digits.end(), value);
  out.append(digits.data(), result.ptr);
}

// The shortest text that reads back as the same double, which Prometheus (Go's ParseFloat)
// accepts; the format spells the specials +Inf, -Inf and NaN.
void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    std::array<char, 32> digits;
    const auto result = std::to_chars(digits.begin(), digits.end(), value);
    out.append(digits.data(), result.ptr);
  }
}

// The bucket bounds as `le` values, formatted once.
std::array<std::string, kDurationBoundsSeconds.size()> bucket_labels() {
  std::array<std::string, kDurationBoundsSeconds.size()> labels;
  for (size_t i = 0; i < labels.size(); ++i) {
    append_number(labels[i], kDurationBoundsSeconds[i]);
  }
  return labels;
}

// One server, read once: its labels, formatted once and used by every family, and the sum of
// its workers' shards, so that each family reads a plain struct.
struct ServerRow {
  const upstream::ClusterState* cluster;
  const upstream::ServerState* server;
  uint32_t index;      // in its cluster, as the outlier detector counts
  std::string labels;  // cluster="…",server="…"
  observe::ServerTotals totals;
};

// Writes families and samples: `name value`, `name{labels} value` or
// `name{labels,key="value"} value`.
class Page {
 public:
  explicit Page(size_t expected_bytes) { out_.reserve(expected_bytes); }

  void family(std::string_view name, std::string_view type, std::string_view help) {
    // HELP text escapes backslash and newline only; ours are literals without either.
    out_.append("# HELP ").append(name).append(" ").append(help);
    out_.append("\n# TYPE ").append(name).append(" ").append(type).append("\n");
  }

  template <typename Value>
  void sample(std::string_view name, std::string_view labels, Value value) {
    out_.append(name);
    if (!labels.empty()) {
      out_.append("{").append(labels).append("}");
    }
    end(value);
  }

  template <typename Value>
  void sample(std::string_view name, std::string_view labels, std::string_view key,
              std::string_view label_value, Value value) {
    out_.append(name).append("{").append(labels);
    if (!labels.empty()) {
      out_ += ',';
    }
    out_.append(key).append("=\"").append(label_value).append("\"}");
    end(value);
  }

  std::string take() { return std::move(out_); }

 private:
  template <typename Value>
  void end(Value value) {
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
  }

  std::string out_;
};

// The TLS listeners' handshakes and certificates. Counters run across reloads (tls_stats.h).
// Each discovery source: whether it is getting answers, and what it did (docs/fleet.md).
void render_discovery(Page& page, const std::vector<discovery::SourceReport>& sources) {
  if (sources.empty()) {
    return;
  }
  std::vector<std::string> labels;
  for (const discovery::SourceReport& source : sources) {
    std::string text = "cluster=\"";
    append_label_value(text, source.cluster);
    text += "\",source=\"" + source.kind + "\"";
    labels.push_back(std::move(text));
  }
  const auto family = [&](std::string_view name, std::string_view type, std::string_view help,
                          auto value) {
    page.family(name, type, help);
    for (size_t i = 0; i < sources.size(); ++i) {
      page.sample(name, labels[i], value(sources[i]));
    }
  };
  family("ballast_discovery_up", "gauge",
         "1 while the source gets answers (etcd: its watch is open), 0 while it serves the last "
         "known servers.",
         [](const discovery::SourceReport& source) { return uint64_t{source.up ? 1u : 0u}; });
  family("ballast_discovery_servers", "gauge", "Servers the source found for the cluster.",
         [](const discovery::SourceReport& source) { return source.servers; });
  family("ballast_discovery_updates_total", "counter",
         "Times the source found a different list of servers.",
         [](const discovery::SourceReport& source) { return source.updates; });
  family("ballast_discovery_failures_total", "counter",
         "Failed lookups (DNS) or reads and broken watches (etcd).",
         [](const discovery::SourceReport& source) { return source.failures; });
  family("ballast_discovery_resyncs_total", "counter",
         "Full reads of an etcd prefix after the first: after an outage or a compaction.",
         [](const discovery::SourceReport& source) { return source.resyncs; });
}

// The clusters' handshakes with their servers (upstream_tls), counted across reloads.
void render_upstream_tls(Page& page, const upstream::Generation& generation) {
  std::vector<std::pair<const tls::UpstreamTlsStats*, std::string>> clusters;
  for (const upstream::ClusterState& cluster : generation.clusters) {
    if (cluster.upstream_tls != nullptr) {
      std::string labels = "cluster=\"";
      append_label_value(labels, cluster.config->name);
      labels += '"';
      clusters.emplace_back(&cluster.upstream_tls->stats(), std::move(labels));
    }
  }
  if (clusters.empty()) {
    return;
  }
  page.family("ballast_upstream_tls_handshakes_total", "counter",
              "TLS handshakes with the cluster's servers, resumed=\"true\" for resumed sessions.");
  for (const auto& [stats, labels] : clusters) {
    page.sample("ballast_upstream_tls_handshakes_total", labels, "resumed", "false",
                stats->full_handshakes.load(std::memory_order_relaxed));
    page.sample("ballast_upstream_tls_handshakes_total", labels, "resumed", "true",
                stats->resumed_handshakes.load(std::memory_order_relaxed));
  }
  page.family("ballast_upstream_tls_handshake_errors_total", "counter",
              "TLS handshakes with the cluster's servers that failed (the log says why).");
  for (const auto& [stats, labels] : clusters) {
    page.sample("ballast_upstream_tls_handshake_errors_total", labels,
                stats->failed_handshakes.load(std::memory_order_relaxed));
  }
}

void render_tls(Page& page, const upstream::Generation& generation, int64_t now_unix) {
  std::vector<std::pair<const tls::ServerContext*, std::string>> listeners;
  for (const auto& context : generation.listener_tls) {
    if (context != nullptr) {
      std::string labels = "listener=\"";
      append_label_value(labels, context->listener_name());
      labels += '"';
      listeners.emplace_back(context.get(), std::move(labels));
    }
  }
  if (listeners.empty()) {
    return;
  }
  page.family("ballast_tls_handshakes_total", "counter",
              "TLS handshakes completed, resumed=\"true\" for resumed sessions.");
  for (const auto& [context, labels] : listeners) {
    const tls::TlsStats& stats = context->stats();
    page.sample("ballast_tls_handshakes_total", labels, "resumed", "false",
                stats.full_handshakes.load(std::memory_order_relaxed));
    page.sample("ballast_tls_handshakes_total", labels, "resumed", "true",
                stats.resumed_handshakes.load(std::memory_order_relaxed));
  }
  page.family("ballast_tls_handshake_errors_total", "counter",
              "TLS handshakes that failed, by kind.");
  for (const auto& [context, labels] : listeners) {
    for (size_t kind = 0; kind < static_cast<size_t>(tls::HandshakeError::count); ++kind) {
      page.sample("ballast_tls_handshake_errors_total", labels, "kind",
                  tls::handshake_error_name(static_cast<tls::HandshakeError>(kind)),
                  context->stats().errors[kind].load(std::memory_order_relaxed));
    }
  }
  page.family("ballast_tls_certificate_expiry_seconds", "gauge",
              "Seconds until the certificate's notAfter (negative once expired).");
  for (const auto& [context, labels] : listeners) {
    for (const tls::Certificate& certificate : context->certificates()) {
      std::string with_file = labels + ",certificate=\"";
      append_label_value(with_file, certificate.files.cert.path);
      with_file += '"';
      std::string names;
      for (const std::string& name : certificate.names) {
        names += (names.empty() ? "" : ",") + name;
      }
      std::string escaped;
      append_label_value(escaped, names);
      page.sample("ballast_tls_certificate_expiry_seconds", with_file, "names", escaped,
                  static_cast<double>(certificate.not_after_unix - now_unix));
    }
  }
}

uint64_t admin_state_value(upstream::AdminState state) {
  switch (state) {
    case upstream::AdminState::enabled:
      return 0;
    case upstream::AdminState::disabled:
      return 1;
    case upstream::AdminState::draining:
      return 2;
  }
  return 0;
}

bool is_healthy(const ServerRow& row, uint64_t now_ns) {
  const health::OutlierDetector* outliers = row.cluster->health->outliers.get();
  return row.server->passes_checks.load(std::memory_order_relaxed) &&
         !(outliers != nullptr && outliers->is_ejected(row.index, now_ns)) &&
         row.server->admin.load(std::memory_order_relaxed) == upstream::AdminState::enabled;
}

bool has_breaker(const ServerRow& row) {
  return row.server->breaker != nullptr;
}
bool has_checks(const ServerRow& row) {
  return row.cluster->config->health_check.enabled;
}
bool has_outliers(const ServerRow& row) {
  return row.cluster->health->outliers != nullptr;
}

// Writes the family's HELP and TYPE, then `write(row)` for each row `shown(row)` accepts; the
// family is left out entirely when no row is shown.
template <typename Shown, typename Write>
void per_server(Page& page, const std::vector<ServerRow>& rows, std::string_view name,
                std::string_view type, std::string_view help, Shown shown, Write write) {
  bool opened = false;
  for (const ServerRow& row : rows) {
    if (!shown(row)) {
      continue;
    }
    if (!opened) {
      page.family(name, type, help);
      opened = true;
    }
    write(row);
  }
}

constexpr auto kEveryServer = [](const ServerRow&) { return true; };

// The rate limits' refusals, by listener, route ("*" for a listener's own limit) and key kind.
// Counted across reloads while a limit of the same name and key stays (edge/rate_policy.h).
void render_rate_limits(Page& page, const upstream::Generation& generation) {
  const edge::RatePolicy& policy = *generation.rate_policy;
  if (policy.empty()) {
    return;
  }
  page.family("ballast_rate_limited_total", "counter",
              "Requests refused with 429 by a rate limit.");
  for (const edge::CompiledLimit& limit : policy.limits()) {
    std::string labels = "listener=\"";
    append_label_value(labels, limit.listener);
    labels += "\",route=\"";
    append_label_value(labels, limit.route);
    labels += '"';
    page.sample("ballast_rate_limited_total", labels, "key", edge::key_kind_name(limit.config->key),
                limit.counters->total_refused());
  }
  page.family("ballast_rate_limit_table_slots", "gauge",
              "Keys the rate limit table holds at once (8 bytes each).");
  page.sample("ballast_rate_limit_table_slots", "", uint64_t{policy.table().slots()});
  if (const edge::RateSync* sync = policy.sync()) {
    page.family("ballast_rate_limit_store_up", "gauge",
                "1 while the fleet's Redis answers the exchanges of global rate limits.");
    page.sample("ballast_rate_limit_store_up", "", uint64_t{sync->store_up() ? 1U : 0U});
    page.family("ballast_rate_limit_exchanges_total", "counter",
                "Exchanges of counts with the fleet's Redis, by result (failed: limits local).");
    page.sample("ballast_rate_limit_exchanges_total", "", "result", "ok", sync->exchanges_ok());
    page.sample("ballast_rate_limit_exchanges_total", "", "result", "failed",
                sync->exchanges_failed());
    page.family("ballast_rate_limit_batches_dropped_total", "counter",
                "Workers' counts not shared with the fleet because Redis was down.");
    page.sample("ballast_rate_limit_batches_dropped_total", "", sync->batches_dropped());
  }
}

// Geographic routing: requests each region's cluster served on each geo route ("default": the
// route's own cluster, for clients of no known region), and those whose own region could not.
void render_geo(Page& page, const upstream::Generation& generation) {
  if (generation.geo_routes == nullptr) {
    return;
  }
  const edge::GeoLocator& locator = *generation.geo;
  page.family("ballast_geo_requests_total", "counter",
              "Requests of a geo route, by the region whose cluster served them.");
  std::vector<std::string> route_labels;
  for (const edge::GeoRoute& route : generation.geo_routes->routes()) {
    std::string labels = "listener=\"";
    append_label_value(labels, route.listener);
    labels += "\",route=\"";
    append_label_value(labels, route.route);
    labels += '"';
    for (uint32_t region = 0; region < locator.region_count(); ++region) {
      page.sample("ballast_geo_requests_total", labels, "region", locator.region_name(region),
                  route.counters->total_served(static_cast<int32_t>(region)));
    }
    page.sample("ballast_geo_requests_total", labels, "region", "default",
                route.counters->total_served(-1));
    route_labels.push_back(std::move(labels));
  }
  page.family("ballast_geo_failovers_total", "counter",
              "Requests of a geo route sent past their region (its cluster could not serve).");
  for (size_t i = 0; i < route_labels.size(); ++i) {
    const edge::GeoRoute& route = generation.geo_routes->routes()[i];
    for (uint32_t region = 0; region < locator.region_count(); ++region) {
      page.sample("ballast_geo_failovers_total", route_labels[i], "region",
                  locator.region_name(region), route.counters->total_failed_over(region));
    }
  }
}

}  // namespace

void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

std::string render_metrics(const upstream::Generation& generation,
                           const observe::ProcessStats& process, const ExtraCounters& extra,
                           uint64_t now_ns) {
  static const auto kLe = bucket_labels();
  // Measured: ~3 KB a server (40 lines, the histogram most of it); reserving once saves the
  // string's doublings, which copy megabytes for a large page.
  constexpr size_t kBytesPerServer = 3200;

  struct ClusterRows {
    const upstream::ClusterState* cluster;
    std::string labels;  // cluster="…"
  };
  std::vector<ClusterRows> clusters;
  clusters.reserve(generation.clusters.size());
  std::vector<ServerRow> rows;
  size_t server_count = 0;
  for (const upstream::ClusterState& cluster : generation.clusters) {
    server_count += cluster.servers.size();
  }
  rows.reserve(server_count);
  for (const upstream::ClusterState& cluster : generation.clusters) {
    std::string labels = "cluster=\"";
    append_label_value(labels, cluster.config->name);
    labels += '"';
    for (size_t i = 0; i < cluster.servers.size(); ++i) {
      const upstream::ServerState& server = *cluster.servers[i];
      ServerRow& row = rows.emplace_back(
          ServerRow{&cluster, &server, static_cast<uint32_t>(i), labels, server.stats->totals()});
      row.labels += ",server=\"";
      append_label_value(row.labels, server.name);
      row.labels += '"';
    }
    clusters.push_back({&cluster, std::move(labels)});
  }

  Page page(4096 + rows.size() * kBytesPerServer);

  // Servers in configuration order, each cluster's own answers (server="none") after its servers.
  if (!clusters.empty()) {
    page.family("loadbalancer_requests_total", "counter",
                "Responses sent to clients, by status class; server=\"none\" for ballast's own.");
    size_t next_row = 0;
    std::string none_labels;
    for (const ClusterRows& cluster : clusters) {
      for (; next_row < rows.size() && rows[next_row].cluster == cluster.cluster; ++next_row) {
        const ServerRow& row = rows[next_row];
        for (size_t c = 0; c < kStatusClasses; ++c) {
          page.sample("loadbalancer_requests_total", row.labels, "status", kStatusClassNames[c],
                      row.totals.responses[c]);
        }
      }
      none_labels.assign(cluster.labels).append(",server=\"none\"");
      const auto local = cluster.cluster->stats->local_responses();
      for (size_t c = 0; c < kStatusClasses; ++c) {
        page.sample("loadbalancer_requests_total", none_labels, "status", kStatusClassNames[c],
                    local[c]);
      }
    }
  }

  per_server(page, rows, "loadbalancer_request_duration_seconds", "histogram",
             "Time from a request's start to the end of its response, in seconds.", kEveryServer,
             [&](const ServerRow& row) {
               uint64_t cumulative = 0;
               for (size_t i = 0; i < kLe.size(); ++i) {
                 cumulative += row.totals.duration_buckets[i];
                 page.sample("loadbalancer_request_duration_seconds_bucket", row.labels, "le",
                             kLe[i], cumulative);
               }
               cumulative += row.totals.duration_buckets.back();
               page.sample("loadbalancer_request_duration_seconds_bucket", row.labels, "le", "+Inf",
                           cumulative);
               page.sample("loadbalancer_request_duration_seconds_sum", row.labels,
                           static_cast<double>(row.totals.duration_ns_sum) / kNsPerSecond);
               page.sample("loadbalancer_request_duration_seconds_count", row.labels, cumulative);
             });

  per_server(page, rows, "loadbalancer_active_connections", "gauge",
             "Attempts in flight to the server.", kEveryServer, [&](const ServerRow& row) {
               page.sample("loadbalancer_active_connections", row.labels,
                           uint64_t{row.server->active_attempts.load(std::memory_order_relaxed)});
             });
  per_server(page, rows, "loadbalancer_server_healthy", "gauge",
             "1 when the server passes its health checks, is not ejected and is enabled, else 0.",
             kEveryServer, [&](const ServerRow& row) {
               page.sample("loadbalancer_server_healthy", row.labels,
                           uint64_t{is_healthy(row, now_ns) ? 1u : 0u});
             });
  per_server(page, rows, "loadbalancer_server_weight", "gauge", "The server's configured weight.",
             kEveryServer, [&](const ServerRow& row) {
               page.sample("loadbalancer_server_weight", row.labels,
                           uint64_t{row.server->config.weight});
             });
  per_server(page, rows, "loadbalancer_server_admin_state", "gauge",
             "What the admin API set: 0 enabled, 1 disabled, 2 draining.", kEveryServer,
             [&](const ServerRow& row) {
               page.sample("loadbalancer_server_admin_state", row.labels,
                           admin_state_value(row.server->admin.load(std::memory_order_relaxed)));
             });
  per_server(page, rows, "circuit_breaker_state", "gauge",
             "The server's circuit breaker: 0 closed, 1 open, 2 half-open.", has_breaker,
             [&](const ServerRow& row) {
               page.sample("circuit_breaker_state", row.labels,
                           uint64_t{breaker_code(*row.server)});
             });
  per_server(page, rows, "loadbalancer_breaker_openings_total", "counter",
             "Times the server's circuit breaker opened.", has_breaker, [&](const ServerRow& row) {
               page.sample("loadbalancer_breaker_openings_total", row.labels,
                           row.totals.breaker_openings);
             });
  per_server(page, rows, "loadbalancer_health_checks_total", "counter",
             "Active health checks of the server, by result.", has_checks,
             [&](const ServerRow& row) {
               page.sample("loadbalancer_health_checks_total", row.labels, "result", "passed",
                           row.totals.checks_passed);
               page.sample("loadbalancer_health_checks_total", row.labels, "result", "failed",
                           row.totals.checks_failed);
             });
  per_server(page, rows, "loadbalancer_ejections_total", "counter",
             "Outlier ejections of the server.", has_outliers, [&](const ServerRow& row) {
               page.sample("loadbalancer_ejections_total", row.labels, row.totals.ejections);
             });
  per_server(page, rows, "loadbalancer_upstream_failures_total", "counter",
             "Failed attempts on the server, by kind.", kEveryServer, [&](const ServerRow& row) {
               for (size_t k = 0; k < kFailureKindNames.size(); ++k) {
                 page.sample("loadbalancer_upstream_failures_total", row.labels, "kind",
                             kFailureKindNames[k], row.totals.failures[k]);
               }
             });

  if (!clusters.empty()) {
    page.family("loadbalancer_retries_total", "counter",
                "Retries made: attempts after a request's first.");
    for (const ClusterRows& cluster : clusters) {
      page.sample("loadbalancer_retries_total", cluster.labels, cluster.cluster->stats->retries());
    }
    const auto per_cluster = [&](std::string_view name, std::string_view help,
                                 observe::Counter observe::ClusterShard::*counter) {
      page.family(name, "counter", help);
      for (const ClusterRows& cluster : clusters) {
        page.sample(name, cluster.labels, cluster.cluster->stats->sum(counter));
      }
    };
    per_cluster("loadbalancer_tunnels_total",
                "Connections upgraded to a tunnel (WebSocket): a 101 passed to the client.",
                &observe::ClusterShard::tunnels_opened);
    // A gauge per cluster among `shown`: what opened less what closed.
    const auto open_now = [&](std::string_view name, std::string_view help,
                              observe::Counter observe::ClusterShard::*opened,
                              observe::Counter observe::ClusterShard::*closed, const auto& shown) {
      if (std::ranges::none_of(clusters, shown)) {
        return;
      }
      page.family(name, "gauge", help);
      for (const ClusterRows& cluster : clusters) {
        if (shown(cluster)) {
          const observe::ClusterStats& stats = *cluster.cluster->stats;
          page.sample(name, cluster.labels, stats.sum(opened) - stats.sum(closed));
        }
      }
    };
    const auto every = [](const ClusterRows&) { return true; };
    const auto speaks_http2 = [](const ClusterRows& cluster) {
      return cluster.cluster->config->protocol != config::UpstreamProtocol::http1;
    };
    open_now("loadbalancer_tunnels_open", "Upgraded connections open now.",
             &observe::ClusterShard::tunnels_opened, &observe::ClusterShard::tunnels_closed, every);
    open_now("loadbalancer_http2_connections_open",
             "HTTP/2 connections to the cluster's servers (protocol: h2/h2c) open now.",
             &observe::ClusterShard::http2_connections_opened,
             &observe::ClusterShard::http2_connections_closed, speaks_http2);
    open_now("loadbalancer_http2_streams_open",
             "Requests in flight on those connections, a stream each.",
             &observe::ClusterShard::http2_streams_opened,
             &observe::ClusterShard::http2_streams_closed, speaks_http2);
    per_cluster("loadbalancer_oversized_responses_total",
                "Responses whose head outgrew 64 KiB: the client got 502; not a server failure.",
                &observe::ClusterShard::oversized_responses);
    per_cluster("loadbalancer_request_bodies_cut_short_total",
                "Requests a server answered without all of their body reaching it (it closed "
                "after an early answer, or the client stopped sending).",
                &observe::ClusterShard::request_bodies_cut_short);
  }

  per_server(page, rows, "loadbalancer_received_bytes_total", "counter",
             "Bytes read from the server: response heads and bodies.", kEveryServer,
             [&](const ServerRow& row) {
               page.sample("loadbalancer_received_bytes_total", row.labels,
                           row.totals.bytes_received);
             });
  per_server(page, rows, "loadbalancer_sent_bytes_total", "counter",
             "Bytes written to the server: request heads and bodies.", kEveryServer,
             [&](const ServerRow& row) {
               page.sample("loadbalancer_sent_bytes_total", row.labels, row.totals.bytes_sent);
             });

  // The process: client_golang's names and help texts.
  page.family("process_cpu_seconds_total", "counter",
              "Total user and system CPU time spent in seconds.");
  page.sample("process_cpu_seconds_total", "", process.cpu_seconds);
  page.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  page.sample("process_resident_memory_bytes", "", process.resident_memory_bytes);
  page.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  page.sample("process_virtual_memory_bytes", "", process.virtual_memory_bytes);
  page.family("process_open_fds", "gauge", "Number of open file descriptors.");
  page.sample("process_open_fds", "", process.open_fds);
  page.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
  page.sample("process_max_fds", "", process.max_fds);
  page.family("process_start_time_seconds", "gauge",
              "Start time of the process since unix epoch in seconds.");
  page.sample("process_start_time_seconds", "", process.start_time_seconds);
  page.family("process_threads", "gauge", "Number of OS threads in the process.");
  page.sample("process_threads", "", process.threads);

  page.family("ballast_access_log_dropped_total", "counter",
              "Access log lines dropped because a queue was full or the output too slow.");
  page.sample("ballast_access_log_dropped_total", "", extra.access_log_dropped);
  page.family("ballast_requests_by_protocol_total", "counter",
              "Requests from clients, by the protocol they spoke.");
  for (size_t i = 0; i < observe::kClientProtocols; ++i) {
    page.sample("ballast_requests_by_protocol_total", "", "protocol",
                observe::protocol_name(static_cast<observe::ClientProtocol>(i)),
                extra.protocols.requests[i]);
  }
  page.family("ballast_http2_connections", "gauge", "HTTP/2 client connections open now.");
  page.sample("ballast_http2_connections", "", extra.protocols.http2_connections);
  page.family("ballast_http2_streams", "gauge", "HTTP/2 streams from clients open now.");
  page.sample("ballast_http2_streams", "", extra.protocols.http2_streams);
  page.family("ballast_proxy_protocol_headers_total", "counter",
              "PROXY protocol headers from trusted peers: taken, or refused (connection closed).");
  page.sample("ballast_proxy_protocol_headers_total", "", "result", "taken",
              extra.protocols.proxy_headers_taken);
  page.sample("ballast_proxy_protocol_headers_total", "", "result", "refused",
              extra.protocols.proxy_headers_refused);
  page.family("ballast_redirects_total", "counter",
              "Requests ballast answered with a redirect (a route's, or redirect_to_https).");
  page.sample("ballast_redirects_total", "", extra.protocols.redirects);
  page.family("ballast_client_connections", "gauge", "Client connections open now.");
  page.sample("ballast_client_connections", "", extra.client_connections);
  page.family("ballast_client_connections_refused_total", "counter",
              "Client connections closed at once: over max_connections_per_client.");
  page.sample("ballast_client_connections_refused_total", "", extra.client_connections_refused);
  page.family("ballast_accept_pauses_total", "counter",
              "Times a worker stopped accepting: at a connection limit, or out of descriptors.");
  page.sample("ballast_accept_pauses_total", "", "reason", "limit", extra.accept_pauses_at_limit);
  page.sample("ballast_accept_pauses_total", "", "reason", "descriptors",
              extra.accept_pauses_out_of_descriptors);
  page.family("ballast_spans_dropped_total", "counter",
              "Trace spans dropped because a queue was full or an export failed.");
  page.sample("ballast_spans_dropped_total", "", extra.spans_dropped);
  page.family("ballast_spans_exported_total", "counter", "Trace spans the collector accepted.");
  page.sample("ballast_spans_exported_total", "", extra.spans_exported);
  render_tls(page, generation, static_cast<int64_t>(std::time(nullptr)));
  render_upstream_tls(page, generation);
  render_rate_limits(page, generation);
  render_geo(page, generation);
  render_discovery(page, extra.discovery);
  page.family("ballast_config_generation", "gauge",
              "The configuration generation: 1 at start-up, +1 per successful reload.");
  page.sample("ballast_config_generation", "", generation.number);
  page.family("ballast_build_info", "gauge", "Always 1; the version is a label.");
  std::string version;
  append_label_value(version, extra.version.empty() ? "unknown" : extra.version);
  page.sample("ballast_build_info", "", "version", version, uint64_t{1});

  return page.take();
}

}  // namespace ballast::admin
