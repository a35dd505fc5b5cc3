#pragma once
// The running proxy: its workers, their listening sockets, and the signals that reload or stop
// it. SIGHUP reloads (a configuration that fails to load or resolve leaves the running one in
// place, and the log says why); SIGTERM and SIGINT stop accepting, let exchanges in flight
// finish for up to drain_timeout, and return 0.
//
// Threading: run() on the main thread, which does nothing but wait for signals and act on
// them. Everything it shares with workers goes through Worker::adopt and Worker::drain.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "config/config.h"
#include "discovery/discovery.h"
#include "discovery/fleet_admin.h"
#include "discovery/instance_registration.h"
#include "observe/log_writer.h"
#include "observe/protocol_stats.h"
#include "observe/span_exporter.h"
#include "proxy/worker.h"
#include "upstream/generation.h"

namespace ballast::process {

class ProxyProcess {
 public:
  // Produces a validated configuration; throws (config::ConfigError or std::runtime_error) when
  // it cannot. Called at start and at each reload.
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;

  // `version`: what metrics report as the build's version.
  ProxyProcess(ConfigSource source, std::string version);
  ~ProxyProcess();  // detaches its log writer from the event log, however run() ended

  // Starts, serves until told to stop, and returns the exit code. Throws at start-up if the
  // configuration cannot be loaded or a listener cannot be opened.
  int run();

 private:
  void reload() noexcept;
  void restore_discovery() noexcept;
  // Serves the servers discovery found for `cluster` (on discovery's publishing thread).
  void apply_servers(const std::string& cluster) noexcept;
  // Applies the fleet-wide drains and disables now in etcd (on the fleet mirror's thread).
  void apply_fleet_actions(const discovery::FleetActions& actions) noexcept;
  // Puts the fleet's actions on the servers of `generation` (under control_mutex_).
  void put_fleet_actions(const upstream::Generation& generation) const noexcept;
  std::vector<discovery::SourceReport> discovery_reports() const;
  // The configuration as loaded, with the discovered clusters' servers as found.
  std::shared_ptr<const config::Config> load_config();
  void start_admin(const config::Config& config, uint32_t workers);
  void publish(std::shared_ptr<const upstream::Generation> generation);
  // A listening socket per worker for every listen address of `config` not in `open_`.
  std::vector<proxy::ListenSockets> open_new_listeners(const config::Config& config) const;
  std::set<std::string> listen_addresses(const config::Config& config) const;

  ConfigSource source_;
  const std::string version_;
  // Held while a reload builds and publishes a generation, and by every admin write, so that a
  // write lands either in the old generation before it is built upon or in the new one.
  std::mutex control_mutex_;
  std::shared_ptr<const upstream::Generation> generation_;
  // The same generation, for the admin thread (written here on the main thread, read there).
  std::atomic<std::shared_ptr<const upstream::Generation>> published_;
  // Null when tracing is off. Read at start-up: a reload does not change tracing. Declared before
  // workers_, so it outlives them.
  std::unique_ptr<observe::SpanExporter> spans_;
  // Writes the access log (and, attached, the event lines) off the workers' threads.
  std::unique_ptr<observe::LogWriter> log_writer_;
  // The client connection limits every worker shares; declared before workers_, so it outlives
  // them.
  std::unique_ptr<proxy::ConnectionGate> gate_;
  std::unique_ptr<observe::ProtocolStats> protocols_;  // one shard per worker; outlives them
  std::vector<std::unique_ptr<proxy::Worker>> workers_;
  std::set<std::string> open_;  // listen addresses the workers have sockets for
  // The fleet-wide admin actions in force (under control_mutex_), which each new generation and
  // discovered server takes on; declared before the threads that use it, so it outlives them.
  discovery::FleetActions fleet_actions_;
  // Whether discovery's and the fleet's threads may change what is served (under
  // control_mutex_): from the workers' start to the start of shutdown.
  bool serving_ = false;
  // DNS and etcd discovery; declared after workers_, so it stops (and calls apply_servers no
  // more) before they go.
  std::unique_ptr<discovery::Discovery> discovery_;
  // The configuration file's contents last applied (the main thread's), which discovery is put
  // back to when a reload fails.
  std::shared_ptr<const config::Config> applied_;
  // With an etcd block: the fleet-wide admin actions' watch (read at start-up).
  std::unique_ptr<discovery::FleetAdmin> fleet_admin_;
  // This instance's entry in the fleet, with an etcd block; the main thread's alone.
  std::unique_ptr<discovery::InstanceRegistration> instance_;
  // The admin API and metrics, on their own thread; declared last, so it stops first: its hooks
  // read the members above.
  std::unique_ptr<admin::AdminServer> admin_;
};

}  // namespace ballast::process
