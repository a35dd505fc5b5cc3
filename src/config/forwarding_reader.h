#pragma once
// Reads `forwarding:`: which peers are trusted to speak for their clients, and whether RFC 7239
// Forwarded is sent as well as X-Forwarded-*.
//
// Threading: start-up only.

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// A null `node` (the block not written) reads as the defaults: nobody trusted, no Forwarded.
ForwardingConfig read_forwarding(const Node& node);

}  // namespace ballast::config
