#include "proxy/worker.h"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "observe/log.h"
#include "proxy/http_session.h"
#include "proxy/proxy_header_session.h"
#include "proxy/tcp_session.h"

namespace ballast::proxy {

namespace {

// A cluster's region, panic and ejection-return events are logged by one worker only.
bool reports(const config::ClusterConfig& cluster, WorkerSlot slot) {
  const bool eventful =
      cluster.outlier_detection.enabled || cluster.regions || cluster.panic_threshold != 0;
  return eventful && health_check_owner(cluster.name, "", slot.count) == slot.index;
}

}  // namespace

WorkerGeneration::WorkerGeneration(core::EventLoop& loop,
                                   std::shared_ptr<const upstream::Generation> generation,
                                   WorkerSlot slot, uint64_t seed)
    : shared(std::move(generation)) {
  for (size_t i = 0; i < shared->clusters.size(); ++i) {
    std::shared_ptr<const upstream::ClusterState> cluster(shared, &shared->clusters[i]);
    const bool reporter = reports(*cluster->config, slot);
    clusters.push_back(
        std::make_shared<WorkerCluster>(loop, std::move(cluster), slot.index, seed + i, reporter));
    if (reporter) {
      reported.push_back(clusters.back().get());
    }
  }
  if (shared->rate_policy->sync() != nullptr) {
    rate_batch = std::make_unique<edge::RateBatch>();
  }
}

void WorkerGeneration::start_checks(core::EventLoop& loop, WorkerSlot slot, uint64_t seed) {
  std::vector<const upstream::ClusterState*> states;
  for (const std::shared_ptr<WorkerCluster>& cluster : clusters) {
    states.push_back(&cluster->state());
  }
  checks = std::make_unique<HealthChecks>(loop, states, slot.index, slot.count, seed);
}

Listener::~Listener() {
  worker_.loop().cancel_resume(*this);
}

void Listener::on_io(uint32_t /*events*/) noexcept {
  worker_.accept_from(*this);
}

void Listener::resume() noexcept {
  worker_.accept_from(*this);
}

namespace {

// Trace ids and log sampling must differ across workers and runs: seeded from the clocks and
// the worker's index.
uint64_t worker_seed(uint32_t index) {
  return core::monotonic_now_ns() ^ (uint64_t{index} << 48) ^
         static_cast<uint64_t>(observe::unix_minus_monotonic_ns());
}

}  // namespace

Worker::Worker(WorkerSlot slot, const config::Config& config, observe::SpanExporter* spans,
               observe::WorkerLogQueue& log_queue, ConnectionGate& gate,
               observe::ProtocolStats& protocols)
    : slot_(slot),
      drain_timeout_ms_(config.drain_timeout_ms),
      loop_(config.io_uring),
      telemetry_(slot.index, worker_seed(slot.index)),
      access_log_(log_queue, config.monitoring.logging, worker_seed(slot.index) + 1, &loop_),
      log_queue_(log_queue),
      gate_(gate) {
  telemetry_.spans = spans;
  telemetry_.sample_rate = config.tracing.sample_rate;
  telemetry_.unix_offset_ns = observe::unix_minus_monotonic_ns();
  telemetry_.access_log = &access_log_;
  telemetry_.protocols = &protocols.shard(slot.index);
}

Worker::~Worker() {
  join();
}

namespace {

// A worker's sockets for one listen address: "host:port", and, after a binary upgrade from a
// process with more workers, the extra ones it took over as "host:port#N" (ListenSockets).
bool is_socket_of(const std::string& socket_key, const std::string& listen_key) noexcept {
  return socket_key.starts_with(listen_key) &&
         (socket_key.size() == listen_key.size() || socket_key[listen_key.size()] == '#');
}

}  // namespace

std::string Worker::listen_key(const config::ListenerConfig& listener) const {
  return listener.listen.host + ":" + std::to_string(listener.listen.port);
}

std::unique_ptr<WorkerGeneration> Worker::prepare(
    std::shared_ptr<const upstream::Generation> generation) {
  const uint64_t seed = (uint64_t{slot_.index} << 32) ^ generation->number;
  // loop_ is only stored here (by the pools); nothing is armed or watched until install().
  return std::make_unique<WorkerGeneration>(loop_, std::move(generation), slot_, seed);
}

void Worker::start(std::unique_ptr<WorkerGeneration> generation, ListenSockets sockets) {
  install(std::move(generation), std::move(sockets));
  loop_.set_wait_hook(this);
  thread_ = std::thread([this] {
    observe::route_thread_events(&log_queue_);  // lock-free event lines: see observe/log.h
    loop_.run();
    log_queue_.flush();
    observe::route_thread_events(nullptr);
  });
  // Named, so that top -H, perf and /proc show which thread is which worker.
  const std::string name = "worker-" + std::to_string(slot_.index);
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

void Worker::before_wait() noexcept {
  if (log_queue_.event_waiting()) {
    log_queue_.flush();  // with the access lines before them, in their order
  }
}

void Worker::adopt(std::unique_ptr<WorkerGeneration> generation, ListenSockets new_sockets) {
  // std::function needs a copyable callable: what is moved in travels in shared_ptrs.
  auto sockets = std::make_shared<ListenSockets>(std::move(new_sockets));
  auto prepared = std::make_shared<std::unique_ptr<WorkerGeneration>>(std::move(generation));
  loop_.post([this, prepared, sockets] { install(std::move(*prepared), std::move(*sockets)); });
}

std::shared_ptr<WorkerCluster> Worker::prepare_cluster(
    const std::shared_ptr<const upstream::Generation>& generation, size_t index) {
  std::shared_ptr<const upstream::ClusterState> cluster(generation, &generation->clusters[index]);
  const uint64_t seed = (uint64_t{slot_.index} << 32) ^ generation->number ^ (index << 16);
  return std::make_shared<WorkerCluster>(loop_, std::move(cluster), slot_.index, seed,
                                         reports(*generation->clusters[index].config, slot_));
}

void Worker::take_servers(std::shared_ptr<const upstream::Generation> generation, size_t index,
                          std::shared_ptr<WorkerCluster> prepared) {
  loop_.post(
      [this, generation = std::move(generation), index, prepared = std::move(prepared)]() mutable {
        install_cluster(std::move(generation), index, std::move(prepared));
      });
}

void Worker::install_cluster(std::shared_ptr<const upstream::Generation> generation, size_t index,
                             std::shared_ptr<WorkerCluster> prepared) {
  if (draining_ || generations_.empty()) {
    return;
  }
  WorkerGeneration& current = *generations_.back();
  if (current.shared->config != generation->config) {
    return;  // a reload came first (never, posted in order): it has the servers itself
  }
  // Kept until the checks have moved over: they read the servers through its state.
  const std::shared_ptr<WorkerCluster> replaced = std::move(current.clusters[index]);
  replaced->hand_over_to(*prepared);
  std::replace(current.reported.begin(), current.reported.end(), replaced.get(), prepared.get());
  if (current.checks != nullptr) {
    current.checks->take_cluster(index, prepared->state());
  }
  current.clusters[index] = std::move(prepared);
  current.shared = std::move(generation);
}

void Worker::drain(uint64_t idle_grace_ms) {
  loop_.post([this, idle_grace_ms] { start_draining(idle_grace_ms); });
}

void Worker::join() {
  if (thread_.joinable()) {
    thread_.join();
  }
}

void Worker::install(std::unique_ptr<WorkerGeneration> prepared, ListenSockets new_sockets) {
  if (draining_) {
    return;
  }
  if (!generations_.empty()) {
    generations_.back()->retired_at_ns = loop_.now_ns();
    generations_.back()->checks.reset();  // the new generation checks its servers
    reap_timer_.arm(loop_.timers(), loop_.now_ns() + kReapIntervalMs * core::kNsPerMs);
  }
  const std::shared_ptr<const upstream::Generation> generation = prepared->shared;
  prepared->start_checks(loop_, slot_, (uint64_t{slot_.index} << 32) ^ generation->number);
  generations_.push_back(std::move(prepared));
  access_log_.configure(generation->config->monitoring.logging);
  if (!generations_.back()->reported.empty()) {
    // At once: the reporter's first look sets the state later changes are logged against,
    // and must come before the first change, not half a second into the generation.
    report_timer_.arm(loop_.timers(), loop_.now_ns());
  } else {
    report_timer_.cancel();
  }
  sync_rate_limits();

  std::map<std::string, std::unique_ptr<Listener>> kept;
  for (const config::ListenerConfig& config : generation->config->listeners) {
    const std::string key = listen_key(config);
    for (auto existing = listeners_.lower_bound(key);
         existing != listeners_.end() && is_socket_of(existing->first, key);) {
      existing->second->config = &config;
      kept[existing->first] = std::move(existing->second);
      existing = listeners_.erase(existing);
    }
    for (auto fresh = new_sockets.lower_bound(key);
         fresh != new_sockets.end() && is_socket_of(fresh->first, key); ++fresh) {
      auto listener =
          std::make_unique<Listener>(*this, std::move(fresh->second), gate_.listener_count(key));
      loop_.watch(listener->fd(), *listener);
      listener->config = &config;
      kept[fresh->first] = std::move(listener);
    }
  }
  for (auto& [key, listener] : listeners_) {
    if (listener != nullptr && !listener->paused) {
      loop_.unwatch(listener->fd());  // its address left the configuration
    }
  }
  listeners_ = std::move(kept);
  // A new socket may have had connections queued before it was watched: take them now.
  for (auto& [key, listener] : listeners_) {
    accept_from(*listener);
  }
}

void Worker::accept_from(Listener& listener) noexcept {
  if (listener.paused || draining_) {
    return;
  }
  for (size_t accepted = 0;; ++accepted) {
    if (accepted == kAcceptBatch) {
      loop_.resume_soon(listener);  // the rest on the next iteration, after others' events
      return;
    }
    if (!gate_.has_room(listener.open, listener.config->max_connections)) {
      pause(listener);  // the kernel's backlog holds the next ones until room returns
      return;
    }
    core::SocketAddress peer;
    core::FileDescriptor client = core::accept_from(listener.fd(), peer);
    if (!client.valid()) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        back_off(errno);
      }
      return;
    }
    backoff_ms_ = 0;
    // From a proxy in front that sends the PROXY protocol, the per-client limit is the client's
    // the header names, counted once it is read (start_proxied).
    const bool proxied = listener.config->proxy_protocol.trusts(peer);
    ConnectionGate::Ticket ticket;
    if (!gate_.admit(listener.open, proxied ? nullptr : &peer, ticket)) {
      continue;  // over the per-client limit: closed as it goes out of scope
    }
    if (proxied) {
      auto* stage = new ProxyHeaderSession(*this, *generations_.back(), *listener.config,
                                           std::move(client), peer);
      link_session(*stage);
      stage->ticket = ticket;
      if (!stage->start()) {
        stage->close_now();
      }
      continue;
    }
    start_session(*generations_.back(), *listener.config, std::move(client), peer, ticket);
  }
}

