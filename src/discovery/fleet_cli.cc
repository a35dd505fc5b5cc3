#include "discovery/fleet_cli.h"

#include "config/discovery_reader.h"
#include "config/scalars.h"
#include "discovery/etcd_client.h"
#include "discovery/fleet_admin.h"
#include "discovery/registration.h"
#include "discovery/server_record.h"

namespace ballast::discovery {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadArguments = 2;
constexpr uint64_t kCallTimeoutMs = 2'000;

// The endpoints, or an empty list with `err` told why.
std::vector<EtcdEndpoint> endpoints_of(const std::vector<std::string>& texts, std::ostream& err) {
  std::vector<EtcdEndpoint> endpoints;
  for (const std::string& text : texts) {
    try {
      endpoints.push_back(parse_etcd_endpoint(text));
    } catch (const std::invalid_argument& error) {
      err << "--etcd " << text << ": " << error.what() << '\n';
      return {};
    }
  }
  if (texts.empty()) {
    err << "--etcd: name at least one etcd member (host:port)\n";
  }
  return endpoints;
}

}  // namespace

int run_register_command(const RegisterCommand& command, std::ostream& err) {
  Registration registration;
  registration.endpoints = endpoints_of(command.etcd, err);
  if (registration.endpoints.empty()) {
    return kExitBadArguments;
  }
  if (!config::is_etcd_prefix(command.prefix)) {
    err << "--prefix " << command.prefix << ": a key prefix starts and ends with /\n";
    return kExitBadArguments;
  }
  config::ServerConfig server;
  server.host = command.host;
  server.port = command.port;
  server.weight = command.weight;
  server.region = command.region;
  server.backup = command.backup;
  registration.value = server_record(server);
  std::string error;
  if (!parse_server_record(registration.value, error)) {  // the same rules as discovery's
    err << "register: " << error << '\n';
    return kExitBadArguments;
  }
  registration.key = command.prefix + server.name();
  registration.ttl_s = static_cast<int64_t>(std::max<uint64_t>(command.ttl_ms / 1000, 1));
  return run_registration(registration, err);
}

int run_fleet_command(const FleetCommand& command, std::ostream& out, std::ostream& err) {
  const std::vector<EtcdEndpoint> endpoints = endpoints_of(command.etcd, err);
  if (endpoints.empty()) {
    return kExitBadArguments;
  }
  if (!config::is_etcd_prefix(command.fleet_prefix) || command.cluster.empty() ||
      command.cluster.find('/') != std::string::npos || command.server.empty() ||
      command.server.find('/') != std::string::npos) {
    err << "fleet: a cluster and a server (host:port) without '/', and a prefix like "
           "/ballast/\n";
    return kExitBadArguments;
  }
  const std::string key = fleet_action_key(command.fleet_prefix, command.cluster, command.server);
  try {
    EtcdClient client(endpoints, kCallTimeoutMs);
    if (command.action == "enable") {
      client.remove(key);
    } else {
      client.put(key, command.action);
    }
  } catch (const EtcdError& error) {
    err << "fleet: " << error.what() << '\n';
    return kExitFailure;
  }
  out << "fleet: " << command.action << " " << command.cluster << "/" << command.server
      << (command.action == "enable" ? " (" + key + " deleted)\n" : " (" + key + ")\n");
  return 0;
}

}  // namespace ballast::discovery
