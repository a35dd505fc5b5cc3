#include "discovery/instance_registration.h"

#include <chrono>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "discovery/etcd_discovery.h"
#include "observe/log.h"

namespace ballast::discovery {
namespace {

constexpr std::string_view kInstancesFolder = "instances/";
constexpr uint64_t kRetryMs = 1'000;

Registration registration_of(const config::EtcdConfig& etcd, const InstanceRecord& instance) {
  Registration registration;
  registration.endpoints = etcd_endpoints(etcd);
  registration.key = instance_key(etcd.fleet_prefix, instance.name);
  registration.value = instance_json(instance);
  registration.ttl_s = static_cast<int64_t>(std::max<uint64_t>(etcd.lease_ttl_ms / 1000, 1));
  registration.timeout_ms = etcd.timeout_ms;
  return registration;
}

}  // namespace

std::string instance_key(const std::string& fleet_prefix, const std::string& name) {
  return fleet_prefix + std::string(kInstancesFolder) + name;
}

std::string instance_json(const InstanceRecord& instance) {
  return nlohmann::json{{"name", instance.name},
                        {"admin", instance.admin},
                        {"version", instance.version},
                        {"pid", instance.pid}}
      .dump();
}

std::vector<InstanceRecord> fleet_instances(EtcdClient& client, const std::string& fleet_prefix) {
  std::vector<InstanceRecord> instances;
  for (const EtcdKeyValue& kv :
       client.range_prefix(fleet_prefix + std::string(kInstancesFolder)).kvs) {
    const nlohmann::json record = nlohmann::json::parse(kv.value, nullptr, false);
    if (!record.is_object() || !record.contains("name") || !record["name"].is_string() ||
        !record.contains("admin") || !record["admin"].is_string()) {
      continue;
    }
    InstanceRecord instance;
    instance.name = record["name"].get<std::string>();
    instance.admin = record["admin"].get<std::string>();
    if (record.contains("version") && record["version"].is_string()) {
      instance.version = record["version"].get<std::string>();
    }
    if (record.contains("pid") && record["pid"].is_number_integer()) {
      instance.pid = record["pid"].get<int64_t>();
    }
    instances.push_back(std::move(instance));
  }
  return instances;
}

InstanceRegistration::InstanceRegistration(const config::EtcdConfig& etcd,
                                           const InstanceRecord& instance)
    : registration_(registration_of(etcd, instance)),
      registrar_(registration_, [](const std::string& line) {
        observe::log_event(config::LogLevel::info, "fleet registration", {{"detail", line}});
      }) {
  thread_ = std::thread([this] { run(); });
}

InstanceRegistration::~InstanceRegistration() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void InstanceRegistration::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    lock.unlock();
    const uint64_t started_ns = core::monotonic_now_ns();
    uint64_t wait_ms = kRetryMs;
    try {
      wait_ms = registrar_.step();
    } catch (const std::exception& error) {  // memory: try again in a while
      observe::log_event(config::LogLevel::error, "fleet registration failed",
                         {{"error", error.what()}});
    }
    const uint64_t spent_ms = (core::monotonic_now_ns() - started_ns) / core::kNsPerMs;
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(wait_ms > spent_ms ? wait_ms - spent_ms : 0),
                   [this] { return stop_; });
  }
  lock.unlock();
  registrar_.revoke("shutting down");
}

}  // namespace ballast::discovery