void Worker::start_proxied(Session& stage, const config::ListenerConfig& listener,
                           core::FileDescriptor client, const core::SocketAddress& peer) noexcept {
  ConnectionGate::Ticket ticket = std::exchange(stage.ticket, {});
  if (!gate_.admit_client(peer, ticket)) {
    gate_.release(ticket);  // over the per-client limit: closed as it goes out of scope
    return;
  }
  start_session(stage.generation(), listener, std::move(client), peer, ticket);
}

// Links a session for an accepted connection, holding `ticket`, and starts it.
void Worker::start_session(WorkerGeneration& generation, const config::ListenerConfig& config,
                           core::FileDescriptor client, const core::SocketAddress& peer,
                           ConnectionGate::Ticket ticket) noexcept {
  // The listener's place in its generation's list is its TLS context's.
  const size_t index = static_cast<size_t>(&config - generation.shared->config->listeners.data());
  const tls::ServerContext* tls = generation.shared->listener_tls[index].get();
  if (config.mode == config::ListenerMode::tcp) {
    // One route without sni: every connection to its cluster; else the ClientHello decides.
    const config::RouteConfig& first = config.routes.front();
    std::shared_ptr<WorkerCluster> cluster =
        config.routes.size() == 1 && first.sni.empty()
            ? generation.clusters[generation.shared->cluster_index(first.cluster)]
            : nullptr;
    auto* tcp =
        new TcpSession(*this, generation, config, std::move(cluster), tls, std::move(client), peer);
    link_session(*tcp);
    tcp->ticket = ticket;
    if (!tcp->start()) {
      tcp->close_now();
    }
  } else {
    auto* http = new HttpSession(*this, generation, config, tls, std::move(client), peer);
    link_session(*http);
    http->ticket = ticket;
    if (!http->start()) {
      http->close_now();
    }
  }
}

