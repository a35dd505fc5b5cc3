#include "config/discovery_reader.h"

#include <algorithm>

#include "config/scalars.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 5> kResolverKeys = {"nameservers", "timeout", "attempts",
                                                           "ttl_min", "ttl_max"};
constexpr std::array<std::string_view, 5> kEtcdKeys = {"endpoints", "fleet_prefix", "instance",
                                                       "timeout", "lease_ttl"};
// Enough for a resolv.conf's three and a few more; etcd clusters are 3, 5 or 7 members.
constexpr size_t kMaxNameservers = 8;
constexpr size_t kMaxEtcdEndpoints = 16;

// "ip" or "ip:port" ("[v6]:port"): a nameserver is an address, never a name to look up.
std::string read_nameserver(const Node& node) {
  const std::string text = node.as_string();
  if (is_ip_literal(text)) {
    return text;
  }
  const Parsed<Endpoint> endpoint = parse_endpoint(text);
  if (!endpoint.value || !is_ip_literal(endpoint.value->host)) {
    node.fail(node.describe() + " is not an IP address, or one with :port");
  }
  return text;
}

std::string read_etcd_endpoint(const Node& node) {
  std::string text = node.as_string();
  const std::string_view scheme = "http://";
  if (text.starts_with("https://")) {
    node.fail("etcd over TLS is not supported yet; use http:// on a trusted network");
  }
  std::string_view address = text;
  if (address.starts_with(scheme)) {
    address.remove_prefix(scheme.size());
  }
  if (!address.empty() && address.back() == '/') {
    address.remove_suffix(1);
  }
  if (!parse_endpoint(address).value) {
    node.fail(node.describe() + " is not host:port or http://host:port");
  }
  return std::string(address);
}

}  // namespace

bool is_etcd_prefix(std::string_view text) {
  return text.size() >= 2 && text.size() <= 512 && text.front() == '/' && text.back() == '/' &&
         std::all_of(text.begin(), text.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

ResolverConfig read_resolver(const Node& node) {
  const MapView map = node.as_map(kResolverKeys);
  ResolverConfig resolver;
  if (const std::optional<Node> list = map.find("nameservers")) {
    const std::vector<Node> items = list->as_list();
    list->check_count(items.size(), kMaxNameservers, "nameservers");
    for (const Node& item : items) {
      resolver.nameservers.push_back(read_nameserver(item));
    }
  }
  if (const std::optional<Node> timeout = map.find("timeout")) {
    resolver.timeout_ms = timeout->as_positive_duration_ms();
  }
  if (const std::optional<Node> attempts = map.find("attempts")) {
    resolver.attempts = attempts->as_uint<uint32_t>(1, 10);
  }
  if (const std::optional<Node> ttl_min = map.find("ttl_min")) {
    resolver.ttl_min_ms = ttl_min->as_positive_duration_ms();
  }
  if (const std::optional<Node> ttl_max = map.find("ttl_max")) {
    resolver.ttl_max_ms = ttl_max->as_positive_duration_ms();
    if (resolver.ttl_max_ms < resolver.ttl_min_ms) {
      ttl_max->fail("ttl_max must not be below ttl_min");
    }
  }
  return resolver;
}

EtcdConfig read_etcd(const Node& node) {
  const MapView map = node.as_map(kEtcdKeys);
  EtcdConfig etcd;
  const Node list = map.require("endpoints", "list the etcd members, each host:port");
  const std::vector<Node> items = list.as_list();
  if (items.empty()) {
    list.fail("name at least one etcd member");
  }
  list.check_count(items.size(), kMaxEtcdEndpoints, "etcd endpoints");
  for (const Node& item : items) {
    etcd.endpoints.push_back(read_etcd_endpoint(item));
  }
  if (const std::optional<Node> prefix = map.find("fleet_prefix")) {
    etcd.fleet_prefix = prefix->as_string();
    if (!is_etcd_prefix(etcd.fleet_prefix)) {
      prefix->fail("a key prefix starts and ends with / and has no spaces, e.g. /ballast/");
    }
  }
  if (const std::optional<Node> instance = map.find("instance")) {
    etcd.instance = instance->as_name("instance");
  }
  if (const std::optional<Node> timeout = map.find("timeout")) {
    etcd.timeout_ms = timeout->as_positive_duration_ms();
  }
  if (const std::optional<Node> ttl = map.find("lease_ttl")) {
    etcd.lease_ttl_ms = ttl->as_positive_duration_ms();
    if (etcd.lease_ttl_ms < 2'000) {
      ttl->fail("a lease lives at least 2s (etcd's minimum TTL is about that)");
    }
  }
  return etcd;
}

DiscoveryConfig read_discovery(const Node& node) {
  const MapView map = node.as_map(kDiscoveryKeys);
  DiscoveryConfig discovery;
  const Node prefix = map.require("etcd_prefix", "the etcd key prefix the servers are under");
  discovery.etcd_prefix = prefix.as_string();
  if (!is_etcd_prefix(discovery.etcd_prefix)) {
    prefix.fail("a key prefix starts and ends with / and has no spaces, e.g. /services/web/");
  }
  return discovery;
}

}  // namespace ballast::config
