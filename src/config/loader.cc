#include "config/loader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/address_book.h"
#include "config/breaker_reader.h"
#include "config/cluster_reader.h"
#include "config/discovery_reader.h"
#include "config/forwarding_reader.h"
#include "config/geo_reader.h"
#include "config/listener_reader.h"
#include "config/rate_limit_reader.h"
#include "config/settings_reader.h"
#include "config/yaml_document.h"
#include "config/yaml_node.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 18> kTopLevelKeys = {
    "load_balancer",
    "listeners",
    "clusters",
    "workers",
    "drain_timeout",
    "timeouts",
    "admin",
    "monitoring",
    "circuit_breaker",
    "tracing",
    "forwarding",
    "max_connections",
    "max_connections_per_client",
    "io_uring",
    "resolver",
    "etcd",
    "rate_limits",
    "geo",
};

template <size_t A, size_t B>
constexpr std::array<std::string_view, A + B> concat(const std::array<std::string_view, A>& a,
                                                     const std::array<std::string_view, B>& b) {
  std::array<std::string_view, A + B> joined;
  for (size_t i = 0; i < A; ++i) {
    joined[i] = a[i];
  }
  for (size_t i = 0; i < B; ++i) {
    joined[A + i] = b[i];
  }
  return joined;
}

// The short shape's block is a cluster plus its listener.
constexpr auto kLoadBalancerKeys = concat(kClusterKeys, kDefaultListenerKeys);
// The top-level breaker is every cluster's, plus overrides for some.
constexpr auto kTopBreakerKeys = concat(kBreakerKeys, std::array<std::string_view, 1>{"services"});

// Where each cluster's `circuit_breaker.services` entry is, by cluster name.
using ServiceBreakers = std::unordered_map<std::string, Node>;

std::optional<Node> service_for(const ServiceBreakers& services, const std::string& cluster) {
  const auto it = services.find(cluster);
  return it == services.end() ? std::nullopt : std::optional<Node>(it->second);
}

// An entry for a cluster that does not exist is a typo in the full shape. The short shape has
// one cluster, "default", yet its documented example names a `database` service: such entries
// are checked like any breaker, then ignored with a warning.
void check_services(const std::vector<std::pair<Node, Node>>& entries,
                    const std::vector<ClusterConfig>& clusters, const BreakerLayers& defaults,
                    bool short_shape) {
  std::unordered_set<std::string> names;
  for (const ClusterConfig& cluster : clusters) {
    names.insert(cluster.name);
  }
  for (const auto& [key, value] : entries) {
    const std::string name = key.as_name("cluster");
    if (names.contains(name)) {
      continue;
    }
    if (!short_shape) {
      key.fail("no cluster named " + name);
    }
    BreakerLayers layers = defaults;
    apply_breaker_block(value.as_map(kBreakerKeys), layers);
    resolve_breaker(layers);
    key.warn("ignored: with load_balancer: the only cluster is \"default\"");
  }
}

void read_short_shape(const Node& load_balancer, const ClusterDefaults& defaults,
                      const ServiceBreakers& services, AddressBook& addresses, Config& config) {
  const MapView block = load_balancer.as_map(kLoadBalancerKeys);
  ClusterConfig cluster =
      read_cluster("default", block, defaults, service_for(services, "default"));
  config.listeners.push_back(read_default_listener(block, cluster, addresses));
  config.timeouts = cluster.timeouts;  // one listener, one cluster: its timeouts are the client's
  config.clusters.push_back(std::move(cluster));
}

