#include "config/route_policy_reader.h"

#include <algorithm>
#include <optional>
#include <string>

#include "config/scalars.h"
#include "http/chars.h"

namespace ballast::config {
namespace {

constexpr std::array<std::string_view, 3> kHeaderRuleKeys = {"set", "add", "remove"};
constexpr std::array<std::string_view, 2> kRedirectKeys = {"location", "status"};
constexpr size_t kMaxValueBytes = 1024;

// Fields a route may not touch: the framing and hop-by-hop ones ballast writes to keep the
// connection sound, and the forwarding ones it writes itself (`forwarding:` governs those).
constexpr std::array<std::string_view, 16> kReservedFields = {
    "content-length",   "transfer-encoding", "connection",
    "keep-alive",       "upgrade",           "te",
    "trailer",          "proxy-connection",  "x-forwarded-for",
    "x-real-ip",        "x-forwarded-proto", "x-forwarded-host",
    "x-forwarded-port", "forwarded",         "via",
    "x-request-id",
};

constexpr std::array<uint16_t, 5> kRedirectStatuses = {301, 302, 303, 307, 308};

std::string field_name(const Node& node) {
  const std::string name = node.as_string();
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return http::chars::is(c, http::chars::kToken);
      })) {
    node.fail("expected a header field name (letters, digits, - and the like), got " +
              node.describe());
  }
  const std::string lower = lowercase(name);
  if (std::find(kReservedFields.begin(), kReservedFields.end(), lower) != kReservedFields.end()) {
    node.fail(name + " is ballast's to write (framing, hop-by-hop or forwarding; see forwarding:)");
  }
  return name;
}

http::ValueTemplate value_template(const Node& node, bool response) {
  const std::string text = node.as_string();
  if (text.size() > kMaxValueBytes) {
    node.fail("at most " + std::to_string(kMaxValueBytes) + " bytes");
  }
  std::string error;
  std::optional<http::ValueTemplate> value = http::ValueTemplate::parse(text, response, error);
  if (!value) {
    node.fail(error);
  }
  return std::move(*value);
}

std::vector<http::HeaderChange> read_changes(const Node& node, bool response) {
  const std::vector<std::pair<Node, Node>> entries = node.as_named_map();
  node.check_count(entries.size(), http::kMaxRuleFields, "fields");
  std::vector<http::HeaderChange> changes;
  for (const auto& [name, value] : entries) {
    changes.push_back({field_name(name), value_template(value, response)});
  }
  return changes;
}

// A request carries exactly one Host (RFC 9112 §3.2): a route may set it, not add or remove it.
void refuse_request_host(const Node& name, bool response) {
  if (!response && lowercase(name.as_string()) == "host") {
    name.fail("a request has exactly one Host: set it, do not add or remove it");
  }
}

http::HeaderRules read_header_rules(const Node& node, bool response) {
  const MapView block = node.as_map(kHeaderRuleKeys);
  http::HeaderRules rules;
  if (const std::optional<Node> set = block.find("set")) {
    rules.set = read_changes(*set, response);
  }
  if (const std::optional<Node> add = block.find("add")) {
    for (const auto& [name, value] : add->as_named_map()) {
      refuse_request_host(name, response);
    }
    rules.add = read_changes(*add, response);
  }
  if (const std::optional<Node> remove = block.find("remove")) {
    const std::vector<Node> names = remove->as_list();
    remove->check_count(names.size(), http::kMaxRuleFields, "fields");
    for (const Node& name : names) {
      refuse_request_host(name, response);
      rules.remove.push_back(lowercase(field_name(name)));
    }
  }
  return rules;
}

RedirectConfig read_redirect(const Node& node) {
  const MapView block = node.as_map(kRedirectKeys);
  RedirectConfig redirect;
  redirect.enabled = true;
  const Node location =
      block.require("location", "where to send the client, such as https://example.com${path}");
  // A target beginning "//evil.example/" would make "${path}..." a redirect to another site.
  if (location.as_string().starts_with("${path}")) {
    location.fail(
        "begin with a scheme and host or a /, not ${path}: a path such as "
        "//other.example/ would send clients to another site");
  }
  redirect.location = value_template(location, false);
  if (const std::optional<Node> status = block.find("status")) {
    redirect.status = status->as_uint<uint16_t>(300, 399);
    if (std::find(kRedirectStatuses.begin(), kRedirectStatuses.end(), redirect.status) ==
        kRedirectStatuses.end()) {
      status->fail("a redirect is 301, 302, 303, 307 or 308");
    }
  }
  return redirect;
}

}  // namespace

void read_route_policy(const MapView& fields, bool tcp, RouteConfig& route) {
  for (const std::string_view key : kRoutePolicyKeys) {
    if (const std::optional<Node> http_only = fields.find(key); http_only && tcp) {
      http_only->fail("a tcp listener sees no requests: only sni and cluster apply");
    }
  }
  if (const std::optional<Node> name = fields.find("name")) {
    route.name = name->as_name("route");
  }
  if (const std::optional<Node> headers = fields.find("request_headers")) {
    route.request_headers = read_header_rules(*headers, false);
  }
  if (const std::optional<Node> headers = fields.find("response_headers")) {
    route.response_headers = read_header_rules(*headers, true);
  }
  if (const std::optional<Node> rewrite = fields.find("rewrite_prefix")) {
    if (route.path_prefix.empty()) {
      rewrite->fail("rewrite_prefix replaces the route's path_prefix: set one");
    }
    route.rewrite_prefix = rewrite->as_string();
    if (!is_request_path(route.rewrite_prefix)) {
      rewrite->fail("expected a path starting with / (visible ASCII, no spaces), got " +
                    rewrite->describe());
    }
  }
  if (const std::optional<Node> redirect = fields.find("redirect")) {
    route.redirect = read_redirect(*redirect);
  }
}

}  // namespace ballast::config
