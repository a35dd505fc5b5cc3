#pragma once
// Where servers come from besides the configuration file, as one object for the process: DNS
// discovery for the clusters with servers given by name (dns_discovery.h), etcd discovery for
// those with `discovery.etcd_prefix` (etcd_discovery.h), and the thread that hands their
// findings to the process (`apply`), at most ten times a second, each cluster's latest list once.
//
// Threading: configure(), expand() and the destructor on the control (main) thread; apply is
// called on the publishing thread; servers_of() and reports() from any thread.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "discovery/dns_discovery.h"
#include "discovery/etcd_discovery.h"
#include "discovery/server_sets.h"

namespace ballast::discovery {

class Discovery {
 public:
  // Applies the servers discovery found for `cluster` (read them with servers_of()).
  using Apply = std::function<void(const std::string& cluster)>;

  explicit Discovery(Apply apply);
  ~Discovery();  // stops every source and the publishing thread
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // Starts the sources `config` asks for, each looking once before this returns (bounded by the
  // resolver's and etcd's timeouts); at a reload, only when what they look at has changed.
  void configure(const config::Config& config);
  // `config` with every discovered cluster's servers as found (none yet: an empty list).
  std::shared_ptr<const config::Config> expand(std::shared_ptr<const config::Config> config);

  std::optional<std::vector<config::ServerConfig>> servers_of(const std::string& cluster) {
    return sets_.servers_of(cluster);
  }
  std::vector<SourceReport> reports() const;

 private:
  void publish_changes();
  void stop_sources();

  const Apply apply_;
  ServerSets sets_;
  std::string settings_;  // what the running sources were started from (signature())
  // Guards the two below for reports() on the admin thread; not held while sources start.
  mutable std::mutex sources_mutex_;
  std::unique_ptr<DnsDiscovery> dns_;
  std::vector<std::unique_ptr<EtcdDiscovery>> etcd_;
  std::thread publisher_;
};

}  // namespace ballast::discovery
