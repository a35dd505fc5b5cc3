#include "config/cluster_reader.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "balance/policy.h"
#include "config/discovery_reader.h"
#include "config/health_reader.h"
#include "config/protocol_reader.h"
#include "config/scalars.h"
#include "config/tls_reader.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 7> kServerKeys = {
    "host", "port", "weight", "max_connections", "backup", "region", "resolve",
};

constexpr std::array<Named<ResolveMode>, 3> kResolveModes = {{
    {"first", ResolveMode::first},
    {"all", ResolveMode::all},
    {"srv", ResolveMode::srv},
}};

constexpr std::array<std::string_view, 6> kRetryKeys = {
    "attempts",       "on", "per_try_timeout", "budget_percent", "budget_min_concurrent",
    "non_idempotent",
};

constexpr std::array<Named<RetryOn>, 3> kRetryConditions = {{
    {"connect_failure", RetryOn::connect_failure},
    {"timeout", RetryOn::timeout},
    {"5xx", RetryOn::server_error},
}};

constexpr std::array<std::string_view, 2> kPoolKeys = {"idle_per_server", "idle_timeout"};

constexpr std::array<std::string_view, 4> kSessionAffinityKeys = {
    "enabled",
    "method",
    "cookie_name",
    "header_name",
};

constexpr std::array<Named<AffinityMethod>, 3> kAffinityMethods = {{
    {"cookie", AffinityMethod::cookie},
    {"ip", AffinityMethod::ip},
    {"header", AffinityMethod::header},
}};

constexpr std::array<std::string_view, 3> kRegionsKeys = {
    "primary",
    "failover",
    "min_healthy_fraction",
};

balance::Algorithm read_algorithm(const Node& node) {
  std::array<std::string_view, balance::kAlgorithmNames.size()> names;
  std::transform(balance::kAlgorithmNames.begin(), balance::kAlgorithmNames.end(), names.begin(),
                 [](const balance::AlgorithmName& entry) { return entry.name; });
  return balance::kAlgorithmNames[node.choose(names, false)].algorithm;
}

// Servers, and the nodes of those that name a region, checked once the regions are known.
std::vector<ServerConfig> read_servers(const Node& list, std::vector<Node>& region_nodes) {
  const std::vector<Node> items = list.as_list();
  if (items.empty()) {
    list.fail("a cluster needs at least one server");
  }
  list.check_count(items.size(), kMaxServersPerCluster, "servers in a cluster");
  std::vector<ServerConfig> servers;
  std::unordered_map<std::string, std::string> first_paths;  // "host:port", lowercase -> path
  for (const Node& item : items) {
    const MapView fields = item.as_map(kServerKeys);
    ServerConfig server;
    const Node host = fields.require("host", "the server's host name or IP address");
    server.host = host.as_string();
    if (!is_host(server.host)) {
      host.fail(host.describe() + " is not an IP address or host name");
    }
    if (const std::optional<Node> resolve = fields.find("resolve")) {
      if (is_ip_literal(server.host)) {
        resolve->fail("resolve applies to a host name; " + server.host + " is an address");
      }
      server.resolve = resolve->as_enum(kResolveModes);
    }
    if (server.resolve != ResolveMode::srv) {
      server.port = fields.require("port", "the server's port, 1-65535").as_uint<uint16_t>(1);
    } else if (const std::optional<Node> port = fields.find("port")) {
      port->fail("SRV records give the ports; remove port");
    }
    if (const std::optional<Node> weight = fields.find("weight")) {
      if (server.resolve == ResolveMode::srv) {
        weight->fail("SRV records give the weights; remove weight");
      }
      server.weight = weight->as_uint<uint32_t>(1, kMaxWeight);
    }
    if (const std::optional<Node> limit = fields.find("max_connections")) {
      server.max_connections = limit->as_uint<uint32_t>();
    }
    if (const std::optional<Node> backup = fields.find("backup")) {
      server.backup = backup->as_bool();
    }
    if (const std::optional<Node> region = fields.find("region")) {
      server.region = region->as_name("region");
      region_nodes.push_back(*region);
    }
    const auto [first, inserted] = first_paths.emplace(lowercase(server.name()), item.path());
    if (!inserted) {
      item.fail("duplicate server " + server.name() + " (also " + first->second + ")");
    }
    servers.push_back(std::move(server));
  }
  if (std::all_of(servers.begin(), servers.end(),
                  [](const ServerConfig& server) { return server.backup; })) {
    list.fail("every server is a backup; at least one must be a primary");
  }
  return servers;
}

