#pragma once
// A worker: one thread, one event loop, its own SO_REUSEPORT listening sockets, and every
// connection those accept. Workers share nothing mutable but the servers' atomic counters, so
// the request path takes no lock.
//
// The control side (main thread) talks to a worker only through adopt() and drain(), which post
// to its loop. Generations: a worker serves new connections with the newest generation it has
// adopted; connections accepted earlier keep theirs until they close, or until drain_timeout
// after the newer generation arrived, when they are closed, so old generations never pile up.
//
// Threading: constructor, start(), adopt(), drain() and join() on the main thread; everything
// else on the worker's thread.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/event_loop.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "proxy/session.h"
#include "upstream/generation.h"

namespace ballast::proxy {

class Worker;

// One listening socket of one worker.
class Listener final : public core::IoHandler, public core::Resumable {
 public:
  Listener(Worker& worker, core::FileDescriptor fd, std::atomic<uint32_t>& open)
      : open(open), worker_(worker), fd_(std::move(fd)) {}
  ~Listener();
  int fd() const noexcept { return fd_.get(); }
  void on_io(uint32_t events) noexcept override;
  // Takes the next batch of a backlog that one batch did not empty.
  void resume() noexcept override;

  const config::ListenerConfig* config = nullptr;  // in the worker's current generation
  std::atomic<uint32_t>& open;  // the listen address's open connections (ConnectionGate's)
  bool paused = false;          // not watched: at a limit, or out of descriptors

 private:
  Worker& worker_;
  core::FileDescriptor fd_;
};

// Listening sockets by listen address ("host:port"), one set per worker. A worker may also have
// more than one socket for an address, keyed "host:port#N": the surplus of a binary upgrade
// from a process with more workers, whose accept queues must still be served.
using ListenSockets = std::map<std::string, core::FileDescriptor>;

class Worker final : public SessionHost, public core::Timer::Handler, public core::WaitHook {
 public:
  // `spans`: the process's span exporter, or null when tracing is off; `log_queue`: this
  // worker's queue to the process's log writer. Both outlive the worker.
  // `gate`: the process's client connection limits, shared by every worker; outlives them.
  // `protocols`: the process's counts by client protocol (this worker writes its own shard).
  Worker(WorkerSlot slot, const config::Config& config, observe::SpanExporter* spans,
         observe::WorkerLogQueue& log_queue, ConnectionGate& gate,
         observe::ProtocolStats& protocols);
  ~Worker();

  // This worker's view of `generation`: its balancers, pools and limits, built here, on the
  // control side, so that whatever it costs (or throws) never happens on the worker's loop.
  std::unique_ptr<WorkerGeneration> prepare(std::shared_ptr<const upstream::Generation> generation);
  // Starts the thread, serving `generation` (from prepare()) on `sockets` (one per listener).
  void start(std::unique_ptr<WorkerGeneration> generation, ListenSockets sockets);
  // Serves new connections with `generation` (from prepare()). `new_sockets` holds sockets for
  // listen addresses the worker does not have yet; addresses the generation no longer has are
  // closed.
  void adopt(std::unique_ptr<WorkerGeneration> generation, ListenSockets new_sockets);
  // The cluster at `index` of `generation` (the newest adopted generation but for that
  // cluster's servers, which discovery changed: upstream::with_servers) as this worker will
  // serve it; built on the control side, as prepare().
  std::shared_ptr<WorkerCluster> prepare_cluster(
      const std::shared_ptr<const upstream::Generation>& generation, size_t index);
  // Serves new requests to that cluster with `prepared`: requests in flight finish on the
  // cluster they started on; servers that stay keep their pools and health checks.
  void take_servers(std::shared_ptr<const upstream::Generation> generation, size_t index,
                    std::shared_ptr<WorkerCluster> prepared);
  // Stops accepting, lets exchanges in flight finish (up to drain_timeout), then ends the loop.
  // `idle_grace_ms`: how long an idle keep-alive connection is kept for a request its client may
  // be sending as we close — a request that would then meet a reset. 0 for a stop (nginx closes
  // them at once: the service is going away); a binary upgrade gives them a second, so that the
  // clients of a service that goes on lose no request.
  void drain(uint64_t idle_grace_ms = 0);
  void join();

