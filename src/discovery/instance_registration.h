#pragma once
// A running ballast's own entry in the fleet: `<fleet_prefix>instances/<name>` with a JSON
// record {"name", "admin", "version", "pid"}, under a lease this keeps alive (registration.h's
// Registrar) and revokes when it is destroyed at shutdown, so `ballast status --etcd` lists the
// instances that run. An instance that dies without revoking leaves the fleet when its lease
// expires (etcd.lease_ttl).
//
// Threading: a thread of its own between construction and destruction.

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "discovery/registration.h"

namespace ballast::discovery {

struct InstanceRecord {
  std::string name;
  std::string admin;  // the admin API's address, host:port
  std::string version;
  int64_t pid = 0;
};

// The key and value of `instance` under `fleet_prefix`.
std::string instance_key(const std::string& fleet_prefix, const std::string& name);
std::string instance_json(const InstanceRecord& instance);
// Every instance registered under `fleet_prefix` (records that do not parse are left out).
// Throws EtcdError.
std::vector<InstanceRecord> fleet_instances(EtcdClient& client, const std::string& fleet_prefix);

class InstanceRegistration {
 public:
  InstanceRegistration(const config::EtcdConfig& etcd, const InstanceRecord& instance);
  ~InstanceRegistration();
  InstanceRegistration(const InstanceRegistration&) = delete;
  InstanceRegistration& operator=(const InstanceRegistration&) = delete;

 private:
  void run();

  Registration registration_;
  Registrar registrar_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ballast::discovery
