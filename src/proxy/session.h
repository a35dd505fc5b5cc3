#pragma once
// What a worker needs from every client connection it serves (HTTP or TCP), and what a
// connection needs from its worker.
//
// Threading: sessions, their generation and their worker all belong to one worker thread.

#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "edge/rate_batch.h"
#include "proxy/connection_gate.h"
#include "proxy/health_checks.h"
#include "proxy/worker_cluster.h"
#include "proxy/worker_telemetry.h"
#include "upstream/generation.h"

namespace ballast::proxy {

// Which worker this is, of how many: it decides which health checks and reports are this
// worker's (health_checks.h).
struct WorkerSlot {
  uint32_t index = 0;
  uint32_t count = 1;
};

// A worker's view of one configuration generation: the shared generation plus this worker's
// balancers and pools for each of its clusters, and, while it is the newest, the health checks
// this worker runs. Kept alive while any session accepted under it is open, so a reload never
// changes the rules under a request in flight.
struct WorkerGeneration {
  // Builds the clusters' per-worker state (on the control side: `loop` is only stored).
  WorkerGeneration(core::EventLoop& loop, std::shared_ptr<const upstream::Generation> shared,
                   WorkerSlot slot, uint64_t seed);
  // Creates this worker's health checks, which arm timers: on the worker's thread.
  void start_checks(core::EventLoop& loop, WorkerSlot slot, uint64_t seed);

  // Replaced, with one of `clusters`, when discovery changes that cluster's servers
  // (Worker::take_servers): the same configuration, so the sessions' listeners stay valid.
  std::shared_ptr<const upstream::Generation> shared;
  // As shared->clusters. Shared with the exchanges routed to each (worker_cluster.h).
  std::vector<std::shared_ptr<WorkerCluster>> clusters;
  std::vector<WorkerCluster*> reported;  // clusters whose report() this worker makes
  std::unique_ptr<HealthChecks> checks;  // null once a newer generation replaced this one
  // This worker's counts under the fleet's global rate limits, handed to the generation's
  // RateSync every sync interval (Worker::sync_rate_limits); null without global limits.
  std::unique_ptr<edge::RateBatch> rate_batch;
  uint32_t open_sessions = 0;
  uint64_t retired_at_ns = 0;  // 0 while current; else when a newer generation replaced it
};

class Session;

// The worker side of a session.
class SessionHost {
 public:
  virtual core::EventLoop& loop() noexcept = 0;
  virtual bool draining() const noexcept = 0;
  // While draining: how long an idle keep-alive connection stays open for a request already on
  // its way (0: closed at once). See Worker::drain.
  virtual uint64_t drain_idle_grace_ms() const noexcept = 0;
  virtual WorkerTelemetry& telemetry() noexcept = 0;
  virtual void session_closed(Session& session) noexcept = 0;
  // A session made by another for the same connection (an HTTP/1 connection that turned out to
  // speak HTTP/2): linked as an accepted one is; the maker hands it its ticket.
  virtual void adopt(Session& session) noexcept = 0;
  // `stage` (a ProxyHeaderSession) has read the PROXY protocol header of a connection on
  // `listener`: starts its session, in the stage's generation, as if `client` had been accepted
  // from `peer` (the address the header gave), with the stage's ticket.
  virtual void start_proxied(Session& stage, const config::ListenerConfig& listener,
                             core::FileDescriptor client,
                             const core::SocketAddress& peer) noexcept = 0;

 protected:
  ~SessionHost() = default;
};

class Session : public core::Releasable {
 public:
  Session(SessionHost& host, WorkerGeneration& generation) noexcept
      : host_(host), generation_(generation) {
    ++generation.open_sessions;
  }
  virtual ~Session() = default;

  // Shutdown has begun: close now if nothing is in flight, else after the current exchange.
  virtual void begin_drain() noexcept = 0;
  // The drain timeout has passed: close now, whatever is in flight.
  virtual void close_now() noexcept = 0;

  WorkerGeneration& generation() noexcept { return generation_; }

  // The worker's list of open sessions (intrusive: no allocation per connection).
  Session* prev_session = nullptr;
  Session* next_session = nullptr;
  // What the connection holds against the client connection limits; the worker gives it back.
  ConnectionGate::Ticket ticket;

 protected:
  SessionHost& host_;
  WorkerGeneration& generation_;
};

}  // namespace ballast::proxy
