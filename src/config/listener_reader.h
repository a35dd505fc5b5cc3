#pragma once
// Reads listeners: where ballast accepts connections and which cluster each request goes to.
// The full shape lists them under `listeners:`; the short shape has one, "default", configured
// by `listen:` and `mode:` inside `load_balancer:` and sending everything to cluster "default".
//
// Threading: start-up only.

#include <array>
#include <string_view>
#include <vector>

#include "config/address_book.h"
#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

inline constexpr std::array<std::string_view, 9> kDefaultListenerKeys = {
    "listen",      "mode", "max_connections", "tls", "redirect_to_https", "https_port",
    "allow_trace", "h2c",  "proxy_protocol"};

// `listeners:`. Every route names one of `clusters`; names are unique and each address is
// claimed in `addresses`.
std::vector<ListenerConfig> read_listeners(const Node& list,
                                           const std::vector<ClusterConfig>& clusters,
                                           AddressBook& addresses);

// The short shape's listener, from the kDefaultListenerKeys of `block`.
ListenerConfig read_default_listener(const MapView& block, const ClusterConfig& cluster,
                                     AddressBook& addresses);

}  // namespace ballast::config
