#pragma once
// The running proxy: its workers, their listening sockets, and the signals that reload or stop
// it. SIGHUP reloads (a configuration that fails to load or resolve leaves the running one in
// place, and the log says why); SIGTERM and SIGINT stop accepting, let exchanges in flight
// finish for up to drain_timeout, and return 0.
//
// Threading: run() on the main thread, which does nothing but wait for signals and act on
// them. Everything it shares with workers goes through Worker::adopt and Worker::drain.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/worker.h"
#include "upstream/generation.h"

namespace ballast::proxy {

class ProxyProcess {
 public:
  // Produces a validated configuration; throws (config::ConfigError or std::runtime_error) when
  // it cannot. Called at start and at each reload.
  using ConfigSource = std::function<std::shared_ptr<const config::Config>()>;

  explicit ProxyProcess(ConfigSource source);

  // Starts, serves until told to stop, and returns the exit code. Throws at start-up if the
  // configuration cannot be loaded or a listener cannot be opened.
  int run();

 private:
  void reload() noexcept;
  // A listening socket per worker for every listen address of `config` not in `open_`.
  std::vector<ListenSockets> open_new_listeners(const config::Config& config) const;
  std::set<std::string> listen_addresses(const config::Config& config) const;

  ConfigSource source_;
  std::shared_ptr<const upstream::Generation> generation_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::set<std::string> open_;  // listen addresses the workers have sockets for
};

}  // namespace ballast::proxy
