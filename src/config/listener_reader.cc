#include "config/listener_reader.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "config/forwarding_reader.h"
#include "config/rate_limit_reader.h"
#include "config/route_policy_reader.h"
#include "config/scalars.h"
#include "config/tls_reader.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 13> kListenerKeys = {
    "name",       "listen",          "mode", "routes",
    "cluster",    "max_connections", "tls",  "redirect_to_https",
    "https_port", "allow_trace",     "h2c",  "proxy_protocol",
    "rate_limit",
};

constexpr std::array<std::string_view, 1> kProxyProtocolKeys = {"trusted"};

// `proxy_protocol: {trusted: [...]}`: the peers whose connections begin with a header.
void read_proxy_protocol(const std::optional<Node>& node, ListenerConfig& listener) {
  if (!node) {
    return;
  }
  const MapView block = node->as_map(kProxyProtocolKeys);
  const Node trusted = block.require(
      "trusted",
      "the addresses of the proxies in front that send the header (127.0.0.1, 10.0.0.0/8)");
  listener.proxy_protocol.trusted = read_address_ranges(trusted);
  if (listener.proxy_protocol.trusted.empty()) {
    trusted.fail("list at least one address or range");
  }
}

// Client connections a listener may hold at once; 0 = only the process's limit applies.
uint32_t read_connection_limit(const std::optional<Node>& node) {
  return node ? node->as_uint<uint32_t>(0, kMaxClientConnections) : 0;
}

constexpr std::array<std::string_view, 11> kRouteKeys = {"host",
                                                         "path_prefix",
                                                         "sni",
                                                         "cluster",
                                                         "name",
                                                         "request_headers",
                                                         "response_headers",
                                                         "rewrite_prefix",
                                                         "redirect",
                                                         "rate_limit",
                                                         "geo"};
static_assert(std::equal(kRoutePolicyKeys.begin(), kRoutePolicyKeys.end(), kRouteKeys.begin() + 4));

constexpr std::array<Named<ListenerMode>, 2> kModes = {{
    {"http", ListenerMode::http},
    {"tcp", ListenerMode::tcp},
}};

using ClustersByName = std::unordered_map<std::string, const ClusterConfig*>;

Endpoint read_endpoint(const Node& node) {
  const Parsed<Endpoint> endpoint = parse_endpoint(node.as_string());
  if (!endpoint.value) {
    node.fail(endpoint.error);
  }
  return *endpoint.value;
}

const ClusterConfig& find_cluster(const Node& node, const ClustersByName& by_name) {
  const std::string name = node.as_string();
  const auto it = by_name.find(name);
  if (it == by_name.end()) {
    node.fail("no cluster named " + node.describe());
  }
  return *it->second;
}

// A tcp listener forwards bytes: it never sees a header, a cookie, a path or a status code.
void check_tcp_cluster(const Node& at, const ClusterConfig& cluster) {
  std::string needs_http;
  if (cluster.hash_key.on != HashOn::client_ip) {
    needs_http = "hashes on a request header, cookie or path";
  } else if (cluster.session_affinity.enabled &&
             cluster.session_affinity.method != AffinityMethod::ip) {
    needs_http = "keeps session affinity by cookie or header";
  } else if ((cluster.retry.on & static_cast<uint8_t>(RetryOn::server_error)) != 0) {
    needs_http = "retries on 5xx responses";
  }
  if (!needs_http.empty()) {
    at.fail("cluster " + cluster.name + " " + needs_http + ", which a tcp listener cannot see");
  }
}

// tls, redirect_to_https and https_port, which both shapes' listeners take.
void read_transport(const std::optional<Node>& tls, const std::optional<Node>& redirect,
                    const std::optional<Node>& https_port, ListenerConfig& listener) {
  if (tls) {
    listener.tls = read_listener_tls(*tls, listener.mode);
  }
  if (redirect) {
    listener.redirect_to_https = redirect->as_bool();
    if (listener.redirect_to_https && listener.tls.enabled) {
      redirect->fail("this listener is already HTTPS (it has tls:); redirect a plain one");
    }
    if (listener.redirect_to_https && listener.mode == ListenerMode::tcp) {
      redirect->fail("a tcp listener sees no requests to redirect");
    }
  }
  if (https_port) {
    listener.https_port = https_port->as_uint<uint16_t>(1, 65535);
  }
}

// TRACE reflects a request's fields back (credentials included): off unless asked for.
void read_allow_trace(const std::optional<Node>& node, ListenerConfig& listener) {
  if (!node) {
    return;
  }
  listener.allow_trace = node->as_bool();
  if (listener.allow_trace && listener.mode == ListenerMode::tcp) {
    node->fail("a tcp listener sees no requests to trace");
  }
}

// HTTP/2 in clear by prior knowledge, beside HTTP/1.1 (TLS listeners offer h2 by ALPN instead).
void read_h2c(const std::optional<Node>& node, ListenerConfig& listener) {
  if (!node) {
    return;
  }
  listener.h2c = node->as_bool();
  if (listener.h2c && listener.mode == ListenerMode::tcp) {
    node->fail("a tcp listener carries bytes, not HTTP/2");
  }
  if (listener.h2c && listener.tls.enabled) {
    node->fail("on a tls listener HTTP/2 is chosen by ALPN: add h2 to tls.alpn instead");
  }
}