void read_full_shape(const MapView& top, const ClusterDefaults& defaults,
                     const ServiceBreakers& services, AddressBook& addresses, Config& config) {
  const Node clusters = top.require("clusters", "a map from each cluster's name to its settings");
  const Node listeners = top.require("listeners", "a list of {name, listen, mode, routes}");
  std::vector<Node> cluster_keys;
  const std::vector<std::pair<Node, Node>> entries = clusters.as_named_map();
  clusters.check_count(entries.size(), kMaxClusters, "clusters");
  size_t servers_in_all = 0;
  for (const auto& [key, value] : entries) {
    std::string name = key.as_name("cluster");
    const std::optional<Node> service = service_for(services, name);
    config.clusters.push_back(
        read_cluster(std::move(name), value.as_map(kClusterKeys), defaults, service));
    cluster_keys.push_back(key);
    servers_in_all += config.clusters.back().servers.size();
    key.check_count(servers_in_all, kMaxServersInAll, "servers in all clusters together");
  }
  if (config.clusters.empty()) {
    clusters.fail("define at least one cluster");
  }
  config.listeners = read_listeners(listeners, config.clusters, addresses);
  std::unordered_set<std::string> routed;
  std::unordered_set<std::string> routed_from_http2;  // by a listener HTTP/2 clients can reach
  for (const ListenerConfig& listener : config.listeners) {
    const bool http2_clients =
        listener.mode == ListenerMode::tcp || listener.h2c ||
        (listener.tls.enabled &&
         std::ranges::find(listener.tls.alpn, "h2") != listener.tls.alpn.end());
    for (const RouteConfig& route : listener.routes) {
      routed.insert(route.cluster);
      if (http2_clients) {
        routed_from_http2.insert(route.cluster);
      }
    }
  }
  for (size_t i = 0; i < config.clusters.size(); ++i) {
    if (!routed.contains(config.clusters[i].name)) {
      cluster_keys[i].warn("no route sends traffic to this cluster");
    } else if (config.clusters[i].protocol != UpstreamProtocol::http1 &&
               !routed_from_http2.contains(config.clusters[i].name)) {
      cluster_keys[i].warn(
          "its servers speak HTTP/2, which only HTTP/2 clients reach (HTTP/1.1 ones get 505), "
          "and no listener routing here accepts HTTP/2: set h2c: true or tls.alpn: [h2, http/1.1]");
    }
  }
}

// A global rate limit's counts meet the fleet's in Redis: rate_limits.redis must say where.
void check_global_limits(const Node& root, const Config& config) {
  if (config.rate_limits.redis.enabled) {
    return;
  }
  for (const ListenerConfig& listener : config.listeners) {
    const auto check = [&](const RateLimitConfig& limit) {
      if (limit.enabled && limit.global) {
        root.absent("rate_limits.redis")
            .fail("rate limit " + limit.name +
                  " is global: add rate_limits.redis with the fleet's Redis address");
      }
    };
    check(listener.rate_limit);
    for (const RouteConfig& route : listener.routes) {
      check(route.rate_limit);
    }
  }
}

// A route's `geo:` names regions of the top-level geo: block.
void check_geo_routes(const Node& root, const Config& config) {
  for (const ListenerConfig& listener : config.listeners) {
    for (const RouteConfig& route : listener.routes) {
      for (const auto& [region, cluster] : route.geo_clusters) {
        const bool known = std::any_of(
            config.geo.regions.begin(), config.geo.regions.end(),
            [&region](const GeoRegionConfig& defined) { return defined.name == region; });
        if (!known) {
          root.absent("geo.regions")
              .fail("route " + route.name + " of listener " + listener.name + " sends region " +
                    region + " to cluster " + cluster + ": define the region under geo.regions");
        }
      }
    }
  }
}