void Worker::pause(Listener& listener) noexcept {
  if (!listener.paused) {
    listener.paused = true;
    loop_.unwatch(listener.fd());
    gate_.count_pause(false);
  }
  if (!resume_timer_.armed()) {
    resume_timer_.arm(loop_.timers(), loop_.now_ns() + kLimitRecheckMs * core::kNsPerMs);
  }
}

// Out of descriptors (EMFILE, ENFILE) or kernel memory: accepting again at once would fail again
// and spin, so every listener of this worker waits, 100 ms doubling to 1 s, and the log gets one
// line a second with how many failures it stands for.
void Worker::back_off(int error) noexcept {
  const uint64_t now_ns = loop_.now_ns();
  ++accept_errors_unlogged_;
  if (now_ns >= next_accept_log_ns_) {
    observe::log_event(
        config::LogLevel::error, "accept failed: pausing accepts",
        {{"error", std::strerror(error)},
         {"failures", std::to_string(accept_errors_unlogged_)},
         {"retry_ms", std::to_string(backoff_ms_ == 0 ? kFirstBackoffMs : backoff_ms_)}});
    accept_errors_unlogged_ = 0;
    next_accept_log_ns_ = now_ns + kAcceptLogIntervalNs;
  }
  backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
  backoff_until_ns_ = now_ns + backoff_ms_ * core::kNsPerMs;
  gate_.count_pause(true);
  for (auto& [key, listener] : listeners_) {
    if (!listener->paused) {
      listener->paused = true;
      loop_.unwatch(listener->fd());
    }
  }
  resume_timer_.arm(loop_.timers(), backoff_until_ns_);
}

