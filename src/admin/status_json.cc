#include "admin/status_json.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "admin/edge_status.h"
#include "balance/algorithm.h"

namespace ballast::admin {
namespace {

constexpr std::array<std::string_view, 6> kReasonNames = {
    "failing health checks", "ejected", "breaker open", "disabled", "draining",
    "not in active region",
};

constexpr std::array<std::string_view, observe::kStatusClasses> kClassNames = {"1xx", "2xx", "3xx",
                                                                               "4xx", "5xx"};
constexpr std::array<std::string_view, 5> kConditionNames = {"up", "down", "disabled", "draining",
                                                             "standby"};
constexpr std::array<std::string_view, 4> kBreakerCodeNames = {"closed", "open", "half_open",
                                                               "none"};
constexpr std::array<std::string_view, static_cast<size_t>(observe::FailureKind::count)>
    kFailureNames = {"connect_failure", "reset", "timeout", "server_error"};

std::string_view admin_name(upstream::AdminState state) noexcept {
  switch (state) {
    case upstream::AdminState::enabled:
      return "enabled";
    case upstream::AdminState::disabled:
      return "disabled";
    case upstream::AdminState::draining:
      return "draining";
  }
  return "enabled";
}

// What the shared state can say about active health: the tracker itself belongs to the checking
// worker, so "not yet checked" and "failed" both read as unhealthy here.
std::string_view health_name(const upstream::ClusterState& cluster,
                             const upstream::ServerState& server) noexcept {
  if (!cluster.config->health_check.enabled) {
    return "unchecked";
  }
  return server.passes_checks.load(std::memory_order_relaxed) ? "healthy" : "unhealthy";
}

void write_totals_by_class(observe::JsonWriter& json, std::string_view name,
                           const std::array<uint64_t, observe::kStatusClasses>& counts) {
  json.key(name);
  json.begin_object();
  for (size_t i = 0; i < observe::kStatusClasses; ++i) {
    json.field(kClassNames[i], counts[i]);
  }
  json.end_object();
}

void write_breaker(observe::JsonWriter& json, const upstream::ServerState& server,
                   uint64_t now_ns) {
  json.key("breaker");
  if (server.breaker == nullptr) {
    json.null();
    return;
  }
  const health::BreakerSnapshot snapshot = server.breaker->snapshot(now_ns);
  json.begin_object();
  json.field("state", health::state_name(snapshot.state));
  json.field("transitions", snapshot.generation);
  json.field("consecutive_failures", snapshot.consecutive_failures);
  json.field("probes_in_flight", snapshot.probes_in_flight);
  json.field("probe_successes", snapshot.probe_successes);
  const uint64_t wait_ns =
      snapshot.state == health::BreakerState::open && snapshot.half_open_at_ns > now_ns
          ? snapshot.half_open_at_ns - now_ns
          : 0;
  json.field("half_open_in_ms", wait_ns / 1'000'000);
  json.key("window");
  json.begin_object();
  json.field("calls", snapshot.window.calls);
  json.field("failures", snapshot.window.failures);
  json.field("slow_calls", snapshot.window.slow_calls);
  json.end_object();
  json.end_object();
}

void write_server(observe::JsonWriter& json, const upstream::ClusterState& cluster, size_t index,
                  const ServerVerdict& verdict, uint32_t region_rank, const RateSampler& sampler,
                  uint64_t now_ns) {
  const upstream::ServerState& server = *cluster.servers[index];
  const observe::ServerTotals totals = server.stats->totals();
  const WindowStats window = sampler.window(cluster.config->name, server.name, server.stats.get(),
                                            reading_of(totals, now_ns));
  json.begin_object();
  json.field("name", server.name);
  json.field("weight", server.config.weight);
  json.field("backup", server.config.backup);
  json.field("region", upstream::region_name(*cluster.config, region_rank));
  json.field("eligible", verdict.eligible);
  json.field("state", condition_name(verdict.condition));
  json.key("reasons");
  json.begin_array();
  for (const std::string_view reason : reason_names(verdict.reasons)) {
    json.string(reason);
  }
  json.end_array();
  json.field("admin", admin_name(server.admin.load(std::memory_order_relaxed)));
  json.field("health", health_name(cluster, server));
  write_breaker(json, server, now_ns);
  json.field("active_connections", server.active_attempts.load(std::memory_order_relaxed));
  json.field("requests_per_second", window.requests_per_second, 2);
  json.field("p50_ms", window.p50_seconds * 1e3);
  json.field("p99_ms", window.p99_seconds * 1e3);
  json.field("requests_total", totals.response_count());
  write_totals_by_class(json, "responses", totals.responses);
  json.key("failures");
  json.begin_object();
  for (size_t i = 0; i < kFailureNames.size(); ++i) {
    json.field(kFailureNames[i], totals.failures[i]);
  }
  json.end_object();
  json.field("retries", totals.retries);
  json.field("bytes_received", totals.bytes_received);
  json.field("bytes_sent", totals.bytes_sent);
  json.field("checks_passed", totals.checks_passed);
  json.field("checks_failed", totals.checks_failed);
  json.field("ejections", totals.ejections);
  json.field("breaker_openings", totals.breaker_openings);
  json.end_object();
}

void write_cluster(observe::JsonWriter& json, const upstream::ClusterState& cluster,
                   const RateSampler& sampler, uint64_t now_ns) {
  const ClusterVerdict verdict = assess_cluster(cluster, now_ns);
  const std::vector<uint32_t> ranks = upstream::region_ranks(cluster);
  json.begin_object();
  json.field("name", cluster.config->name);
  json.field("algorithm", balance::algorithm_name(cluster.config->algorithm));
  json.key("active_region");
  if (cluster.config->regions) {
    json.string(upstream::region_name(*cluster.config, verdict.active_region));
  } else {
    json.null();
  }
  json.field("panic", verdict.panic);
  const auto eligible = std::count_if(verdict.servers.begin(), verdict.servers.end(),
                                      [](const ServerVerdict& server) { return server.eligible; });
  json.field("eligible_servers", static_cast<uint64_t>(eligible));
  if (cluster.stats != nullptr) {
    write_totals_by_class(json, "local_responses", cluster.stats->local_responses());
    json.field("retries", cluster.stats->retries());
  }
  json.key("servers");
  json.begin_array();
  for (size_t i = 0; i < cluster.servers.size(); ++i) {
    write_server(json, cluster, i, verdict.servers[i], ranks[i], sampler, now_ns);
  }
  json.end_array();
  json.end_object();
}

template <typename Value>
void write_series(observe::JsonWriter& json, std::string_view name,
                  const std::vector<HistoryPoint>& points, Value value, int decimals) {
  json.key(name);
  json.begin_array();
  for (const HistoryPoint& point : points) {
    if (decimals == 0) {
      json.number(static_cast<uint64_t>(value(point)));
    } else {
      json.number(static_cast<double>(value(point)), decimals);
    }
  }
  json.end_array();
}

// ---- reading ----

class Reader {
 public:
  explicit Reader(std::string_view text) noexcept : text_(text) {}