ListenerMode read_mode(const std::optional<Node>& node) {
  return node ? node->as_enum(kModes) : ListenerMode::http;
}

// An SNI pattern: a host name, or "*." and one, matching one more label (as certificates do).
std::string read_sni_pattern(const Node& node) {
  const std::string pattern = node.as_string();
  const std::string_view name =
      pattern.starts_with("*.") ? std::string_view(pattern).substr(2) : pattern;
  if (!is_host(name) || name.find(':') != std::string_view::npos || name.starts_with('[')) {
    node.fail("expected a server name such as api.example.com or *.example.com, got " +
              node.describe());
  }
  return lowercase(pattern);
}

// An http listener's routes match host and path; a tcp listener's match the TLS ClientHello's
// server name (sni), without terminating TLS.
// `geo: {REGION: CLUSTER, ...}`: the cluster for each region's clients (the regions are checked
// against the top-level geo: block once both are read).
std::vector<std::pair<std::string, std::string>> read_geo_clusters(const Node& node,
                                                                   const ClustersByName& clusters,
                                                                   bool tcp) {
  if (tcp) {
    node.fail("a tcp listener sees no requests: geo routing is for http listeners");
  }
  std::vector<std::pair<std::string, std::string>> by_region;
  for (const auto& [region, cluster] : node.as_named_map()) {
    by_region.emplace_back(region.as_name("region"), find_cluster(cluster, clusters).name);
  }
  if (by_region.empty()) {
    node.fail("map at least one region to a cluster");
  }
  return by_region;
}

// A route's `rate_limit:`, named LISTENER/ROUTE; two limited routes of one listener need names
// apart, or they would count as one.
void read_route_rate_limit(const MapView& fields, const std::string& listener, bool tcp,
                           std::unordered_set<std::string>& limited, RouteConfig& route) {
  const std::optional<Node> block = fields.find("rate_limit");
  if (!block) {
    return;
  }
  if (tcp) {
    block->fail("a tcp listener sees no requests: rate limits are for http listeners");
  }
  route.rate_limit = read_rate_limit(*block, listener + "/" + route.name);
  if (!limited.insert(route.name).second) {
    block->fail("another route of this listener named " + route.name +
                " has a rate limit: give the routes their own name:");
  }
}

std::vector<RouteConfig> read_routes(const Node& list, const ClustersByName& clusters,
                                     ListenerMode mode, const std::string& listener) {
  const std::vector<Node> items = list.as_list();
  if (items.empty()) {
    list.fail("list at least one route");
  }
  list.check_count(items.size(), kMaxRoutesPerListener, "routes in a listener");
  std::vector<RouteConfig> routes;
  std::unordered_set<std::string> seen;     // "host path_prefix": a repeat could never match
  std::optional<std::string> catch_all;     // the path of a route that matches every request
  std::unordered_set<std::string> limited;  // names of the routes with a rate limit
  for (const Node& item : items) {
    if (catch_all) {
      item.fail("can never match: " + *catch_all + " (no host, no path_prefix) matches first");
    }
    const MapView fields = item.as_map(kRouteKeys);
    RouteConfig route;
    const bool tcp = mode == ListenerMode::tcp;
    for (const std::string_view key : {"host", "path_prefix"}) {
      if (const std::optional<Node> http_only = fields.find(key); http_only && tcp) {
        http_only->fail("a tcp listener sees no requests: route on sni (the TLS server name)");
      }
    }
    if (const std::optional<Node> sni = fields.find("sni")) {
      if (!tcp) {
        sni->fail("sni routes are for tcp listeners (TLS passed through); route on host here");
      }
      route.sni = read_sni_pattern(*sni);
    }
    if (const std::optional<Node> host = fields.find("host")) {
      route.host = host->as_string();
      if (!is_host(route.host)) {
        host->fail("expected a host name (without a port), got " + host->describe());
      }
      route.host = lowercase(route.host);
    }
    if (const std::optional<Node> prefix = fields.find("path_prefix")) {
      route.path_prefix = prefix->as_string();
      if (!is_request_path(route.path_prefix)) {
        prefix->fail("expected a path starting with / (visible ASCII, no spaces), got " +
                     prefix->describe());
      }
    }
    read_route_policy(fields, tcp, route);
    if (route.redirect.enabled) {
      if (const std::optional<Node> target = fields.find("cluster")) {
        target->fail("a redirect route answers the client itself: no cluster");
      }
      route.name = route.name.empty() ? "redirect" : route.name;
    } else {
      const Node target = fields.require("cluster", "the cluster this route sends to");
      const ClusterConfig& cluster = find_cluster(target, clusters);
      if (tcp) {
        check_tcp_cluster(target, cluster);
      }
      route.cluster = cluster.name;
      route.name = route.name.empty() ? cluster.name : route.name;
    }
    if (const std::optional<Node> geo = fields.find("geo")) {
      if (route.redirect.enabled) {
        geo->fail("a redirect route answers the client itself: no geo clusters");
      }
      route.geo_clusters = read_geo_clusters(*geo, clusters, tcp);
    }
    read_route_rate_limit(fields, listener, tcp, limited, route);
    if (!seen.insert(route.host + " " + route.path_prefix + " " + route.sni).second) {
      item.fail("can never match: an earlier route has the same " +
                std::string(tcp ? "sni" : "host and path_prefix"));
    }
    if (route.host.empty() && route.path_prefix.empty() && route.sni.empty()) {
      catch_all = item.path();
    }
    routes.push_back(std::move(route));
  }
  return routes;
}

}  // namespace

