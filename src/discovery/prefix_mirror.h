#pragma once
// A live copy of the keys under one etcd prefix: read in full, then watched from the revision of
// that read, each change applied as it comes. When etcd cannot be reached the copy stays as it
// was (what was known keeps serving), the mirror tries again with back-off (200 ms doubling to
// 5 s), and reads in full again before watching, so nothing that changed meanwhile is missed;
// the same after a compaction took the revision it watched from.
//
// Threading: start() on the caller's thread; then a thread of its own, which calls on_change,
// until destruction.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "discovery/etcd_client.h"
#include "discovery/source_status.h"
#include "observe/log_throttle.h"

namespace ballast::discovery {

class PrefixMirror {
 public:
  using Keys = std::map<std::string, std::string>;  // key (without the prefix) -> value
  // After each read in full (`changed` null: any key may have changed) and after each batch of
  // changes (`changed`: the keys it put or deleted): every key and value now.
  using OnChange = std::function<void(const Keys&, const std::vector<std::string>* changed)>;

  PrefixMirror(std::vector<EtcdEndpoint> endpoints, uint64_t timeout_ms, std::string prefix,
               OnChange on_change, SourceStatus& status);
  ~PrefixMirror();  // stop()
  // Ends the thread: on_change is not called after this returns.
  void stop();
  PrefixMirror(const PrefixMirror&) = delete;
  PrefixMirror& operator=(const PrefixMirror&) = delete;

  // Reads the prefix once (bounded by the timeout) and starts watching; false when that read
  // failed (the thread keeps trying).
  bool start();

 private:
  void run();
  bool read_all();
  void admit(Keys& keys, const std::string& key, std::string value);
  void fail(const std::string& error);
  void sleep_ms(uint64_t ms);

  EtcdClient client_;
  const std::string prefix_;
  const OnChange on_change_;
  SourceStatus& status_;
  Keys keys_;
  int64_t revision_ = 0;  // the revision keys_ is at; 0 before the first good read
  uint64_t backoff_ms_ = 0;
  uint64_t reads_ = 0;
  observe::LogThrottle refused_log_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ballast::discovery
