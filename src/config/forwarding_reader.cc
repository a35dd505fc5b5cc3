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

std::vector<core::AddressRange> read_address_ranges(const Node& node) {
  const std::vector<Node> entries = node.as_list();
  if (entries.size() > kMaxTrustedRanges) {
    node.fail("at most " + std::to_string(kMaxTrustedRanges) + " ranges");
  }
  std::vector<core::AddressRange> ranges;
  for (const Node& entry : entries) {
    const std::optional<core::AddressRange> range = core::parse_address_range(entry.as_string());
    if (!range) {
      entry.fail("expected an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32), got " +
                 entry.describe());
    }
    ranges.push_back(*range);
  }
  return ranges;
}

ForwardingConfig read_forwarding(const Node& node) {
  ForwardingConfig forwarding;
  if (node.is_null()) {
    return forwarding;
  }
  const MapView block = node.as_map(kForwardingKeys);
  if (const std::optional<Node> trusted = block.find("trusted_proxies")) {
    forwarding.trusted_proxies = read_address_ranges(*trusted);
  }
  if (const std::optional<Node> forwarded = block.find("forwarded")) {
    forwarding.forwarded = forwarded->as_bool();
  }
  return forwarding;
}

}  // namespace ballast::config
