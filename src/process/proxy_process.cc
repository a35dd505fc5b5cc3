#include "process/proxy_process.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <iterator>
#include <system_error>
#include <thread>

#include "admin/prometheus_text.h"
#include "config/scalars.h"
#include "core/clock.h"
#include "observe/log.h"
#include "observe/process_stats.h"
#include "process/startup_settings.h"
#include "process/upgrade_channel.h"
#include "upstream/server_handover.h"

namespace ballast::process {
namespace {

using config::LogLevel;
using proxy::ConnectionGate;
using proxy::ListenSockets;
using proxy::Worker;
using proxy::WorkerGeneration;
using proxy::WorkerSlot;

std::string address_key(const config::Endpoint& endpoint) {
  return endpoint.host + ":" + std::to_string(endpoint.port);
}

// Blocks the signals the main thread waits for, before any worker starts (threads inherit the
// mask), so only sigwait sees them. SIGPIPE is ignored: a peer that vanished is an error value
// from send(), not a reason to die.
sigset_t block_control_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signals;
}

// How early, and how often, a certificate near its end is logged.
constexpr int64_t kExpiryWarningSeconds = 14 * 24 * 3600;
constexpr uint64_t kExpiryCheckMs = 24 * 3600 * 1000;
// How long a binary upgrade's predecessor may take to hand over, and its successor to serve.
constexpr std::chrono::milliseconds kHandoverTimeout{10'000};
constexpr uint64_t kSuccessorStartMs = 60'000;
// How long, after a hand-over, an idle keep-alive connection of the old process stays open for
// a request already on its way (Worker::drain).
constexpr uint64_t kHandoverIdleGraceMs = 1'000;

// One warning per TLS certificate that ends within 14 days (or has ended): at start-up, at
// each reload, and once a day while it runs.
void warn_expiring_certificates(const upstream::Generation& generation) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& context : generation.listener_tls) {
    if (context == nullptr) {
      continue;
    }
    for (const tls::Certificate& certificate : context->certificates()) {
      const int64_t left = certificate.not_after_unix - now;
      if (left < kExpiryWarningSeconds) {
        observe::log_event(
            LogLevel::warn,
            left < 0 ? "TLS certificate has expired" : "TLS certificate expires soon",
            {{"listener", context->listener_name()},
             {"certificate", certificate.files.cert.path},
             {"days_left", std::to_string(left / 86'400)}});
      }
    }
  }
}

void log_warnings(const config::Config& config) {
  for (const std::string& warning : config.warnings) {
    observe::log_event(LogLevel::warn, "configuration warning", {{"warning", warning}});
  }
}

// glibc returns the top of a heap to the kernel as soon as 128 KiB of it is free, so a burst of
// connections that closes together (a flood's deadline, say) is paid for again in page faults
// and madvise calls by the next burst, on the worker's loop. Keeping up to 64 MiB free per arena
// makes that memory a pool the next burst reuses; RSS after a flood stays at the flood's level,
// as it does for nginx's connection pool.
void keep_freed_memory() {
  constexpr int kTrimThresholdBytes = 64 << 20;
  mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
}

// How this instance appears in the fleet (`ballast status --etcd`): etcd.instance, or the host's
// name and the admin API's port, which together tell instances on one host apart.
discovery::InstanceRecord instance_record(const config::Config& config,
                                          const std::string& version) {
  discovery::InstanceRecord instance;
  instance.name = config.etcd.instance;
  if (instance.name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    instance.name = std::string(host) + "-" + std::to_string(config.admin.listen.port);
  }
  instance.admin = config::format_endpoint(config.admin.listen);
  instance.version = version;
  instance.pid = getpid();
  return instance;
}

uint32_t worker_count(const config::Config& config) {
  if (config.workers != 0) {
    return config.workers;
  }
  const uint32_t cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

}  // namespace

ProxyProcess::ProxyProcess(ConfigSource source, std::string version, Launch launch)
    : source_(std::move(source)), version_(std::move(version)), launch_(std::move(launch)) {}

ProxyProcess::~ProxyProcess() {
  {
    const std::lock_guard<std::mutex> control(control_mutex_);
    serving_ = false;  // when run() ended by an exception
  }
  if (admin_ != nullptr) {
    admin_->stop();
  }
  if (log_writer_ != nullptr) {
    observe::attach_log_writer(nullptr);
  }
}

void ProxyProcess::publish(std::shared_ptr<const upstream::Generation> generation) {
  generation_ = generation;
  published_.store(std::move(generation));
}

// The admin API and the metrics endpoint run on a thread of their own, reading the published
// generation; a reload it asks for goes through the same signal as an operator's SIGHUP.
void ProxyProcess::start_admin(const config::Config& config, uint32_t workers) {
  admin::AdminHooks hooks;
  hooks.generation = [this] { return published_.load(); };
  hooks.metrics = [this](const upstream::Generation& generation) {
    admin::ExtraCounters extra;
    extra.version = version_;
    extra.access_log_dropped = log_writer_->dropped_lines();
    extra.protocols = protocols_->totals();
    extra.discovery = discovery_reports();
    if (gate_ != nullptr) {
      extra.client_connections = gate_->open();
      extra.client_connections_refused = gate_->refused_per_client();
      extra.accept_pauses_at_limit = gate_->limit_pauses();
      extra.accept_pauses_out_of_descriptors = gate_->descriptor_pauses();
    }
    if (spans_ != nullptr) {
      extra.spans_dropped = spans_->spans_dropped();
      extra.spans_exported = spans_->spans_exported();
    }
    return admin::render_metrics(generation, observe::read_process_stats(), extra,
                                 core::monotonic_now_ns());
  };
  hooks.protocols = [this] { return protocols_->totals(); };
  hooks.discovery = [this] { return discovery_reports(); };
  hooks.reload = [] { kill(getpid(), SIGHUP); };
  hooks.set_admin_state = [this](const std::string& cluster, const std::string& server,
                                 upstream::AdminState state) {
    const std::lock_guard<std::mutex> control(control_mutex_);
    return upstream::set_admin_state(*generation_, cluster, server, state);
  };
  admin_ = std::make_unique<admin::AdminServer>(config, workers, std::move(hooks));
  admin::AdminServer::Inherited inherited;
  if (inherited_ != nullptr) {
    inherited.admin = inherited_->take_one(admin_key(admin_->admin_listen()));
    inherited.metrics = inherited_->take_one(metrics_key(admin_->metrics_listen()));
  }
  admin_->start(std::move(inherited));
}

namespace {

core::FileDescriptor copy_of(const core::FileDescriptor& fd) {
  core::FileDescriptor copy(fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) {
    throw std::system_error(errno, std::generic_category(), "dup of a listening socket");
  }
  return copy;
}

}  // namespace

// Every socket the kernel puts an address's connections in must be accepted from: a
// predecessor's sockets beyond our worker count go to workers as extra ones (ListenSockets).
std::vector<ListenSockets> ProxyProcess::open_new_listeners(const config::Config& config,
                                                            ListenCopies& copies) {
  const size_t workers = workers_.empty() ? worker_count(config) : workers_.size();
  std::vector<ListenSockets> sockets(workers);
  for (const config::ListenerConfig& listener : config.listeners) {
    const std::string key = address_key(listener.listen);
    if (listening_.contains(key) || copies.contains(key)) {
      continue;
    }
    std::vector<core::FileDescriptor> taken;
    if (inherited_ != nullptr) {
      taken = inherited_->take(listener_key(key));
    }
    const core::SocketAddress address = core::resolve(listener.listen.host, listener.listen.port);
    for (size_t i = 0; i < std::max(workers, taken.size()); ++i) {
      core::FileDescriptor fd =
          i < taken.size() ? std::move(taken[i]) : core::listen_on(address, true);
      copies[key].push_back(copy_of(fd));
      const std::string socket_key = i < workers ? key : key + "#" + std::to_string(i);
      sockets[i % workers][socket_key] = std::move(fd);
    }
  }
  return sockets;
}

void ProxyProcess::keep_listening(const config::Config& config, ListenCopies opened) {
  std::set<std::string> configured;
  for (const config::ListenerConfig& listener : config.listeners) {
    configured.insert(address_key(listener.listen));
  }
  std::erase_if(listening_, [&](const auto& entry) { return !configured.contains(entry.first); });
  listening_.merge(opened);
}

int ProxyProcess::run() {
  keep_freed_memory();
  const sigset_t signals = block_control_signals();
  if (launch_.upgrade_fd >= 0) {
    inherited_ = std::make_unique<Inheritance>(launch_.upgrade_fd, kHandoverTimeout);
  }
  notifier_ = std::make_unique<ServiceNotifier>(inherited_ != nullptr);
  discovery_ = std::make_unique<discovery::Discovery>(
      [this](const std::string& cluster) { apply_servers(cluster); });
  std::shared_ptr<const config::Config> config = load_config();
  started_ = applied_;
  observe::configure_log(config->monitoring.logging);
  log_warnings(*config);
  const uint32_t worker_total = worker_count(*config);
  publish(upstream::build_generation(config, nullptr, worker_total));
  const size_t resumed = inherited_ != nullptr
                             ? upstream::resume_server_states(*generation_, inherited_->servers())
                             : 0;
  warn_expiring_certificates(*generation_);
  if (config->tracing.enabled) {
    spans_ = std::make_unique<observe::SpanExporter>(config->tracing, worker_total);
    observe::log_event(
        config::LogLevel::info, "tracing",
        {{"endpoint", config->tracing.endpoint},
         {"from",
          config->tracing.from_jaeger_endpoint ? "jaeger_endpoint (OTLP/HTTP)" : "endpoint"},
         {"sample_rate", std::to_string(config->tracing.sample_rate)}});
  }
  log_writer_ =
      std::make_unique<observe::LogWriter>(worker_total, config->monitoring.logging.output);
  observe::attach_log_writer(log_writer_.get());
  // The admin API first: once a client can reach the listeners it can reach the API too, and a
  // port the API cannot have stops the start before anything serves.
  protocols_ = std::make_unique<observe::ProtocolStats>(worker_total);
  if (config->etcd.enabled()) {  // before the admin API, whose thread reads its report
    fleet_admin_ = std::make_unique<discovery::FleetAdmin>(
        config->etcd,
        [this](const discovery::FleetActions& actions) { apply_fleet_actions(actions); });
  }
  start_admin(*config, worker_total);
  ListenCopies opened;
  std::vector<ListenSockets> sockets = open_new_listeners(*config, opened);
  keep_listening(*config, std::move(opened));

  const uint32_t connection_limit =
      config->max_connections != 0 ? config->max_connections : proxy::default_connection_limit();
  gate_ = std::make_unique<ConnectionGate>(connection_limit, config->max_connections_per_client);
  for (uint32_t i = 0; i < worker_total; ++i) {
    workers_.push_back(std::make_unique<Worker>(WorkerSlot{i, worker_total}, *config, spans_.get(),
                                                log_writer_->queue(i), *gate_, *protocols_));
  }
  {
    const std::lock_guard<std::mutex> control(control_mutex_);
    for (uint32_t i = 0; i < sockets.size(); ++i) {
      workers_[i]->start(workers_[i]->prepare(generation_), std::move(sockets[i]));
    }
    serving_ = true;
  }
  // What discovery found while the workers started.
  const std::shared_ptr<const upstream::Generation> started = published_.load();
  for (const upstream::ClusterState& cluster : started->clusters) {
    apply_servers(cluster.config->name);
  }
  if (fleet_admin_ != nullptr) {
    fleet_admin_->start();
    instance_ = std::make_unique<discovery::InstanceRegistration>(
        config->etcd, instance_record(*config, version_));
  }
  std::string listening;
  for (const auto& [address, copies] : listening_) {
    listening += (listening.empty() ? "" : ",") + address;
  }
  observe::log_event(
      LogLevel::info, "ballast started",
      {{"listen", listening},
       {"workers", std::to_string(workers_.size())},
       {"max_connections", std::to_string(connection_limit)},
       {"socket_io", workers_.front()->loop().io().active() ? "io_uring" : "syscalls"}});
  // systemd first: once the predecessor hears we serve it exits, and systemd must know by then
  // that the service's main process is this one (MAINPID=), or it takes the service for dead.
  notifier_->ready("serving " + listening);
  if (inherited_ != nullptr) {
    const size_t unused = inherited_->untaken();
    inherited_->report_ready();
    inherited_.reset();  // closes the sockets of addresses no longer configured
    observe::log_event(LogLevel::info, "binary upgrade: serving; the old process drains",
                       {{"old_pid", std::to_string(getppid())},
                        {"servers_resumed", std::to_string(resumed)},
                        {"sockets_not_configured", std::to_string(unused)}});
  }

  for (;;) {
    const int signal_number = next_signal(signals);
    if (signal_number == SIGHUP) {
      notifier_->reloading();
      reload();
      notifier_->ready("serving");
      continue;
    }
    if (signal_number == SIGUSR1) {
      // logrotate moved the files: open them again by name.
      observe::configure_log(published_.load()->config->monitoring.logging);
      observe::log_event(LogLevel::info, "log output reopened (SIGUSR1)");
      continue;
    }
    if (signal_number == SIGUSR2) {
      if (hand_over()) {
        shut_down("SIGUSR2 (binary upgrade)", true);
        return 0;
      }
      continue;
    }
    shut_down(signal_number == SIGTERM ? "SIGTERM" : "SIGINT", false);
    return 0;
  }
}

int ProxyProcess::next_signal(const sigset_t& signals) {
  uint64_t next_expiry_check_ms = core::monotonic_now_ns() / core::kNsPerMs + kExpiryCheckMs;
  const uint64_t watchdog_ms = notifier_->watchdog_interval_ms();
  workers_alive_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_relaxed);
  for (;;) {
    const uint64_t now_ms = core::monotonic_now_ns() / core::kNsPerMs;
    uint64_t wait_ms = next_expiry_check_ms > now_ms ? next_expiry_check_ms - now_ms : 0;
    if (watchdog_ms != 0) {
      wait_ms = std::min(wait_ms, watchdog_ms);
    }
    const timespec wait{static_cast<time_t>(wait_ms / 1000),
                        static_cast<long>(wait_ms % 1000) * 1'000'000};
    const int signal_number = sigtimedwait(&signals, nullptr, &wait);
    if (signal_number >= 0) {
      return signal_number;
    }
    if (errno != EAGAIN) {
      continue;  // EINTR
    }
    if (watchdog_ms != 0) {
      feed_watchdog();
    }
    if (core::monotonic_now_ns() / core::kNsPerMs >= next_expiry_check_ms) {
      warn_expiring_certificates(*published_.load());
      next_expiry_check_ms += kExpiryCheckMs;
    }
  }
}

// A worker whose loop is stuck stops the keep-alives, and systemd restarts the service.
void ProxyProcess::feed_watchdog() {
  if (workers_alive_.exchange(0, std::memory_order_relaxed) == workers_.size()) {
    notifier_->alive();
  }
  for (const std::unique_ptr<Worker>& worker : workers_) {
    worker->loop().post([this] { workers_alive_.fetch_add(1, std::memory_order_relaxed); });
  }
}

bool ProxyProcess::hand_over() noexcept {
  try {
    Handover handover;
    for (const auto& [address, copies] : listening_) {
      for (const core::FileDescriptor& fd : copies) {
        handover.sockets.emplace_back(listener_key(address), fd.get());
      }
    }
    handover.sockets.emplace_back(admin_key(admin_->admin_listen()), admin_->admin_socket());
    if (admin_->metrics_socket() >= 0) {
      handover.sockets.emplace_back(metrics_key(admin_->metrics_listen()),
                                    admin_->metrics_socket());
    }
    handover.servers =
        upstream::describe_server_states(*published_.load(), core::monotonic_now_ns());
    Successor successor(launch_.command, handover);
    observe::log_event(LogLevel::info, "binary upgrade: started the new process",
                       {{"binary", launch_.command.binary},
                        {"new_pid", std::to_string(successor.pid())},
                        {"sockets", std::to_string(handover.sockets.size())}});
    const uint64_t deadline_ns = core::monotonic_now_ns() + kSuccessorStartMs * core::kNsPerMs;
    for (;;) {
      const std::optional<std::string> failure = successor.poll_ready(std::chrono::seconds(1));
      if (failure && failure->empty()) {
        observe::log_event(LogLevel::info, "binary upgrade: the new process serves; draining",
                           {{"new_pid", std::to_string(successor.pid())}});
        return true;
      }
      if (failure) {
        throw std::runtime_error(*failure);
      }
      if (notifier_->watchdog_interval_ms() != 0) {
        feed_watchdog();
      }
      if (core::monotonic_now_ns() > deadline_ns) {
        successor.stop();
        throw std::runtime_error("the new process did not serve within " +
                                 std::to_string(kSuccessorStartMs / 1000) + " s");
      }
    }
  } catch (const std::exception& error) {
    observe::log_event(LogLevel::error, "binary upgrade failed: this process keeps serving",
                       {{"error", error.what()}});
    notifier_->ready("serving (binary upgrade failed)");
    return false;
  }
}

void ProxyProcess::shut_down(std::string_view why, bool handed_over) {
  if (!handed_over) {
    notifier_->stopping();  // after a hand-over the service goes on, in the new process
  }
  observe::log_event(LogLevel::info, "shutting down: draining connections",
                     {{"signal", std::string(why)}});
  {
    const std::lock_guard<std::mutex> control(control_mutex_);
    serving_ = false;  // discovery's and the fleet's threads change nothing from now on
  }
  instance_.reset();  // out of the fleet's list first
  if (handed_over) {
    admin_->stop();  // the new process answers on the admin API's sockets from now on
  }
  for (const std::unique_ptr<Worker>& worker : workers_) {
    worker->drain(handed_over ? kHandoverIdleGraceMs : 0);
  }
  listening_.clear();  // the workers close theirs as they start draining
  for (const std::unique_ptr<Worker>& worker : workers_) {
    worker->join();
  }
  admin_->stop();
  if (spans_ != nullptr) {
    spans_->stop();  // exports what the workers traced last
  }
  observe::log_event(LogLevel::info, "ballast stopped");
  observe::attach_log_writer(nullptr);  // the writer writes what the workers logged last
}

std::vector<discovery::SourceReport> ProxyProcess::discovery_reports() const {
  std::vector<discovery::SourceReport> reports = discovery_->reports();
  if (fleet_admin_ != nullptr) {
    reports.push_back(fleet_admin_->report());
  }
  return reports;
}

std::shared_ptr<const config::Config> ProxyProcess::load_config() {
  applied_ = source_();
  discovery_->configure(*applied_);
  return discovery_->expand(applied_);
}

namespace {

std::string joined_names(const std::set<std::string>& names) {
  std::string text;
  for (const std::string& name : names) {
    text += (text.empty() ? "" : ",") + name;
  }
  return text;
}

std::set<std::string> names_of(const std::vector<config::ServerConfig>& servers) {
  std::set<std::string> names;
  for (const config::ServerConfig& server : servers) {
    names.insert(server.name());
  }
  return names;
}

}  // namespace

// Builds the cluster's new shared state and every worker's view of it before publishing any,
// as a reload does, but only for this cluster: the listeners, the other clusters and every
// connection stay as they are.
void ProxyProcess::apply_servers(const std::string& cluster) noexcept {
  try {
    const std::lock_guard<std::mutex> control(control_mutex_);
    if (!serving_) {
      return;
    }
    const size_t index = generation_->cluster_index(cluster);
    std::optional<std::vector<config::ServerConfig>> servers = discovery_->servers_of(cluster);
    if (index == generation_->clusters.size() || !servers ||
        *servers == generation_->clusters[index].config->servers) {
      return;
    }
    const std::set<std::string> before = names_of(generation_->clusters[index].config->servers);
    const std::set<std::string> after = names_of(*servers);
    std::set<std::string> added;
    std::set<std::string> removed;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::inserter(added, added.end()));
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::inserter(removed, removed.end()));
    std::shared_ptr<const upstream::Generation> next = upstream::with_servers(
        *generation_, index, std::move(*servers), static_cast<uint32_t>(workers_.size()));
    put_fleet_actions(*next);
    std::vector<std::shared_ptr<proxy::WorkerCluster>> prepared;
    for (const std::unique_ptr<Worker>& worker : workers_) {
      prepared.push_back(worker->prepare_cluster(next, index));
    }
    publish(next);
    for (size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->take_servers(next, index, std::move(prepared[i]));
    }
    observe::log_event(LogLevel::info, "servers changed",
                       {{"cluster", cluster},
                        {"servers", std::to_string(after.size())},
                        {"added", joined_names(added)},
                        {"removed", joined_names(removed)}});
  } catch (const std::exception& error) {
    observe::log_event(LogLevel::error, "discovered servers not applied",
                       {{"cluster", cluster}, {"error", error.what()}});
  }
}

void ProxyProcess::put_fleet_actions(const upstream::Generation& generation) const noexcept {
  for (const auto& [server, action] : fleet_actions_) {
    upstream::set_admin_state(generation, server.first, server.second,
                              action == discovery::FleetAction::drain
                                  ? upstream::AdminState::draining
                                  : upstream::AdminState::disabled);
  }
}

// A server whose fleet action was lifted is enabled again; one named in an action but not
// served here (yet) takes it on when discovery brings it (apply_servers).
void ProxyProcess::apply_fleet_actions(const discovery::FleetActions& actions) noexcept {
  const std::lock_guard<std::mutex> control(control_mutex_);
  if (!serving_) {
    return;
  }
  for (const auto& [server, action] : fleet_actions_) {
    if (!actions.contains(server) && generation_ != nullptr) {
      upstream::set_admin_state(*generation_, server.first, server.second,
                                upstream::AdminState::enabled);
      observe::log_event(
          LogLevel::info, "fleet admin action",
          {{"action", "enable"}, {"cluster", server.first}, {"server", server.second}});
    }
  }
  for (const auto& [server, action] : actions) {
    const auto before = fleet_actions_.find(server);
    if (before == fleet_actions_.end() || before->second != action) {
      observe::log_event(LogLevel::info, "fleet admin action",
                         {{"action", action == discovery::FleetAction::drain ? "drain" : "disable"},
                          {"cluster", server.first},
                          {"server", server.second}});
    }
  }
  fleet_actions_ = actions;
  if (generation_ != nullptr) {
    put_fleet_actions(*generation_);
  }
}

// A reload that failed after discovery took its settings: back to the running configuration's.
void ProxyProcess::restore_discovery() noexcept {
  try {
    discovery_->configure(*applied_);
  } catch (const std::exception& error) {
    observe::log_event(LogLevel::error, "discovery not restored", {{"error", error.what()}});
  }
}

// Everything the new generation needs — the shared state, each worker's balancers and pools,
// the new listening sockets — is built here, before anything is published: whatever fails (a
// name that does not resolve, a port taken, memory) leaves the running configuration alone,
// with one log line. Admin writes wait while it is built, so none is made to a generation that
// is being replaced (control_mutex_).
void ProxyProcess::reload() noexcept {
  try {
    std::shared_ptr<const config::Config> loaded = source_();
    admin_->check_reload(*loaded);
    const std::vector<std::string> start_up_only = changed_startup_settings(*started_, *loaded);
    discovery_->configure(*loaded);
    const std::lock_guard<std::mutex> control(control_mutex_);
    // Under the lock, so no discovery change lands between this read and the publication.
    std::shared_ptr<const config::Config> config = discovery_->expand(loaded);
    std::shared_ptr<const upstream::Generation> next = upstream::build_generation(
        config, generation_.get(), static_cast<uint32_t>(workers_.size()));
    put_fleet_actions(*next);
    std::vector<std::unique_ptr<WorkerGeneration>> prepared;
    for (const std::unique_ptr<Worker>& worker : workers_) {
      prepared.push_back(worker->prepare(next));
    }
    ListenCopies opened;
    std::vector<ListenSockets> sockets = open_new_listeners(*config, opened);
    observe::configure_log(config->monitoring.logging);
    log_warnings(*config);
    publish(next);
    keep_listening(*config, std::move(opened));
    for (size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->adopt(std::move(prepared[i]), std::move(sockets[i]));
    }
    applied_ = loaded;
    observe::log_event(LogLevel::info, "configuration reloaded",
                       {{"generation", std::to_string(generation_->number)}});
    for (const std::string& setting : start_up_only) {
      observe::log_event(LogLevel::warn,
                         "reload: this setting is read at start-up; a binary upgrade (SIGUSR2) "
                         "applies it",
                         {{"setting", setting}});
    }
    warn_expiring_certificates(*generation_);
  } catch (const std::exception& error) {
    observe::log_event(LogLevel::error, "reload failed: keeping the running configuration",
                       {{"error", error.what()}});
    restore_discovery();
  }
}

}  // namespace ballast::process