HashKeyConfig read_hash_on(const Node& node, balance::Algorithm algorithm) {
  const std::string text = node.as_string();
  HashKeyConfig key;
  const size_t colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  key.name = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (kind == "client_ip" && colon == std::string::npos) {
    key.on = HashOn::client_ip;
  } else if (kind == "path" && colon == std::string::npos) {
    key.on = HashOn::path;
  } else if ((kind == "header" || kind == "cookie") && is_http_token(key.name)) {
    key.on = kind == "header" ? HashOn::header : HashOn::cookie;
  } else {
    node.fail("expected client_ip, path, header:NAME or cookie:NAME, got " + node.describe());
  }
  const bool hashes = algorithm == balance::Algorithm::consistent_hash ||
                      algorithm == balance::Algorithm::maglev ||
                      (algorithm == balance::Algorithm::ip_hash && key.on == HashOn::client_ip);
  if (!hashes) {
    node.fail(
        "applies to the consistent_hash and maglev algorithms (ip_hash always hashes the "
        "client IP); this cluster's algorithm is " +
        std::string(balance::algorithm_name(algorithm)));
  }
  return key;
}

RetryConfig read_retry(const Node& node) {
  const MapView block = node.as_map(kRetryKeys);
  RetryConfig retry;
  if (const std::optional<Node> attempts = block.find("attempts")) {
    // A request remembers the servers it tried in a fixed inline set; more attempts than it holds
    // could go back to a server that already failed.
    retry.attempts = attempts->as_uint<uint32_t>(1, balance::ExcludedServers::kCapacity);
  }
  if (const std::optional<Node> on = block.find("on")) {
    const std::vector<Node> conditions = on->as_list();
    if (conditions.empty()) {
      on->fail("list at least one of connect_failure, timeout, 5xx");
    }
    retry.on = 0;
    for (const Node& condition : conditions) {
      const uint8_t bit = static_cast<uint8_t>(condition.as_enum(kRetryConditions));
      if ((retry.on & bit) != 0) {
        condition.fail("listed twice");
      }
      retry.on |= bit;
    }
  }
  if (const std::optional<Node> per_try = block.find("per_try_timeout")) {
    retry.per_try_timeout_ms = per_try->as_duration_ms();
  }
  if (const std::optional<Node> percent = block.find("budget_percent")) {
    retry.budget_percent = percent->as_percent(0);
  }
  if (const std::optional<Node> minimum = block.find("budget_min_concurrent")) {
    retry.budget_min_concurrent = minimum->as_uint<uint32_t>();
  }
  if (const std::optional<Node> non_idempotent = block.find("non_idempotent")) {
    retry.non_idempotent = non_idempotent->as_bool();
  }
  return retry;
}

PoolConfig read_pool(const Node& node) {
  const MapView block = node.as_map(kPoolKeys);
  PoolConfig pool;
  if (const std::optional<Node> idle = block.find("idle_per_server")) {
    pool.idle_per_server = idle->as_uint<uint32_t>(0, kMaxIdlePerServer);
  }
  if (const std::optional<Node> timeout = block.find("idle_timeout")) {
    pool.idle_timeout_ms = timeout->as_positive_duration_ms();
  }
  return pool;
}

std::string read_token(const Node& node, std::string_view what) {
  std::string token = node.as_string();
  if (!is_http_token(token)) {
    node.fail("a " + std::string(what) + " name is letters, digits and !#$%&'*+-.^_`|~; got " +
              node.describe());
  }
  return token;
}

