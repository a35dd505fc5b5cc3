#pragma once
// A client of etcd's v3 API through its HTTP/JSON gateway (`/v3/kv/range`, `/v3/watch`,
// `/v3/lease/*`), over ballast's own HTTP/1.1 parsing (http/response_parser.h,
// http/chunked_parser.h) and Debian's nlohmann-json. Why the gateway rather than a gRPC client:
// Debian packages no C++ etcd client, the gateway ships in every etcd since 3.3 (`/v3` paths from
// 3.4), and it keeps gRPC's code generation out of the build; it costs a base64 of each key and
// value, which is nothing at discovery's rates.
//
// Endpoints are tried in order, moving to the next on a connection failure, so a cluster with a
// member down keeps working. Every call is bounded by `timeout_ms` on each member it tries; a
// watch by `stop` and by the connection (a member that dies closes it).
//
// Threading: blocking calls, for the discovery and registration threads; one client per thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::discovery {

struct EtcdEndpoint {
  std::string host;
  uint16_t port = 2379;
};

// Any failure to talk to etcd: no member reachable, a timeout, an answer that is not what the
// API documents.
class EtcdError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The watch's start revision has been compacted away: read the prefix again in full.
class EtcdCompacted : public EtcdError {
 public:
  explicit EtcdCompacted(int64_t compact_revision)
      : EtcdError("revision compacted (now " + std::to_string(compact_revision) + ")"),
        compact_revision(compact_revision) {}
  int64_t compact_revision;
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct EtcdRange {
  int64_t revision = 0;  // the store's revision when read: watch from revision + 1
  std::vector<EtcdKeyValue> kvs;
};

struct EtcdEvent {
  bool deleted = false;  // false: a put
  EtcdKeyValue kv;       // for a delete, only the key and mod_revision
};

class EtcdClient {
 public:
  EtcdClient(std::vector<EtcdEndpoint> endpoints, uint64_t timeout_ms);

  // Every key under `prefix` (etcd's range [prefix, prefix+1)).
  EtcdRange range_prefix(const std::string& prefix);
  void put(const std::string& key, const std::string& value, int64_t lease = 0);
  void remove(const std::string& key);
  // A lease of ttl_s seconds; its ID.
  int64_t grant_lease(int64_t ttl_s);
  // Renews the lease; false when etcd says it no longer exists (expired or revoked).
  bool keep_alive(int64_t lease);
  void revoke(int64_t lease);

  // Watches every key under `prefix` from `start_revision` on, calling on_events with each batch
  // of events (in revision order) and the store's revision after it. Returns when `stop` becomes
  // true (looked at least every 200 ms); throws EtcdCompacted when start_revision is gone and
  // EtcdError when the stream breaks or no member can be reached.
  void watch_prefix(const std::string& prefix, int64_t start_revision,
                    const std::function<void(std::span<const EtcdEvent>, int64_t)>& on_events,
                    const std::atomic<bool>& stop);

  // The endpoint that answered last ("host:port"), for logs and /status.
  std::string current_endpoint() const;

 private:
  // Runs attempt(endpoint, deadline_ns) on the members in turn until one answers.
  template <typename Attempt>
  auto on_some_member(const Attempt& attempt);
  // A unary call: POST `body` to `path`, the answer's body (at most max_bytes).
  std::string call(std::string_view path, std::string_view body, size_t max_bytes);

  std::vector<EtcdEndpoint> endpoints_;
  uint64_t timeout_ms_;
  size_t current_ = 0;  // the endpoint tried first
};

// "host:port" or "http://host:port" (IPv6 in brackets) → an endpoint; throws std::invalid_argument.
EtcdEndpoint parse_etcd_endpoint(const std::string& text);

}  // namespace ballast::discovery