  // SessionHost
  core::EventLoop& loop() noexcept override { return loop_; }
  bool draining() const noexcept override { return draining_; }
  uint64_t drain_idle_grace_ms() const noexcept override { return drain_idle_grace_ms_; }
  WorkerTelemetry& telemetry() noexcept override { return telemetry_; }
  void session_closed(Session& session) noexcept override;
  void adopt(Session& session) noexcept override { link_session(session); }
  void start_proxied(Session& stage, const config::ListenerConfig& listener,
                     core::FileDescriptor client,
                     const core::SocketAddress& peer) noexcept override;

  void accept_from(Listener& listener) noexcept;
  void on_timer(core::Timer& timer) noexcept override;
  // Before the loop may sleep: hands over the event lines this thread logged, so they reach the
  // writer now rather than with the next access-log flush.
  void before_wait() noexcept override;

 private:
  void sync_rate_limits() noexcept;
  static constexpr uint64_t kReapIntervalMs = 250;
  // How often the reporter of a cluster looks for region, panic and ejection changes to log:
  // twice a second, so an idle worker that reports sleeps between (a change is logged up to
  // half a second late).
  static constexpr uint64_t kReportIntervalMs = 500;
  // A listener paused at a limit is looked at again this often, since connections closing on
  // other workers free room too; one out of descriptors waits from 100 ms doubling to 1 s.
  static constexpr uint64_t kLimitRecheckMs = 100;
  // Connections taken from a listener's backlog per loop iteration (HAProxy's tune.maxaccept):
  // a flood of connections waits its turn behind the events of those already served.
  static constexpr size_t kAcceptBatch = 16;
  static constexpr uint64_t kFirstBackoffMs = 100;
  static constexpr uint64_t kMaxBackoffMs = 1'000;
  static constexpr uint64_t kAcceptLogIntervalNs = 1'000'000'000;

  void install(std::unique_ptr<WorkerGeneration> prepared, ListenSockets new_sockets);
  void install_cluster(std::shared_ptr<const upstream::Generation> generation, size_t index,
                       std::shared_ptr<WorkerCluster> prepared);
  void start_draining(uint64_t idle_grace_ms) noexcept;
  void reap_generations() noexcept;
  void report() noexcept;
  void link_session(Session& session) noexcept;
  void start_session(WorkerGeneration& generation, const config::ListenerConfig& listener,
                     core::FileDescriptor client, const core::SocketAddress& peer,
                     ConnectionGate::Ticket ticket) noexcept;
  void pause(Listener& listener) noexcept;
  void back_off(int error) noexcept;
  void resume_paused() noexcept;
  std::string listen_key(const config::ListenerConfig& listener) const;

  WorkerSlot slot_;
  uint64_t drain_timeout_ms_;
  uint64_t drain_idle_grace_ms_ = 0;  // from drain(), once draining
  core::EventLoop loop_;
  WorkerTelemetry telemetry_;
  observe::AccessLog access_log_;
  // This worker's queue to the log writer: the access log's lines and, lock-free, the event
  // lines this thread logs (observe::route_thread_events).
  observe::WorkerLogQueue& log_queue_;
  std::thread thread_;
  std::map<std::string, std::unique_ptr<Listener>> listeners_;  // by listen address
  std::vector<std::unique_ptr<WorkerGeneration>> generations_;  // newest last
  Session* sessions_ = nullptr;                                 // intrusive list of open sessions
  uint32_t open_sessions_ = 0;
  bool draining_ = false;
  uint64_t drain_deadline_ns_ = 0;
  core::Timer reap_timer_{*this};
  core::Timer report_timer_{*this};
  core::Timer rate_timer_{*this};  // armed while the generation has global rate limits
  ConnectionGate& gate_;
  core::Timer resume_timer_{*this};  // armed while a listener is paused
  uint64_t backoff_ms_ = 0;          // out of descriptors: the current wait; 0 = not backing off
  uint64_t backoff_until_ns_ = 0;
  uint64_t next_accept_log_ns_ = 0;
  uint64_t accept_errors_unlogged_ = 0;
};

}  // namespace ballast::proxy