  std::optional<JsonValue> document() {
    JsonValue value;
    if (!parse_value(value, 0)) {
      return std::nullopt;
    }
    skip_space();
    if (at_ != text_.size()) {
      return std::nullopt;
    }
    return value;
  }

 private:
  static constexpr int kMaxDepth = 64;

  void skip_space() noexcept {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) {
      ++at_;
    }
  }
  bool consume(std::string_view word) noexcept {
    if (text_.substr(at_, word.size()) != word) {
      return false;
    }
    at_ += word.size();
    return true;
  }

  bool parse_value(JsonValue& out, int depth) {
    if (depth > kMaxDepth) {
      return false;
    }
    skip_space();
    if (at_ >= text_.size()) {
      return false;
    }
    switch (text_[at_]) {
      case '{':
        return parse_object(out, depth);
      case '[':
        return parse_array(out, depth);
      case '"':
        out.kind = JsonValue::Kind::string;
        return parse_string(out.string);
      case 't':
        out.kind = JsonValue::Kind::boolean;
        out.boolean = true;
        return consume("true");
      case 'f':
        out.kind = JsonValue::Kind::boolean;
        return consume("false");
      case 'n':
        out.kind = JsonValue::Kind::null;
        return consume("null");
      default:
        out.kind = JsonValue::Kind::number;
        return parse_number(out.number);
    }
  }

