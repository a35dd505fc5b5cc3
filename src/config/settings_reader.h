#pragma once
// Reads the process-wide blocks that are not about traffic: `admin:`, `monitoring:` and
// `tracing:`.
//
// Threading: start-up only.

#include "config/address_book.h"
#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// Both read a null `node` (the block not written) as all defaults, and claim their addresses in
// `addresses`: the admin API's, then the metrics endpoint's (on every address of its port).
AdminConfig read_admin(const Node& node, AddressBook& addresses);

MonitoringConfig read_monitoring(const Node& node, AddressBook& addresses);

TracingConfig read_tracing(const Node& node);

}  // namespace ballast::config
