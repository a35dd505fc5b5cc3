#include "config/forwarding_reader.h"

#include <array>
#include <optional>
#include <string_view>

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 2> kForwardingKeys = {"trusted_proxies", "forwarded"};

// Trust is a list a person reads: a few ranges, not a routing table.
constexpr size_t kMaxTrustedRanges = 1024;

}  // namespace

ForwardingConfig read_forwarding(const Node& node) {
  ForwardingConfig forwarding;
  if (node.is_null()) {
    return forwarding;
  }
  const MapView block = node.as_map(kForwardingKeys);
  if (const std::optional<Node> trusted = block.find("trusted_proxies")) {
    const std::vector<Node> ranges = trusted->as_list();
    if (ranges.size() > kMaxTrustedRanges) {
      trusted->fail("at most " + std::to_string(kMaxTrustedRanges) + " ranges");
    }
    for (const Node& entry : ranges) {
      const std::optional<core::AddressRange> range = core::parse_address_range(entry.as_string());
      if (!range) {
        entry.fail("expected an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32), got " +
                   entry.describe());
      }
      forwarding.trusted_proxies.push_back(*range);
    }
  }
  if (const std::optional<Node> forwarded = block.find("forwarded")) {
    forwarding.forwarded = forwarded->as_bool();
  }
  return forwarding;
}

}  // namespace ballast::config
