// The keys that say where servers come from (docs/config.md "resolver", "etcd", `discovery`,
// servers[].resolve): what they load to, and the errors that name file, line and key.

#include "config/discovery_reader.h"

#include <gtest/gtest.h>

#include "config/loader.h"
#include "config_error_of.h"

namespace ballast::config {
namespace {

using test_support::error_of;

constexpr const char* kServers = "load_balancer:\n  servers:\n";

TEST(DiscoveryKeys, ResolverAndEtcdBlocksLoadWithTheirDefaults) {
  const Config config =
      parse_config(std::string(kServers) +
                       "    - {host: api.internal, port: 80, resolve: all}\n"
                       "    - {host: _http._tcp.pay.internal, resolve: srv}\n"
                       "resolver:\n  nameservers: [\"10.0.0.2\", \"10.0.0.3:5353\"]\n"
                       "  ttl_min: 500ms\n"
                       "etcd:\n  endpoints: [\"http://10.0.0.11:2379/\", "
                       "\"10.0.0.12:2379\"]\n",
                   "c.yaml");
  EXPECT_EQ(config.resolver.nameservers, (std::vector<std::string>{"10.0.0.2", "10.0.0.3:5353"}));
  EXPECT_EQ(config.resolver.ttl_min_ms, 500u);
  EXPECT_EQ(config.resolver.ttl_max_ms, 300'000u);
  EXPECT_EQ(config.resolver.timeout_ms, 2'000u);
  EXPECT_EQ(config.resolver.attempts, 2u);
  EXPECT_EQ(config.etcd.endpoints, (std::vector<std::string>{"10.0.0.11:2379", "10.0.0.12:2379"}));
  EXPECT_EQ(config.etcd.fleet_prefix, "/ballast/");
  EXPECT_EQ(config.etcd.lease_ttl_ms, 10'000u);
  const std::vector<ServerConfig>& servers = config.clusters[0].servers;
  EXPECT_EQ(servers[0].resolve, ResolveMode::all);
  EXPECT_EQ(servers[1].resolve, ResolveMode::srv);
  EXPECT_EQ(servers[1].port, 0u);
}

TEST(DiscoveryKeys, AClusterFromEtcdHasNoServersList) {
  const Config config = parse_config(
      "etcd: {endpoints: [\"127.0.0.1:2379\"]}\n"
      "load_balancer:\n  discovery: {etcd_prefix: /services/web/}\n",
      "c.yaml");
  EXPECT_EQ(config.clusters[0].discovery.etcd_prefix, "/services/web/");
  EXPECT_TRUE(config.clusters[0].servers.empty());
}

struct Case {
  const char* name;
  std::string yaml;
  std::string message;
};

class DiscoveryErrors : public testing::TestWithParam<Case> {};

TEST_P(DiscoveryErrors, SayWhereWhichKeyAndWhat) {
  EXPECT_EQ(error_of(GetParam().yaml), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Keys, DiscoveryErrors,
    testing::Values(
        Case{"ResolveOnAnAddress",
             std::string(kServers) + "    - {host: 10.0.0.1, port: 80, resolve: all}\n",
             "c.yaml:3:43: load_balancer.servers[0].resolve: resolve applies to a host name; "
             "10.0.0.1 is an address"},
        Case{"UnknownResolveMode",
             std::string(kServers) + "    - {host: a.internal, port: 80, resolve: every}\n",
             "c.yaml:3:45: load_balancer.servers[0].resolve: expected one of first, all, srv; "
             "got \"every\""},
        Case{
            "SrvWithAPort",
            std::string(kServers) + "    - {host: _http._tcp.a.internal, resolve: srv, port: 80}\n",
            "c.yaml:3:57: load_balancer.servers[0].port: SRV records give the ports; remove port"},
        Case{"SrvWithAWeight",
             std::string(kServers) + "    - {host: _h._tcp.a.internal, resolve: srv, weight: 2}\n",
             "c.yaml:3:56: load_balancer.servers[0].weight: SRV records give the weights; remove "
             "weight"},
        Case{"ANameserverThatIsAName",
             std::string(kServers) + "    - {host: a, port: 80}\nresolver: {nameservers: [dns1]}\n",
             "c.yaml:4:26: resolver.nameservers[0]: \"dns1\" is not an IP address, or one with "
             ":port"},
        Case{"TtlMaxBelowTtlMin",
             std::string(kServers) +
                 "    - {host: a, port: 80}\nresolver: {ttl_min: 10s, ttl_max: 1s}\n",
             "c.yaml:4:35: resolver.ttl_max: ttl_max must not be below ttl_min"},
        Case{"EtcdWithoutEndpoints",
             std::string(kServers) + "    - {host: a, port: 80}\netcd: {}\n",
             "c.yaml:4:1: etcd.endpoints: missing; list the etcd members, each host:port"},
        Case{"EtcdOverTls",
             std::string(kServers) +
                 "    - {host: a, port: 80}\netcd: {endpoints: [\"https://e:2379\"]}\n",
             "c.yaml:4:20: etcd.endpoints[0]: etcd over TLS is not supported yet; use http:// on "
             "a trusted network"},
        Case{"APrefixWithoutSlashes",
             "etcd: {endpoints: [\"e:2379\"]}\nload_balancer:\n  discovery: {etcd_prefix: web}\n",
             "c.yaml:3:28: load_balancer.discovery.etcd_prefix: a key prefix starts and ends with "
             "/ and has no spaces, e.g. /services/web/"},
        Case{"DiscoveryAndServers",
             "etcd: {endpoints: [\"e:2379\"]}\nload_balancer:\n  discovery: {etcd_prefix: /w/}\n"
             "  servers: [{host: a, port: 80}]\n",
             "c.yaml:4:12: load_balancer.servers: the servers come from etcd "
             "(discovery.etcd_prefix); remove servers"},
        Case{"DiscoveryWithoutEtcd", "load_balancer:\n  discovery: {etcd_prefix: /w/}\n",
             "c.yaml:1:1: etcd: cluster default takes its servers from etcd "
             "(discovery.etcd_prefix); add an etcd: block with the members' endpoints"}),
    [](const testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace ballast::config
