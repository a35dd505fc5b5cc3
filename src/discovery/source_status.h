#pragma once
// What one discovery source last did, for /status and /metrics: whether it is getting answers,
// the last error, and its counts.
//
// Threading: written by the source's thread, read by the admin thread; a mutex around a copy.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace ballast::discovery {

struct SourceReport {
  std::string kind;      // "dns" or "etcd"
  std::string cluster;   // the cluster it feeds
  std::string target;    // the names it resolves, or the etcd prefix
  bool up = false;       // its last lookup or read succeeded (or its watch is open)
  std::string error;     // the last failure, while !up
  std::string endpoint;  // etcd: the member answering
  int64_t revision = 0;  // etcd: the revision applied last
  uint64_t servers = 0;  // in the cluster's list as found
  uint64_t updates = 0;  // lists published that differed from the previous
  uint64_t failures = 0;
  uint64_t resyncs = 0;  // etcd: full reads after the first (reconnects, compactions)
  int64_t last_change_unix_ms = 0;
};

class SourceStatus {
 public:
  explicit SourceStatus(SourceReport initial) : report_(std::move(initial)) {}

  SourceReport read() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return report_;
  }
  template <typename Change>
  void update(Change&& change) {
    const std::lock_guard<std::mutex> lock(mutex_);
    change(report_);
  }

 private:
  mutable std::mutex mutex_;
  SourceReport report_;
};

}  // namespace ballast::discovery
