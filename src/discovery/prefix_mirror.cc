#include "discovery/prefix_mirror.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "config/config.h"
#include "core/clock.h"
#include "observe/log.h"

namespace ballast::discovery {
namespace {

constexpr uint64_t kFirstBackoffMs = 200;
constexpr uint64_t kMaxBackoffMs = 5'000;
constexpr uint64_t kStopCheckMs = 50;
// What the copy holds at most, whatever is written under the prefix: twice the servers a
// cluster may have (records that are not servers count too), each key and value of a size no
// server record comes near. Memory stays under ~80 MiB however etcd is filled.
constexpr size_t kMaxKeys = 2 * config::kMaxServersPerCluster;
constexpr size_t kMaxKeyBytes = 512;
constexpr size_t kMaxValueBytes = 4096;

}  // namespace

PrefixMirror::PrefixMirror(std::vector<EtcdEndpoint> endpoints, uint64_t timeout_ms,
                           std::string prefix, OnChange on_change, SourceStatus& status)
    : client_(std::move(endpoints), timeout_ms),
      prefix_(std::move(prefix)),
      on_change_(std::move(on_change)),
      status_(status) {}

PrefixMirror::~PrefixMirror() {
  stop();
}

void PrefixMirror::stop() {
  stop_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool PrefixMirror::start() {
  const bool read = read_all();
  thread_ = std::thread([this] { run(); });
  return read;
}

void PrefixMirror::run() {
  while (!stop_.load()) {
    try {
      if (revision_ == 0 || backoff_ms_ != 0) {
        if (backoff_ms_ != 0) {
          sleep_ms(backoff_ms_);
        }
        if (stop_.load() || !read_all()) {
          continue;
        }
      }
      client_.watch_prefix(
          prefix_, revision_ < INT64_MAX ? revision_ + 1 : revision_,
          [this](std::span<const EtcdEvent> events, int64_t revision) {
            std::vector<std::string> changed;
            changed.reserve(events.size());
            for (const EtcdEvent& event : events) {
              std::string key = event.kv.key.substr(std::min(prefix_.size(), event.kv.key.size()));
              if (event.deleted) {
                keys_.erase(key);
              } else {
                admit(keys_, key, event.kv.value);
              }
              changed.push_back(std::move(key));
            }
            revision_ = std::max(revision_, revision);
            status_.update([&](SourceReport& report) {
              report.revision = revision_;
              report.up = true;
              report.error.clear();
            });
            if (!events.empty()) {
              on_change_(keys_, &changed);
            }
          },
          stop_);
    } catch (const EtcdCompacted& compacted) {
      observe::log_event(config::LogLevel::warn, "etcd watch compacted: reading in full",
                         {{"prefix", prefix_}, {"error", compacted.what()}});
      revision_ = 0;
    } catch (const EtcdError& error) {
      fail(error.what());
    } catch (const std::exception& error) {  // memory, in a decode or in on_change
      fail(error.what());
      revision_ = 0;
    }
  }
}

// Reads every key under the prefix; on success replaces the copy and reports it.
bool PrefixMirror::read_all() {
  EtcdRange range;
  try {
    range = client_.range_prefix(prefix_);
  } catch (const EtcdError& error) {
    fail(error.what());
    return false;
  }
  Keys keys;
  for (EtcdKeyValue& kv : range.kvs) {
    admit(keys, kv.key.substr(std::min(prefix_.size(), kv.key.size())), std::move(kv.value));
  }
  if (backoff_ms_ != 0) {
    observe::log_event(config::LogLevel::info, "etcd reachable again",
                       {{"prefix", prefix_}, {"endpoint", client_.current_endpoint()}});
  }
  backoff_ms_ = 0;
  keys_ = std::move(keys);
  revision_ = range.revision;
  const bool resync = reads_++ != 0;
  status_.update([&](SourceReport& report) {
    report.up = true;
    report.error.clear();
    report.revision = revision_;
    report.endpoint = client_.current_endpoint();
    report.resyncs += resync ? 1 : 0;
  });
  on_change_(keys_, nullptr);
  return true;
}

// etcd could not be reached, or the watch broke: keep the copy, wait, and read again.
void PrefixMirror::fail(const std::string& error) {
  if (backoff_ms_ == 0) {
    observe::log_event(config::LogLevel::warn, "etcd unreachable: keeping the last known servers",
                       {{"prefix", prefix_}, {"error", error}});
  }
  backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
  status_.update([&](SourceReport& report) {
    report.up = false;
    report.error = error;
    ++report.failures;
  });
}

// Puts the key in `keys` unless it is over a bound above; one that is leaves the copy (as if
// deleted: what it said before no longer holds) and is logged, once a second at most.
void PrefixMirror::admit(Keys& keys, const std::string& key, std::string value) {
  const char* refused = nullptr;
  if (key.size() > kMaxKeyBytes) {
    refused = "key longer than 512 bytes";
  } else if (value.size() > kMaxValueBytes) {
    refused = "value longer than 4096 bytes";
  } else if (keys.size() >= kMaxKeys && !keys.contains(key)) {
    refused = "more than 20000 keys under the prefix";
  }
  if (refused == nullptr) {
    keys.insert_or_assign(key, std::move(value));
    return;
  }
  keys.erase(key);
  if (const uint64_t times = refused_log_.admit(core::monotonic_now_ns()); times != 0) {
    observe::log_event(config::LogLevel::warn, "etcd key left out",
                       {{"prefix", prefix_},
                        {"key", key.substr(0, 64)},
                        {"reason", refused},
                        {"times", std::to_string(times)}});
  }
}

void PrefixMirror::sleep_ms(uint64_t ms) {
  for (uint64_t slept = 0; slept < ms && !stop_.load(); slept += kStopCheckMs) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kStopCheckMs));
  }
}

}  // namespace ballast::discovery
