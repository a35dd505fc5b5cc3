#include "discovery/fleet_admin.h"

#include "discovery/etcd_discovery.h"
#include "observe/log.h"

namespace ballast::discovery {
namespace {

constexpr std::string_view kAdminFolder = "admin/";
constexpr size_t kLoggedBytes = 200;  // of a bad key or value: enough to find it

SourceReport first_report(const config::EtcdConfig& etcd) {
  SourceReport report;
  report.kind = "etcd";
  report.cluster = "(fleet admin)";
  report.target = etcd.fleet_prefix + std::string(kAdminFolder);
  return report;
}

}  // namespace

std::string fleet_action_key(const std::string& fleet_prefix, const std::string& cluster,
                             const std::string& server) {
  return fleet_prefix + std::string(kAdminFolder) + cluster + "/" + server;
}

FleetAdmin::FleetAdmin(const config::EtcdConfig& etcd, Apply apply)
    : apply_(std::move(apply)),
      status_(first_report(etcd)),
      mirror_(
          etcd_endpoints(etcd), etcd.timeout_ms, etcd.fleet_prefix + std::string(kAdminFolder),
          [this](const PrefixMirror::Keys& keys, const std::vector<std::string>*) { take(keys); },
          status_) {}

// Keys are "<cluster>/<server>"; a server name has no "/", so the first one splits them.
void FleetAdmin::take(const PrefixMirror::Keys& keys) {
  FleetActions actions;
  for (const auto& [key, value] : keys) {
    const size_t slash = key.find('/');
    const bool known = value == "drain" || value == "disable";
    if (slash == std::string::npos || slash == 0 || slash + 1 == key.size() || !known) {
      observe::log_event(config::LogLevel::warn, "fleet admin key ignored",
                         {{"key", key.substr(0, kLoggedBytes)},
                          {"value", value.substr(0, kLoggedBytes)},
                          {"expected", "<cluster>/<host:port> = drain or disable"}});
      continue;
    }
    actions[{key.substr(0, slash), key.substr(slash + 1)}] =
        value == "drain" ? FleetAction::drain : FleetAction::disable;
  }
  status_.update([&](SourceReport& report) { report.servers = actions.size(); });
  apply_(actions);
}

}  // namespace ballast::discovery