std::vector<ListenerConfig> read_listeners(const Node& list,
                                           const std::vector<ClusterConfig>& clusters,
                                           AddressBook& addresses) {
  ClustersByName by_name;
  for (const ClusterConfig& cluster : clusters) {
    by_name.emplace(cluster.name, &cluster);
  }
  const std::vector<Node> items = list.as_list();
  if (items.empty()) {
    list.fail("list at least one listener");
  }
  list.check_count(items.size(), kMaxListeners, "listeners");
  std::vector<ListenerConfig> listeners;
  std::unordered_map<std::string, std::string> name_paths;  // name -> where it was first used
  for (const Node& item : items) {
    const MapView fields = item.as_map(kListenerKeys);
    ListenerConfig listener;
    const Node name = fields.require("name", "a name for metrics, logs and the admin API");
    listener.name = name.as_name("listener");
    if (const auto [first, inserted] = name_paths.emplace(listener.name, item.path()); !inserted) {
      name.fail("listener name " + listener.name + " is also used by " + first->second);
    }
    const Node listen = fields.require("listen", "the address to accept on, such as :8080");
    listener.listen = read_endpoint(listen);
    addresses.claim(listener.listen, "listener " + listener.name, listen);
    const std::optional<Node> mode = fields.find("mode");
    listener.mode = read_mode(mode);
    listener.max_connections = read_connection_limit(fields.find("max_connections"));
    read_transport(fields.find("tls"), fields.find("redirect_to_https"), fields.find("https_port"),
                   listener);
    read_allow_trace(fields.find("allow_trace"), listener);
    read_h2c(fields.find("h2c"), listener);
    read_proxy_protocol(fields.find("proxy_protocol"), listener);
    if (const std::optional<Node> limit = fields.find("rate_limit")) {
      if (listener.mode == ListenerMode::tcp) {
        limit->fail("a tcp listener sees no requests: rate limits are for http listeners");
      }
      listener.rate_limit = read_rate_limit(*limit, listener.name);
    }
    const std::optional<Node> routes = fields.find("routes");
    const std::optional<Node> cluster = fields.find("cluster");
    if (listener.mode == ListenerMode::tcp && routes) {
      if (cluster) {
        cluster->fail("write either cluster: (every connection) or routes: (by sni), not both");
      }
      listener.routes = read_routes(*routes, by_name, listener.mode, listener.name);
    } else if (listener.mode == ListenerMode::tcp) {
      const Node target =
          fields.require("cluster", "the cluster every connection goes to (or routes: by sni)");
      const ClusterConfig& chosen = find_cluster(target, by_name);
      check_tcp_cluster(target, chosen);
      listener.routes.push_back(RouteConfig{.cluster = chosen.name});
    } else {
      if (cluster) {
        cluster->fail(
            "an http listener routes with routes: [{cluster: NAME}]; cluster: is for "
            "mode: tcp");
      }
      listener.routes = read_routes(
          fields.require("routes", "a list of {host, path_prefix, cluster}, first match wins"),
          by_name, listener.mode, listener.name);
    }
    listeners.push_back(std::move(listener));
  }
  return listeners;
}

ListenerConfig read_default_listener(const MapView& block, const ClusterConfig& cluster,
                                     AddressBook& addresses) {
  ListenerConfig listener;
  listener.name = "default";
  const Node listen = block.get("listen");
  if (!listen.is_null()) {
    listener.listen = read_endpoint(listen);
  }
  addresses.claim(listener.listen, "load_balancer.listen", listen);
  const std::optional<Node> mode = block.find("mode");
  listener.mode = read_mode(mode);
  listener.max_connections = read_connection_limit(block.find("max_connections"));
  read_transport(block.find("tls"), block.find("redirect_to_https"), block.find("https_port"),
                 listener);
  read_allow_trace(block.find("allow_trace"), listener);
  read_h2c(block.find("h2c"), listener);
  read_proxy_protocol(block.find("proxy_protocol"), listener);
  if (listener.mode == ListenerMode::tcp) {
    check_tcp_cluster(*mode, cluster);
  }
  listener.routes.push_back(RouteConfig{.cluster = cluster.name});
  return listener;
}

}  // namespace ballast::config
