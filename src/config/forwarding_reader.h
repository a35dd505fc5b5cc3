#pragma once
// Reads `forwarding:`: which peers are trusted to speak for their clients, and whether RFC 7239
// Forwarded is sent as well as X-Forwarded-*; and such lists of trusted peers wherever they are
// written.
//
// Threading: start-up only.

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// A null `node` (the block not written) reads as the defaults: nobody trusted, no Forwarded.
ForwardingConfig read_forwarding(const Node& node);

// A list of peers trusted for something: IP addresses or CIDR ranges, at most 1,024.
std::vector<core::AddressRange> read_address_ranges(const Node& node);

}  // namespace ballast::config