  bool parse_object(JsonValue& out, int depth) {
    out.kind = JsonValue::Kind::object;
    ++at_;  // '{'
    skip_space();
    if (consume("}")) {
      return true;
    }
    while (true) {
      skip_space();
      std::string name;
      if (at_ >= text_.size() || text_[at_] != '"' || !parse_string(name)) {
        return false;
      }
      skip_space();
      if (!consume(":")) {
        return false;
      }
      JsonValue value;
      if (!parse_value(value, depth + 1)) {
        return false;
      }
      out.members.emplace_back(std::move(name), std::move(value));
      skip_space();
      if (consume("}")) {
        return true;
      }
      if (!consume(",")) {
        return false;
      }
    }
  }

  bool parse_array(JsonValue& out, int depth) {
    out.kind = JsonValue::Kind::array;
    ++at_;  // '['
    skip_space();
    if (consume("]")) {
      return true;
    }
    while (true) {
      JsonValue value;
      if (!parse_value(value, depth + 1)) {
        return false;
      }
      out.items.push_back(std::move(value));
      skip_space();
      if (consume("]")) {
        return true;
      }
      if (!consume(",")) {
        return false;
      }
    }
  }

  bool parse_hex4(uint32_t& out) noexcept {
    if (text_.size() - at_ < 4) {
      return false;
    }
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[at_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  static void append_utf8(std::string& out, uint32_t code) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  bool parse_string(std::string& out) {
    ++at_;  // '"'
    while (at_ < text_.size()) {
      const char c = text_[at_++];
      if (c == '"') {
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return false;  // control characters must be escaped
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (at_ >= text_.size()) {
        return false;
      }
      const char escaped = text_[at_++];
      switch (escaped) {
        case '"':
        case '\\':
        case '/':
          out.push_back(escaped);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          uint32_t code = 0;
          if (!parse_hex4(code)) {
            return false;
          }
          if (code >= 0xD800 && code <= 0xDBFF) {  // a high surrogate: its low half must follow
            uint32_t low = 0;
            if (!consume("\\u") || !parse_hex4(low) || low < 0xDC00 || low > 0xDFFF) {
              return false;
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            return false;
          }
          append_utf8(out, code);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  bool parse_number(double& out) {
    // RFC 8259's grammar: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
    const size_t start = at_;
    const auto digits = [this] {
      const size_t from = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
        ++at_;
      }
      return at_ - from;
    };
    consume("-");
    if (consume("0")) {
      // a leading zero stands alone
    } else if (digits() == 0) {
      return false;
    }
    if (consume(".") && digits() == 0) {
      return false;
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (!consume("+")) {
        consume("-");
      }
      if (digits() == 0) {
        return false;
      }
    }
    const std::string literal(text_.substr(start, at_ - start));
    out = std::strtod(literal.c_str(), nullptr);
    return true;
  }

  std::string_view text_;
  size_t at_ = 0;
};

}  // namespace

std::vector<std::string_view> reason_names(uint8_t reasons) {
  std::vector<std::string_view> names;
  for (size_t bit = 0; bit < kReasonNames.size(); ++bit) {
    if ((reasons & (1u << bit)) != 0) {
      names.push_back(kReasonNames[bit]);
    }
  }
  return names;
}

std::string_view condition_name(Condition condition) noexcept {
  return kConditionNames[static_cast<size_t>(condition)];
}

ClusterVerdict assess_cluster(const upstream::ClusterState& cluster, uint64_t now_ns) {
  upstream::ClusterEligibility eligibility;
  upstream::assess_eligibility(cluster, upstream::region_ranks(cluster), now_ns, eligibility);
  ClusterVerdict verdict;
  verdict.active_region = eligibility.active_region;
  verdict.panic = eligibility.panic;
  verdict.servers.resize(cluster.servers.size());
  for (size_t i = 0; i < cluster.servers.size(); ++i) {
    const uint8_t reasons = eligibility.reasons[i];
    ServerVerdict& out = verdict.servers[i];
    out.reasons = reasons;
    out.eligible = reasons == 0;
    if (out.eligible) {
      out.condition = Condition::up;
    } else if ((reasons & (kFailingChecks | kEjected | kBreakerOpen)) != 0) {
      out.condition = Condition::down;
    } else if ((reasons & kDisabled) != 0) {
      out.condition = Condition::disabled;
    } else if ((reasons & kDraining) != 0) {
      out.condition = Condition::draining;
    } else {
      out.condition = Condition::standby;
    }
  }
  return verdict;
}

uint8_t breaker_code(const upstream::ServerState& server) noexcept {
  if (server.breaker == nullptr) {
    return 3;
  }
  switch (server.breaker->state()) {
    case health::BreakerState::closed:
      return 0;
    case health::BreakerState::open:
      return 1;
    case health::BreakerState::half_open:
      return 2;
  }
  return 3;
}

ServerReading read_server(const upstream::ServerState& server, const ServerVerdict& verdict,
                          uint64_t now_ns) {
  ServerReading reading = reading_of(server.stats->totals(), now_ns);
  reading.active = server.active_attempts.load(std::memory_order_relaxed);
  reading.state = static_cast<uint8_t>(verdict.condition);
  reading.breaker = breaker_code(server);
  return reading;
}

// "tls": each TLS listener's certificates (names, expiry, seconds left) and handshakes.
void write_tls_listeners(observe::JsonWriter& json, const upstream::Generation& generation,
                         int64_t now_unix) {
  json.key("tls");
  json.begin_array();
  for (const auto& context : generation.listener_tls) {
    if (context == nullptr) {
      continue;
    }
    json.begin_object();
    json.field("listener", context->listener_name());
    json.key("certificates");
    json.begin_array();
    for (const tls::Certificate& certificate : context->certificates()) {
      json.begin_object();
      json.field("file", certificate.files.cert.path);
      json.key("names");
      json.begin_array();
      for (const std::string& name : certificate.names) {
        json.string(name);
      }
      json.end_array();
      json.field("key_type", certificate.key_type);
      json.field("not_after_unix",
                 static_cast<uint64_t>(std::max<int64_t>(certificate.not_after_unix, 0)));
      // Negative once expired: a double keeps the sign.
      json.field("seconds_left", static_cast<double>(certificate.not_after_unix - now_unix), 0);
      json.end_object();
    }
    json.end_array();
    const tls::TlsStats& stats = context->stats();
    json.field("full_handshakes", stats.full_handshakes.load(std::memory_order_relaxed));
    json.field("resumed_handshakes", stats.resumed_handshakes.load(std::memory_order_relaxed));
    uint64_t failed = 0;
    for (const auto& errors : stats.errors) {
      failed += errors.load(std::memory_order_relaxed);
    }
    json.field("failed_handshakes", failed);
    json.end_object();
  }
  json.end_array();
}

// Requests by the protocol clients spoke, and HTTP/2's connections and streams open now.
void write_clients(observe::JsonWriter& json, const observe::ProtocolTotals& protocols) {
  json.key("clients");
  json.begin_object();
  json.key("requests_by_protocol");
  json.begin_object();
  for (size_t i = 0; i < observe::kClientProtocols; ++i) {
    json.field(observe::protocol_name(static_cast<observe::ClientProtocol>(i)),
               protocols.requests[i]);
  }
  json.end_object();
  json.key("http2");
  json.begin_object();
  json.field("connections", protocols.http2_connections);
  json.field("streams", protocols.http2_streams);
  const double per_connection = protocols.http2_connections == 0
                                    ? 0.0
                                    : static_cast<double>(protocols.http2_streams) /
                                          static_cast<double>(protocols.http2_connections);
  json.field("streams_per_connection", per_connection, 2);
  json.end_object();
  json.key("proxy_protocol_headers");
  json.begin_object();
  json.field("taken", protocols.proxy_headers_taken);
  json.field("refused", protocols.proxy_headers_refused);
  json.end_object();
  json.field("redirects", protocols.redirects);
  json.end_object();
}

namespace {

// Where the discovered clusters' servers come from, and how that is going (docs/fleet.md).
void write_discovery(observe::JsonWriter& json,
                     const std::vector<discovery::SourceReport>& sources) {
  json.key("discovery");
  json.begin_array();
  for (const discovery::SourceReport& source : sources) {
    json.begin_object();
    json.field("source", source.kind);
    json.field("cluster", source.cluster);
    json.field("target", source.target);
    json.field("up", source.up);
    if (!source.error.empty()) {
      json.field("error", source.error);
    }
    if (source.kind == "etcd") {
      json.field("endpoint", source.endpoint);
      json.field("revision", static_cast<uint64_t>(source.revision));
      json.field("resyncs", source.resyncs);
    }
    json.field("servers", source.servers);
    json.field("updates", source.updates);
    json.field("failures", source.failures);
    json.field("last_change_unix_ms", static_cast<uint64_t>(source.last_change_unix_ms));
    json.end_object();
  }
  json.end_array();
}

}  // namespace

std::string status_json(const upstream::Generation& generation, const RateSampler& sampler,
                        const ProcessInfo& process, uint64_t now_ns) {
  std::string out;
  observe::JsonWriter json(out);
  json.begin_object();
  json.key("process");
  json.begin_object();
  json.field("pid", static_cast<uint64_t>(getpid()));  // which process answered, across upgrades
  json.field("uptime_seconds", process.uptime_seconds, 1);
  json.field("generation", generation.number);
  json.field("workers", process.workers);
  json.end_object();
  write_clients(json, process.protocols);
  json.field("window_seconds", RateSampler::kWindowNs / RateSampler::kIntervalNs);
  json.key("clusters");
  json.begin_array();
  for (const upstream::ClusterState& cluster : generation.clusters) {
    write_cluster(json, cluster, sampler, now_ns);
  }
  json.end_array();
  write_tls_listeners(json, generation, static_cast<int64_t>(std::time(nullptr)));
  write_discovery(json, process.discovery);
  write_edge_status(json, generation);
  json.end_object();
  return out;
}

std::string server_json(const upstream::ClusterState& cluster, size_t server,
                        const RateSampler& sampler, uint64_t now_ns) {
  const ClusterVerdict verdict = assess_cluster(cluster, now_ns);
  const std::vector<uint32_t> ranks = upstream::region_ranks(cluster);
  std::string out;
  observe::JsonWriter json(out);
  write_server(json, cluster, server, verdict.servers[server], ranks[server], sampler, now_ns);
  return out;
}

std::string history_json(const upstream::Generation& generation, const RateSampler& sampler,
                         uint64_t since_round) {
  std::string out;
  observe::JsonWriter json(out);
  json.begin_object();
  json.field("round", sampler.rounds());
  json.field("interval_seconds", RateSampler::kIntervalNs / 1'000'000'000);
  json.key("state_names");
  json.begin_array();
  for (const std::string_view name : kConditionNames) {
    json.string(name);
  }
  json.end_array();
  json.key("breaker_names");
  json.begin_array();
  for (const std::string_view name : kBreakerCodeNames) {
    json.string(name);
  }
  json.end_array();
  json.key("clusters");
  json.begin_array();
  for (const upstream::ClusterState& cluster : generation.clusters) {
    json.begin_object();
    json.field("name", cluster.config->name);
    json.key("servers");
    json.begin_array();
    for (const auto& server : cluster.servers) {
      const std::vector<HistoryPoint> points =
          sampler.history(cluster.config->name, server->name, since_round);
      json.begin_object();
      json.field("name", server->name);
      write_series(
          json, "requests_per_second", points,
          [](const HistoryPoint& p) { return p.requests_per_second; }, 2);
      write_series(
          json, "p50_ms", points, [](const HistoryPoint& p) { return p.p50_ms; }, 3);
      write_series(
          json, "p99_ms", points, [](const HistoryPoint& p) { return p.p99_ms; }, 3);
      write_series(
          json, "active", points, [](const HistoryPoint& p) { return p.active; }, 0);
      write_series(
          json, "state", points, [](const HistoryPoint& p) { return p.state; }, 0);
      write_series(
          json, "breaker", points, [](const HistoryPoint& p) { return p.breaker; }, 0);
      json.end_object();
    }
    json.end_array();
    json.end_object();
  }
  json.end_array();
  json.end_object();
  return out;
}

// ---- JsonValue ----

const JsonValue* JsonValue::find(std::string_view name) const noexcept {
  if (kind != Kind::object) {
    return nullptr;
  }
  for (const auto& member : members) {
    if (member.first == name) {
      return &member.second;
    }
  }
  return nullptr;
}

std::string_view JsonValue::string_or(std::string_view name,
                                      std::string_view fallback) const noexcept {
  const JsonValue* value = find(name);
  return value != nullptr && value->kind == Kind::string ? std::string_view(value->string)
                                                         : fallback;
}

double JsonValue::number_or(std::string_view name, double fallback) const noexcept {
  const JsonValue* value = find(name);
  return value != nullptr && value->kind == Kind::number ? value->number : fallback;
}

bool JsonValue::boolean_or(std::string_view name, bool fallback) const noexcept {
  const JsonValue* value = find(name);
  return value != nullptr && value->kind == Kind::boolean ? value->boolean : fallback;
}

std::optional<JsonValue> parse_json(std::string_view text) {
  return Reader(text).document();
}

}  // namespace ballast::admin