SessionAffinityConfig read_session_affinity(const Node& node) {
  const MapView block = node.as_map(kSessionAffinityKeys);
  SessionAffinityConfig affinity;
  const std::optional<Node> enabled = block.find("enabled");
  affinity.enabled = enabled ? enabled->as_bool() : true;
  if (const std::optional<Node> method = block.find("method")) {
    affinity.method = method->as_enum(kAffinityMethods);
  }
  if (const std::optional<Node> cookie = block.find("cookie_name")) {
    if (affinity.method != AffinityMethod::cookie) {
      cookie->fail("applies to method: cookie only");
    }
    affinity.cookie_name = read_token(*cookie, "cookie");
  }
  if (affinity.method == AffinityMethod::header) {
    affinity.header_name = read_token(
        block.require("header_name", "method: header needs the header to read"), "header");
  } else if (const std::optional<Node> header = block.find("header_name")) {
    header->fail("applies to method: header only");
  }
  return affinity;
}

RegionsConfig read_regions(const Node& node) {
  const MapView block = node.as_map(kRegionsKeys);
  RegionsConfig regions;
  regions.primary = block.require("primary", "the region served first").as_name("region");
  if (const std::optional<Node> failover = block.find("failover")) {
    std::unordered_set<std::string> seen = {regions.primary};
    const std::vector<Node> items = failover->as_list();
    failover->check_count(items.size(), kMaxFailoverRegions, "failover regions");
    for (const Node& item : items) {
      std::string region = item.as_name("region");
      if (!seen.insert(region).second) {
        item.fail("region " + region + " is listed twice (or is the primary)");
      }
      regions.failover.push_back(std::move(region));
    }
  }
  if (const std::optional<Node> fraction = block.find("min_healthy_fraction")) {
    regions.min_healthy_fraction = fraction->as_double(0, 1);
  }
  return regions;
}

void check_server_regions(const std::vector<Node>& region_nodes,
                          const std::optional<RegionsConfig>& regions) {
  for (const Node& node : region_nodes) {
    if (!regions) {
      node.fail("a server's region needs a regions: block in its cluster");
    }
    const std::string region = node.as_string();
    const bool known = region == regions->primary ||
                       std::find(regions->failover.begin(), regions->failover.end(), region) !=
                           regions->failover.end();
    if (!known) {
      node.fail("region " + region + " is neither the primary (" + regions->primary +
                ") nor a failover region");
    }
  }
}

CircuitBreakerConfig read_cluster_breaker(const std::optional<Node>& own, BreakerLayers layers,
                                          const std::optional<Node>& service) {
  if (own && service) {
    own->fail("this cluster's breaker is also set at " + service->path() + " (" +
              service->position() + "); set it in one place");
  }
  for (const std::optional<Node>& block : {service, own}) {
    if (block) {
      apply_breaker_block(block->as_map(kBreakerKeys), layers);
    }
  }
  return resolve_breaker(layers);
}

}  // namespace

void apply_timeouts(const MapView& block, TimeoutsConfig& timeouts) {
  if (const std::optional<Node> connect = block.find("connect")) {
    timeouts.connect_ms = connect->as_positive_duration_ms();
  }
  if (const std::optional<Node> client = block.find("client")) {
    timeouts.client_ms = client->as_positive_duration_ms();
  }
  if (const std::optional<Node> server = block.find("server")) {
    timeouts.server_ms = server->as_positive_duration_ms();
  }
  const std::pair<std::string_view, uint64_t TimeoutsConfig::*> client_side[] = {
      {"client_header", &TimeoutsConfig::client_header_ms},
      {"client_body", &TimeoutsConfig::client_body_ms},
      {"client_send", &TimeoutsConfig::client_send_ms},
      {"keepalive", &TimeoutsConfig::keepalive_ms},
      {"tunnel", &TimeoutsConfig::tunnel_ms},
  };
  for (const auto& [key, field] : client_side) {
    if (const std::optional<Node> value = block.find(key)) {
      timeouts.*field = value->as_positive_duration_ms();
    }
  }
}

