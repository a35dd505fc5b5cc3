#pragma once
// The command line's fleet commands (docs/fleet.md): `ballast register`, the sidecar that keeps
// one server in etcd, and `ballast fleet drain|disable|enable`, a fleet-wide admin action.
//
// Threading: the command line's main thread; blocking calls bounded by the etcd timeout.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace ballast::discovery {

struct RegisterCommand {
  std::vector<std::string> etcd;  // "host:port" or "http://host:port"
  std::string prefix;             // the cluster's discovery.etcd_prefix
  std::string host;
  uint16_t port = 0;
  uint32_t weight = 1;
  std::string region;
  bool backup = false;
  uint64_t ttl_ms = 10'000;
};

// Keeps the server registered until SIGTERM or SIGINT; the exit code (2 for bad arguments).
int run_register_command(const RegisterCommand& command, std::ostream& err);

struct FleetCommand {
  std::vector<std::string> etcd;
  std::string fleet_prefix = "/ballast/";
  std::string action;  // drain, disable or enable
  std::string cluster;
  std::string server;  // host:port, as /status names it
};

// Writes (enable: deletes) the fleet's action on the server; the exit code.
int run_fleet_command(const FleetCommand& command, std::ostream& out, std::ostream& err);

}  // namespace ballast::discovery