Config read_config(const Node& root) {
  if (root.is_null()) {
    root.fail("the file is empty; write load_balancer: (one cluster) or listeners: and clusters:");
  }
  const MapView top = root.as_map(kTopLevelKeys);
  Config config;
  if (const std::optional<Node> workers = top.find("workers")) {
    config.workers = workers->as_uint<uint32_t>(0, kMaxWorkers);
  }
  if (const std::optional<Node> drain = top.find("drain_timeout")) {
    config.drain_timeout_ms = drain->as_duration_ms();
  }
  if (const std::optional<Node> limit = top.find("max_connections")) {
    config.max_connections = limit->as_uint<uint32_t>(0, kMaxClientConnections);
  }
  if (const std::optional<Node> limit = top.find("max_connections_per_client")) {
    config.max_connections_per_client = limit->as_uint<uint32_t>(0, UINT16_MAX);
  }
  if (const std::optional<Node> io_uring = top.find("io_uring")) {
    config.io_uring = io_uring->as_bool();
  }
  ClusterDefaults defaults;
  if (const std::optional<Node> timeouts = top.find("timeouts")) {
    apply_timeouts(timeouts->as_map(kTimeoutKeys), defaults.timeouts);
  }
  config.timeouts = defaults.timeouts;
  std::vector<std::pair<Node, Node>> service_entries;
  if (const std::optional<Node> breaker = top.find("circuit_breaker")) {
    const MapView block = breaker->as_map(kTopBreakerKeys);
    apply_breaker_block(block, defaults.breaker);
    if (const std::optional<Node> services = block.find("services")) {
      service_entries = services->as_named_map();
      services->check_count(service_entries.size(), kMaxClusters, "services");
      if (block.size() == 1) {
        // A block of nothing but services: turns on the breakers it names, not every cluster's.
        defaults.breaker.config.enabled = false;
      }
    }
  }
  ServiceBreakers services;
  for (const auto& [key, value] : service_entries) {
    services.emplace(key.as_string(), value);
  }
  AddressBook addresses;
  config.admin = read_admin(top.get("admin"), addresses);
  config.monitoring = read_monitoring(top.get("monitoring"), addresses);
  config.forwarding = read_forwarding(top.get("forwarding"));
  std::optional<Node> tracing = top.find("tracing");
  if (const std::optional<Node> nested = nested_tracing(top.get("monitoring"))) {
    if (tracing) {
      nested->fail("tracing is set at the top level too; write the block once");
    }
    tracing = nested;
  }
  if (tracing) {
    config.tracing = read_tracing(*tracing);
  }
  if (const std::optional<Node> resolver = top.find("resolver")) {
    config.resolver = read_resolver(*resolver);
  }
  if (const std::optional<Node> etcd = top.find("etcd")) {
    config.etcd = read_etcd(*etcd);
  }
  if (const std::optional<Node> rate_limits = top.find("rate_limits")) {
    config.rate_limits = read_rate_limits(*rate_limits);
  }
  config.geo = read_geo(top.get("geo"));
  const std::optional<Node> load_balancer = top.find("load_balancer");
  if (load_balancer) {
    for (const std::string_view full_shape_key : {"listeners", "clusters"}) {
      if (const std::optional<Node> other = top.find(full_shape_key)) {
        other->fail(
            "load_balancer: (one cluster) and listeners: with clusters: are two ways to "
            "write a configuration; use one");
      }
    }
    read_short_shape(*load_balancer, defaults, services, addresses, config);
  } else if (!top.find("listeners") && !top.find("clusters")) {
    top.require("load_balancer", "write load_balancer: (one cluster) or listeners: and clusters:");
  } else {
    read_full_shape(top, defaults, services, addresses, config);
  }
  check_services(service_entries, config.clusters, defaults.breaker, load_balancer.has_value());
  check_global_limits(root, config);
  check_geo_routes(root, config);
  for (const ClusterConfig& cluster : config.clusters) {
    if (!cluster.discovery.etcd_prefix.empty() && !config.etcd.enabled()) {
      root.absent("etcd").fail("cluster " + cluster.name +
                               " takes its servers from etcd (discovery.etcd_prefix); add an "
                               "etcd: block with the members' endpoints");
    }
  }
  return config;
}

}  // namespace

Config parse_config(std::string_view yaml_text, const std::string& source_name) {
  const YAML::Node yaml = parse_single_document(yaml_text, source_name);
  // Plain YAML spends at least two bytes per map entry or list item, so a walk visiting more
  // nodes than the text has bytes is being multiplied by aliases.
  Document document(source_name, yaml_text.size());
  const Node root(yaml, "", YAML::Mark(), document);
  Config config = read_config(root);
  config.source = source_name;
  config.warnings = document.take_warnings();
  return config;
}

Config load_config_file(const std::string& path) {
  const auto fail = [&path](const std::string& problem) {
    return ConfigError(located_message(path, 1, 1, "(file)", problem));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw fail(std::string("cannot open: ") + std::strerror(errno));
  }
  std::string text;
  std::array<char, 65'536> buffer;
  int read_errno = 0;
  while (text.size() <= kMaxConfigBytes) {
    const ssize_t count = ::read(fd, buffer.data(), buffer.size());
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count <= 0) {
      read_errno = count < 0 ? errno : 0;
      break;
    }
    text.append(buffer.data(), static_cast<size_t>(count));
  }
  ::close(fd);
  if (read_errno != 0) {
    throw fail(std::string("cannot read: ") + std::strerror(read_errno));
  }
  return parse_config(text, path);
}

}  // namespace ballast::config