// Watches paused listeners again where there is room, and takes what waited in their backlog.
void Worker::resume_paused() noexcept {
  if (draining_ || loop_.now_ns() < backoff_until_ns_) {
    return;
  }
  bool still_paused = false;
  for (auto& [key, listener] : listeners_) {
    if (!listener->paused) {
      continue;
    }
    if (!gate_.has_room(listener->open, listener->config->max_connections)) {
      still_paused = true;
      continue;
    }
    listener->paused = false;
    loop_.watch(listener->fd(), *listener);
    accept_from(*listener);
    still_paused |= listener->paused;
  }
  if (still_paused && !resume_timer_.armed()) {
    resume_timer_.arm(loop_.timers(), loop_.now_ns() + kLimitRecheckMs * core::kNsPerMs);
  }
}

void Worker::link_session(Session& session) noexcept {
  session.next_session = sessions_;
  if (sessions_ != nullptr) {
    sessions_->prev_session = &session;
  }
  sessions_ = &session;
  ++open_sessions_;
}

void Worker::session_closed(Session& session) noexcept {
  if (session.prev_session != nullptr) {
    session.prev_session->next_session = session.next_session;
  } else {
    sessions_ = session.next_session;
  }
  if (session.next_session != nullptr) {
    session.next_session->prev_session = session.prev_session;
  }
  --open_sessions_;
  --session.generation().open_sessions;
  gate_.release(session.ticket);
  loop_.release_later(session);
  if (draining_ && open_sessions_ == 0) {
    access_log_.flush();
    loop_.stop();
  }
}

