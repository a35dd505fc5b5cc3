#pragma once
// Reads request rate limits: a listener's or route's `rate_limit:` block, and the top-level
// `rate_limits:` block (the shared table's size and the fleet's Redis). docs/config.md "Rate
// limits".
//
// Threading: start-up and reload only.

#include <string>

#include "config/config.h"
#include "config/yaml_node.h"

namespace ballast::config {

// `name` is the limit's identity in metrics and in a fleet's Redis ("LISTENER" or
// "LISTENER/ROUTE").
RateLimitConfig read_rate_limit(const Node& block, std::string name);

RateLimitsConfig read_rate_limits(const Node& block);

}  // namespace ballast::config
