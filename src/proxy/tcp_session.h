#pragma once
// One client connection on a `mode: tcp` listener: a server is chosen per connection and bytes
// are pumped both ways until both sides are done.
//
// Owns: the client socket, the upstream socket, and one fixed buffer per direction.
// Threading: one worker's.
// Half-close: when one side finishes sending (EOF), that direction's buffer is flushed and the
// other side's write half is shut down; the connection ends once both directions have ended, so
// protocols that half-close (a request, then shutdown(SHUT_WR), then the reply) work.
// Back-pressure: a full buffer stops reading its source until the destination drains it.
// A connect failure moves on to another server while `retry.attempts` allows.
//
// A listener with sni routes chooses the cluster per connection by the TLS server name, without
// terminating TLS: the client's first bytes are read (into the buffer that will carry them on)
// until its ClientHello is whole (tls/client_hello.h), within timeouts.client_header; a
// connection that is not TLS, or whose name no route takes, is closed.
//
// A listener with `tls` terminates it instead (as nginx's stream ssl and HAProxy's bind ssl in
// mode tcp): the handshake comes first, within tls.handshake_timeout, sni routes match the name
// it agreed, and the client's side of the pump reads and writes through the TLS stream.
//
// A cluster with upstream_tls speaks TLS to its servers (nginx's stream proxy_ssl): after the
// connect, the handshake, within the same connect timeout; a failed one is a connect failure and
// the next server is tried. The server's side of the pump then goes through that stream.

#include <cstdint>
#include <memory>

#include "balance/policy.h"
#include "config/config.h"
#include "core/byte_buffer.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "proxy/session.h"
#include "tls/client_hello.h"
#include "tls/server_context.h"
#include "tls/tls_stream.h"

namespace ballast::proxy {

class TcpSession final : public Session, public core::Resumable, public core::Timer::Handler {
 public:
  // `cluster` is null when the listener routes by sni; `tls` null on a listener without tls.
  TcpSession(SessionHost& host, WorkerGeneration& generation,
             const config::ListenerConfig& listener, std::shared_ptr<WorkerCluster> cluster,
             const tls::ServerContext* tls, core::FileDescriptor client,
             const core::SocketAddress& peer);
  ~TcpSession() override;

  bool start() noexcept;

  void on_timer(core::Timer& timer) noexcept override;
  void begin_drain() noexcept override {}  // a byte stream has no request boundary to stop at
  void close_now() noexcept override { close(); }
  void resume() noexcept override { drive(); }
  void release() noexcept override { delete this; }

 private:
  static constexpr size_t kBufferBytes = 64 * 1024;

  // One direction of the pump: bytes read from `from`, written to `to`.
  struct Direction {
    core::ByteBuffer buffer{kBufferBytes};
    bool source_readable = true;
    bool source_eof = false;
    bool source_hung_up = false;  // epoll reported the source's FIN: its EOF is still to read
    bool sink_writable = true;
    bool shut_down = false;  // the sink's write half has been shut down
  };

  // Routes a socket's events to the session, telling which socket it was.
  class Endpoint final : public core::IoHandler {
   public:
    Endpoint(TcpSession& session, bool is_client) : session_(session), is_client_(is_client) {}
    void on_io(uint32_t events) noexcept override { session_.on_endpoint_io(is_client_, events); }

   private:
    TcpSession& session_;
    bool is_client_;
  };

  void on_endpoint_io(bool is_client, uint32_t events) noexcept;
  void read_client_hello() noexcept;
  void advance_handshake() noexcept;
  void route_by_name(std::string_view server_name) noexcept;
  void refuse(std::string_view why) noexcept;
  void connect_next() noexcept;
  bool finish_connect(uint32_t events) noexcept;
  void connect_failed(std::string_view message, std::string_view detail) noexcept;
  tls::TlsStream* tls_of(bool client_side) noexcept {
    return client_side ? tls_.get() : upstream_tls_.get();
  }
  void drive() noexcept;
  bool pump(Direction& direction, bool from_client) noexcept;
  ssize_t receive(bool from_client, std::span<char> space, bool& drained) noexcept;
  ssize_t send_to(bool to_client, std::string_view bytes) noexcept;
  void shut_write(bool to_client) noexcept;
  void close() noexcept;
  void end_attempt(AttemptEnd end) noexcept;

  const config::ListenerConfig& listener_;
  // Null until the ClientHello chose it, on a listener with sni routes. Shared: the session keeps
  // it alive after a discovery change replaced it (worker_cluster.h).
  std::shared_ptr<WorkerCluster> cluster_;
  const tls::ServerContext* tls_context_;
  core::FileDescriptor client_;
  std::unique_ptr<tls::TlsStream> tls_;  // the client's TLS, on a listener with tls
  core::FileDescriptor upstream_;
  std::unique_ptr<tls::TlsStream> upstream_tls_;  // to the server, for a cluster with upstream_tls
  const core::SocketAddress peer_;  // the client, as accepted or as its proxy's header named it
  core::IpText client_ip_;
  Endpoint client_endpoint_{*this, true};
  Endpoint upstream_endpoint_{*this, false};
  Direction to_upstream_;
  Direction to_client_;
  core::Timer timer_{*this};  // the ClientHello's deadline, the connect timeout, the idle one
  Attempt attempt_;
  balance::ExcludedServers excluded_;
  uint32_t attempts_made_ = 0;
  bool connecting_ = false;            // the connection to the server is not established yet
  bool upstream_handshaking_ = false;  // connected over TCP; the TLS handshake runs
  bool closed_ = false;
};

}  // namespace ballast::proxy