// `ip` and `header` affinity send equal keys to one server by consistent hashing, so they set
// the cluster's algorithm (unless it already hashes; another algorithm written out draws a
// warning) and its hash key (so hash_on, which would say something else, is an error).
void apply_hashed_affinity(const Node& node, const MapView& map, ClusterConfig& cluster) {
  const SessionAffinityConfig& affinity = cluster.session_affinity;
  if (!affinity.enabled || affinity.method == AffinityMethod::cookie) {
    return;
  }
  if (map.find("hash_on")) {
    node.fail("ip and header affinity choose the hash key themselves; remove hash_on");
  }
  const balance::Algorithm algorithm = cluster.algorithm;
  const bool hashes =
      algorithm == balance::Algorithm::consistent_hash || algorithm == balance::Algorithm::maglev ||
      (algorithm == balance::Algorithm::ip_hash && affinity.method == AffinityMethod::ip);
  if (!hashes) {
    if (map.find("algorithm")) {
      node.warn(
          "ip and header affinity balance by consistent hashing: this cluster uses "
          "consistent_hash, not " +
          std::string(balance::algorithm_name(algorithm)));
    }
    cluster.algorithm = balance::Algorithm::consistent_hash;
  }
  cluster.hash_key = affinity.method == AffinityMethod::ip
                         ? HashKeyConfig{HashOn::client_ip, ""}
                         : HashKeyConfig{HashOn::header, affinity.header_name};
}

ClusterConfig read_cluster(std::string name, const MapView& map, const ClusterDefaults& defaults,
                           const std::optional<Node>& service_breaker) {
  ClusterConfig cluster;
  cluster.name = std::move(name);
  if (const std::optional<Node> algorithm = map.find("algorithm")) {
    cluster.algorithm = read_algorithm(*algorithm);
  }
  std::vector<Node> region_nodes;
  if (const std::optional<Node> discovery = map.find("discovery")) {
    cluster.discovery = read_discovery(*discovery);
    if (const std::optional<Node> servers = map.find("servers")) {
      servers->fail("the servers come from etcd (discovery.etcd_prefix); remove servers");
    }
  } else {
    cluster.servers = read_servers(
        map.require("servers", "list the cluster's servers, each with host: and port:"),
        region_nodes);
  }
  if (const std::optional<Node> hash_on = map.find("hash_on")) {
    cluster.hash_key = read_hash_on(*hash_on, cluster.algorithm);
  }
  if (const std::optional<Node> check = map.find("health_check")) {
    cluster.health_check = read_health_check(*check);
  }
  if (const std::optional<Node> detection = map.find("outlier_detection")) {
    cluster.outlier_detection = read_outlier_detection(*detection);
  }
  cluster.circuit_breaker =
      read_cluster_breaker(map.find("circuit_breaker"), defaults.breaker, service_breaker);
  if (const std::optional<Node> retry = map.find("retry")) {
    cluster.retry = read_retry(*retry);
  }
  cluster.timeouts = defaults.timeouts;
  if (const std::optional<Node> timeouts = map.find("timeouts")) {
    apply_timeouts(timeouts->as_map(kTimeoutKeys), cluster.timeouts);
  }
  if (const std::optional<Node> affinity = map.find("session_affinity")) {
    cluster.session_affinity = read_session_affinity(*affinity);
    apply_hashed_affinity(*affinity, map, cluster);
  }
  if (const std::optional<Node> pool = map.find("pool")) {
    cluster.pool = read_pool(*pool);
  }
  if (const std::optional<Node> regions = map.find("regions")) {
    cluster.regions = read_regions(*regions);
  }
  check_server_regions(region_nodes, cluster.regions);
  if (const std::optional<Node> panic = map.find("panic_threshold")) {
    cluster.panic_threshold = panic->as_percent(0);
  }
  if (const std::optional<Node> tls = map.find("upstream_tls")) {
    cluster.upstream_tls = read_upstream_tls(*tls);
  }
  read_upstream_protocol(map, cluster);
  return cluster;
}

}  // namespace ballast::config
