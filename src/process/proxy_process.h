#pragma once
// The running proxy: its workers, their listening sockets, and the signals that reload or stop
// it. SIGHUP reloads (a configuration that fails to load or resolve leaves the running one in
// place, and the log says why; settings read only at start-up are named); SIGTERM and SIGINT
// stop accepting, let exchanges in flight finish for up to drain_timeout, and return 0; SIGUSR1
// opens the log output again (after logrotate moved it); SIGUSR2
// upgrades the binary: a successor started from the same path takes every listening socket and
// the servers' state (successor.h), and once it serves this process drains as for SIGTERM.
// systemd hears of each step (service_notifier.h).
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
#include "process/inheritance.h"
#include "process/service_notifier.h"
#include "process/successor.h"
#include "proxy/worker.h"
#include "upstream/generation.h"

namespace ballast::process {

class ProxyProcess {
 public:
  // Produces a validated configuration; throws (config::ConfigError or std::runtime_error) when
  // it cannot. Called at start and at each reload.
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;

  // How the process was started: to start a successor the same way, and, when it is one, the
  // channel its predecessor hands over on.
  struct Launch {
    CommandLine command;
    int upgrade_fd = -1;  // -1: started afresh
  };

  // `version`: what metrics report as the build's version.
  ProxyProcess(ConfigSource source, std::string version, Launch launch);
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
  // Our own copies of the workers' listening sockets, by listen address.
  using ListenCopies = std::map<std::string, std::vector<core::FileDescriptor>>;
  // A listening socket per worker for every listen address of `config` not in `listening_`:
  // taken over from inherited_ where it has them, else opened; copies of each go to `copies`.
  std::vector<proxy::ListenSockets> open_new_listeners(const config::Config& config,
                                                       ListenCopies& copies);
  // listening_ after a generation with `config` was adopted: `opened` added, addresses no
  // longer configured closed.
  void keep_listening(const config::Config& config, ListenCopies opened);
  // Waits for the next control signal, keeping the watchdog fed and checking certificates.
  int next_signal(const sigset_t& signals);
  // WATCHDOG=1, when every worker's loop ran the check posted at the last one.
  void feed_watchdog();
  // SIGUSR2. True when the successor serves: this process must now drain and exit.
  bool hand_over() noexcept;
  // Stops accepting, drains and ends every thread (SIGTERM, SIGINT, or after hand_over()).
  void shut_down(std::string_view why, bool handed_over);

  ConfigSource source_;
  const std::string version_;
  const Launch launch_;
  // What the predecessor handed over, from start-up until this process serves.
  std::unique_ptr<Inheritance> inherited_;
  std::unique_ptr<ServiceNotifier> notifier_;
  // Workers that ran the watchdog's last check (feed_watchdog): written on their threads.
  std::atomic<uint32_t> workers_alive_{0};
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
  // A copy of every worker's listening socket, by listen address (the main thread's): what a
  // binary upgrade hands over; its keys are the addresses the workers listen on.
  ListenCopies listening_;
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
  // The contents at start-up: what the settings read only then are (startup_settings.h).
  std::shared_ptr<const config::Config> started_;
  // With an etcd block: the fleet-wide admin actions' watch (read at start-up).
  std::unique_ptr<discovery::FleetAdmin> fleet_admin_;
  // This instance's entry in the fleet, with an etcd block; the main thread's alone.
  std::unique_ptr<discovery::InstanceRegistration> instance_;
  // The admin API and metrics, on their own thread; declared last, so it stops first: its hooks
  // read the members above.
  std::unique_ptr<admin::AdminServer> admin_;
};

}  // namespace ballast::process