void Worker::start_draining(uint64_t idle_grace_ms) noexcept {
  draining_ = true;
  drain_idle_grace_ms_ = idle_grace_ms;
  report_timer_.cancel();
  rate_timer_.cancel();
  resume_timer_.cancel();
  generations_.back()->checks.reset();
  for (auto& [key, listener] : listeners_) {
    loop_.unwatch(listener->fd());
  }
  listeners_.clear();  // closes the sockets: the kernel sends new connections elsewhere
  drain_deadline_ns_ = loop_.now_ns() + drain_timeout_ms_ * core::kNsPerMs;
  // begin_drain may close the session at once, which unlinks it: walk a saved next pointer.
  for (Session* session = sessions_; session != nullptr;) {
    Session* next = session->next_session;
    session->begin_drain();
    session = next;
  }
  if (open_sessions_ == 0) {
    access_log_.flush();
    loop_.stop();
    return;
  }
  reap_timer_.arm(loop_.timers(), loop_.now_ns() + kReapIntervalMs * core::kNsPerMs);
}

// Hands this worker's counts under global rate limits to the fleet's exchange, every sync
// interval while the current generation has such limits.
void Worker::sync_rate_limits() noexcept {
  WorkerGeneration& current = *generations_.back();
  edge::RateSync* sync = current.shared->rate_policy->sync();
  if (sync == nullptr || draining_) {
    rate_timer_.cancel();
    return;
  }
  if (current.rate_batch->size() != 0) {
    try {
      std::vector<edge::RateCount> counts;
      current.rate_batch->drain(counts);
      sync->submit(std::move(counts));
    } catch (const std::bad_alloc&) {
      // The counts stay local this interval: the fleet learns them from the next.
    }
  }
  rate_timer_.arm(loop_.timers(), loop_.now_ns() + current.shared->rate_policy->sync_interval_ns());
}

void Worker::report() noexcept {
  for (WorkerCluster* cluster : generations_.back()->reported) {
    cluster->report(loop_.now_ns());
  }
  report_timer_.arm(loop_.timers(), loop_.now_ns() + kReportIntervalMs * core::kNsPerMs);
}

void Worker::on_timer(core::Timer& timer) noexcept {
  if (&timer == &resume_timer_) {
    resume_paused();
    return;
  }
  if (&timer == &report_timer_) {
    report();
    return;
  }
  if (&timer == &rate_timer_) {
    sync_rate_limits();
    return;
  }
  if (draining_ && loop_.now_ns() >= drain_deadline_ns_) {
    observe::log_event(config::LogLevel::warn, "drain timeout: closing open connections",
                       {{"connections", std::to_string(open_sessions_)}});
    while (sessions_ != nullptr) {
      sessions_->close_now();
    }
    return;  // session_closed stops the loop
  }
  reap_generations();
  if (draining_ || generations_.size() > 1) {
    reap_timer_.arm(loop_.timers(), loop_.now_ns() + kReapIntervalMs * core::kNsPerMs);
  }
}

void Worker::reap_generations() noexcept {
  const uint64_t now_ns = loop_.now_ns();
  const uint64_t limit_ns = drain_timeout_ms_ * core::kNsPerMs;
  for (Session* session = sessions_; session != nullptr;) {
    Session* next = session->next_session;
    const uint64_t retired_at = session->generation().retired_at_ns;
    if (retired_at != 0 && now_ns - retired_at >= limit_ns) {
      session->close_now();
    }
    session = next;
  }
  // Keep the newest; drop retired generations nobody uses any more.
  const WorkerGeneration* newest = generations_.back().get();
  std::erase_if(generations_, [newest](const std::unique_ptr<WorkerGeneration>& generation) {
    return generation.get() != newest && generation->open_sessions == 0;
  });
}

}  // namespace ballast::proxy
