#pragma once
// The first stage of a connection on a listener with `proxy_protocol`, from one of its trusted
// addresses: reads the PROXY protocol header (edge/proxy_protocol.h) that the proxy in front
// sends before its client's bytes, within timeouts.client_header, then has the worker start the
// connection's own session (HTTP or TCP) with the client's address the header gives.
//
// The header is read with MSG_PEEK and only its own bytes are then consumed, so what the client
// sent after it stays in the socket for the session that follows: no buffer is handed over, and
// none is held per connection (the peek goes into the stack). A connection whose first bytes are
// not a header, or whose header is longer than kMaxHeaderBytes, is closed (the specification
// forbids guessing); so is one that sends nothing in time.
//
// Threading: one worker's.

#include <cstddef>

#include "config/config.h"
#include "core/event_loop.h"
#include "core/socket.h"
#include "core/timer_wheel.h"
#include "observe/protocol_stats.h"
#include "proxy/session.h"

namespace ballast::proxy {

class ProxyHeaderSession final : public Session,
                                 public core::IoHandler,
                                 public core::Timer::Handler {
 public:
  // TLVs beyond the addresses are skipped, but a v2 header with more than this is refused:
  // what real senders add (AWS, Azure, HAProxy's SSL details) is far less.
  static constexpr size_t kMaxHeaderBytes = 4096;

  ProxyHeaderSession(SessionHost& host, WorkerGeneration& generation,
                     const config::ListenerConfig& listener, core::FileDescriptor client,
                     const core::SocketAddress& peer);

  bool start() noexcept;

  void on_io(uint32_t events) noexcept override;
  void on_timer(core::Timer& timer) noexcept override;
  void begin_drain() noexcept override { close(); }  // nothing of the client's has started
  void close_now() noexcept override { close(); }
  void release() noexcept override { delete this; }

 private:
  void read_header() noexcept;
  void refuse(const char* why) noexcept;
  void count(std::atomic<uint64_t> observe::ProtocolShard::*counter) noexcept;
  void close() noexcept;

  const config::ListenerConfig& listener_;
  core::FileDescriptor client_;
  const core::SocketAddress peer_;
  core::Timer timer_{*this};
  bool closed_ = false;
};

}  // namespace ballast::proxy
