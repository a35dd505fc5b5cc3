#pragma once
// The servers discovery has found, per cluster, and which clusters changed since the process
// last took them: the meeting point of the sources (DNS, etcd: each on its own thread) and the
// process that applies their findings (discovery.h).
//
// A source replaces a cluster's whole list (set()); a list equal to the current one changes
// nothing. take_changed() hands the changed clusters' names over once each; servers_of() reads
// the latest list, so a cluster changed twice before it is applied is applied once, as it is
// now.
//
// Threading: any thread; one mutex, held for a copy at most (never on a worker).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "observe/log.h"
#include "observe/log_throttle.h"

namespace ballast::discovery {

class ServerSets {
 public:
  // Whether the list differs from the cluster's current one (the first always does). A list
  // longer than a cluster may be (config::kMaxServersPerCluster) is cut to its first servers,
  // so a prefix filled by mistake cannot take the process's memory.
  bool set(const std::string& cluster, std::vector<config::ServerConfig> servers) {
    servers = capped(cluster, std::move(servers));
    const std::lock_guard<std::mutex> lock(mutex_);
    auto [entry, inserted] = sets_.try_emplace(cluster);
    if (!inserted && entry->second == servers) {
      return false;
    }
    entry->second = std::move(servers);
    changed_.insert(cluster);
    ++changes_;
    wake_.notify_all();
    return true;
  }

  using Build = std::function<std::vector<config::ServerConfig>()>;
  // The cluster's list changed and `build` makes it: called when the list is read, on the
  // reader's thread, so a source whose changes come a record at a time (etcd) pays O(servers)
  // per application (at most ten a second), not per record.
  void changed(const std::string& cluster, Build build) {
    const std::lock_guard<std::mutex> lock(mutex_);
    builders_[cluster] = std::move(build);
    changed_.insert(cluster);
    ++changes_;
    wake_.notify_all();
  }

  // The source behind `build` is going: waits for a build under way, and forgets the builder.
  void drop_builder(const std::string& cluster) {
    const std::lock_guard<std::mutex> building(build_mutex_);
    const std::lock_guard<std::mutex> lock(mutex_);
    builders_.erase(cluster);
  }

  std::optional<std::vector<config::ServerConfig>> servers_of(const std::string& cluster) {
    // One build at a time: a list built later from older records never overwrites a newer one.
    const std::lock_guard<std::mutex> building(build_mutex_);
    Build build;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (const auto found = builders_.find(cluster); found != builders_.end()) {
        build = std::move(found->second);
        builders_.erase(found);
      }
    }
    if (build) {
      std::vector<config::ServerConfig> servers = build();
      const std::lock_guard<std::mutex> lock(mutex_);
      sets_[cluster] = capped(cluster, std::move(servers));
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto found = sets_.find(cluster);
    if (found == sets_.end()) {
      return std::nullopt;
    }
    return found->second;
  }

  // Waits until a cluster has changed, stop() was called, or `timeout_ms` passes; returns the
  // clusters changed since the last call.
  std::set<std::string> take_changed(uint64_t timeout_ms) {
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                   [&] { return stopped_ || !changed_.empty(); });
    return std::exchange(changed_, {});
  }
  // Ends every take_changed() wait, now and later.
  void stop() {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
    wake_.notify_all();
  }
  bool stopped() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return stopped_;
  }
  void forget(const std::string& cluster) {
    const std::lock_guard<std::mutex> lock(mutex_);
    sets_.erase(cluster);
    builders_.erase(cluster);
    changed_.erase(cluster);
  }

  uint64_t changes() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return changes_;
  }

 private:
  std::vector<config::ServerConfig> capped(const std::string& cluster,
                                           std::vector<config::ServerConfig> servers) {
    if (servers.size() > config::kMaxServersPerCluster) {
      if (over_limit_log_.admit(core::monotonic_now_ns()) != 0) {
        observe::log_event(config::LogLevel::warn,
                           "discovered servers over the limit: the first serve",
                           {{"cluster", cluster},
                            {"found", std::to_string(servers.size())},
                            {"limit", std::to_string(config::kMaxServersPerCluster)}});
      }
      servers.resize(config::kMaxServersPerCluster);
    }
    return servers;
  }

  std::mutex build_mutex_;
  mutable std::mutex mutex_;
  std::map<std::string, Build> builders_;  // lists to build before they are read
  std::condition_variable wake_;
  std::map<std::string, std::vector<config::ServerConfig>> sets_;
  std::set<std::string> changed_;
  uint64_t changes_ = 0;
  bool stopped_ = false;
  observe::LogThrottle over_limit_log_;  // one line a second at most
};

}  // namespace ballast::discovery
