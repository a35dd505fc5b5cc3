#pragma once
// DNS discovery: the servers given by name (docs/fleet.md "DNS"), looked up again as their
// answers expire. `resolve: first` keeps one server at the name's first address; `all` makes a
// server of every A/AAAA address; `srv` reads the name's SRV records and then each target's
// addresses: a server per address, with the record's port and weight, the records of the lowest
// priority as primaries and the others as backups.
//
// An answer is kept for its TTL, held within resolver.ttl_min..ttl_max. A lookup that fails
// (SERVFAIL, no answer, a refused connection) keeps the last answer and is tried again after
// ttl_min, doubling up to ttl_max, and logged once per failure streak; NXDOMAIN or an empty
// answer is an answer: the name has no servers now. Each cluster's list goes to ServerSets when it
// differs from the one before.
//
// Threading: start() on the caller's thread (it resolves every name once, bounded by the
// resolver's timeout × attempts), then one thread of its own until destruction. reports() from
// any thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.h"
#include "discovery/dns_resolver.h"
#include "discovery/server_sets.h"
#include "discovery/source_status.h"

namespace ballast::discovery {

// Whether `cluster` has a server given by name (so DNS discovery looks after it).
bool has_named_servers(const config::ClusterConfig& cluster);

class DnsDiscovery {
 public:
  // Looks after the clusters of `config` that have named servers; `sets` outlives it.
  DnsDiscovery(const config::Config& config, ServerSets& sets);
  ~DnsDiscovery();
  DnsDiscovery(const DnsDiscovery&) = delete;
  DnsDiscovery& operator=(const DnsDiscovery&) = delete;

  // Takes the answers `previous` (stopped) had for the names this one looks up, so a reload
  // while DNS fails keeps serving what it knew. Before start().
  void take_answers(const DnsDiscovery& previous);
  void start();
  // Ends the thread (also what destruction does).
  void stop();
  std::vector<SourceReport> reports() const;

 private:
  struct Name {
    std::string name;
    LookupKind kind;
    auto operator<=>(const Name&) const = default;
  };
  struct Answer {
    LookupResult result;  // the last good one
    bool answered = false;
    uint64_t due_ns = 0;
    uint64_t retry_ms = 0;  // while failing: the current wait
    std::string error;      // the last failure
    uint64_t failures = 0;
  };
  struct Cluster {
    std::string name;
    std::vector<config::ServerConfig> entries;  // as written
    std::unique_ptr<SourceStatus> status;
  };

  void run();
  void round(uint64_t now_ns);
  void record(const Name& name, const LookupResult& result, uint64_t now_ns);
  void add_srv_targets();
  void publish();
  std::vector<config::ServerConfig> expand(const Cluster& cluster) const;
  std::vector<Name> names_used(const Cluster& cluster) const;
  uint64_t next_due_ns() const;

  const config::ResolverConfig settings_;
  ServerSets& sets_;
  std::vector<Cluster> clusters_;
  DnsResolver resolver_;
  std::map<Name, Answer> answers_;  // the resolving thread's alone once it runs

  std::mutex mutex_;  // guards stop_ for the wait
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ballast::discovery
