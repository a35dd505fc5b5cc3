#pragma once
// `ballast register`: a sidecar that keeps one server registered in etcd for as long as it runs.
//
// It grants a lease of `ttl_s`, puts the server's record under `key` with that lease, and renews
// the lease every ttl_s / 3. If the lease is lost (etcd was unreachable for longer than its TTL)
// it grants a new one and puts the record again. On SIGTERM or SIGINT it revokes the lease,
// which deletes the key at once, and returns 0. While etcd cannot be reached it retries with
// back-off (from 200 ms doubling to 5 s) and says so on stderr, once per failure streak.
//
// Threading: the calling (main) thread; it blocks SIGTERM and SIGINT and waits for them itself.

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "discovery/etcd_client.h"

namespace ballast::discovery {

struct Registration {
  std::vector<EtcdEndpoint> endpoints;
  std::string key;    // the full key, e.g. "/services/web/10.0.0.5:8080"
  std::string value;  // the server's record, JSON (server_record.h)
  int64_t ttl_s = 10;
  uint64_t timeout_ms = 2'000;  // per etcd call
};

// The registration's state between steps: the lease held, whether the record is under it, and
// the failure streak. What run_registration() and a running ballast's own entry in the fleet
// (instance_registration.h) step through.
class Registrar {
 public:
  using Say = std::function<void(const std::string&)>;  // one line about what it did
  // `registration` outlives the registrar.
  Registrar(const Registration& registration, Say say);

  // Gets the record into etcd under a live lease, or keeps it there; the time until the next
  // step is due (ms): a third of the TTL, or the back-off while etcd fails.
  uint64_t step();
  // On the way out: revoking the lease deletes the record at once.
  void revoke(std::string_view why);

 private:
  uint64_t failed(const EtcdError& error);
  void say(const std::string& line);

  const Registration& registration_;
  const Say say_;
  EtcdClient client_;
  int64_t lease_ = 0;
  bool record_put_ = false;  // the record is in etcd under lease_
  uint64_t backoff_ms_ = 0;  // 0: the last step succeeded
};

// Runs until SIGTERM or SIGINT; returns the process's exit code. Lines about what it does (lease
// granted, record put, lease lost, revoked) go to `log` (stderr in the CLI).
int run_registration(const Registration& registration, std::ostream& log);

}  // namespace ballast::discovery
