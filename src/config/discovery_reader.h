#pragma once
// The keys that say where servers come from besides the file: the top-level `resolver:` (DNS)
// and `etcd:` blocks and a cluster's `discovery:` block (docs/config.md "Discovery",
// docs/fleet.md).

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

inline constexpr std::array<std::string_view, 1> kDiscoveryKeys = {"etcd_prefix"};

ResolverConfig read_resolver(const Node& node);
EtcdConfig read_etcd(const Node& node);
DiscoveryConfig read_discovery(const Node& node);

// A key prefix as etcd discovery uses it: starts with "/", ends with "/" (so "/a/" never
// matches "/ab/..."), printable ASCII without spaces.
bool is_etcd_prefix(std::string_view text);

}  // namespace ballast::config
