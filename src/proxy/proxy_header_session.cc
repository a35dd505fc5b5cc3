#include "proxy/proxy_header_session.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "core/clock.h"
#include "edge/proxy_protocol.h"
#include "observe/log.h"

namespace ballast::proxy {

ProxyHeaderSession::ProxyHeaderSession(SessionHost& host, WorkerGeneration& generation,
                                       const config::ListenerConfig& listener,
                                       core::FileDescriptor client, const core::SocketAddress& peer)
    : Session(host, generation), listener_(listener), client_(std::move(client)), peer_(peer) {}

bool ProxyHeaderSession::start() noexcept {
  if (!host_.loop().watch(client_.get(), *this)) {
    return false;
  }
  const uint64_t deadline_ms = generation_.shared->config->timeouts.client_header_ms;
  timer_.arm(host_.loop().timers(), host_.loop().now_ns() + deadline_ms * core::kNsPerMs);
  read_header();
  return true;
}

void ProxyHeaderSession::on_io(uint32_t /*events*/) noexcept {
  read_header();
}

void ProxyHeaderSession::on_timer(core::Timer& /*timer*/) noexcept {
  refuse("no PROXY protocol header in time");
}

// Peeks at what has come so far; once it holds a whole header, consumes exactly that header and
// hands the connection on. Incomplete: the next bytes bring another edge (the socket is watched
// edge-triggered, and peeked bytes that stay do not count as new).
void ProxyHeaderSession::read_header() noexcept {
  if (closed_) {
    return;
  }
  uint8_t bytes[kMaxHeaderBytes];
  const ssize_t peeked = recv(client_.get(), bytes, sizeof(bytes), MSG_PEEK);
  if (peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EINTR)) {
    close();  // gone before its header
    return;
  }
  if (peeked < 0) {
    return;
  }
  const edge::ProxyHeader header = edge::parse_proxy_header({bytes, static_cast<size_t>(peeked)});
  switch (header.status) {
    case edge::ProxyHeaderStatus::invalid:
      refuse("not a PROXY protocol header");
      return;
    case edge::ProxyHeaderStatus::incomplete:
      if (static_cast<size_t>(peeked) == sizeof(bytes)) {
        refuse("PROXY protocol header longer than 4096 bytes");
      }
      return;
    case edge::ProxyHeaderStatus::done:
      break;
  }
  // The header is in the socket whole: this takes exactly its bytes, at once.
  if (recv(client_.get(), bytes, header.length, 0) != static_cast<ssize_t>(header.length)) {
    close();
    return;
  }
  timer_.cancel();
  closed_ = true;
  count(&observe::ProtocolShard::proxy_headers_taken);
  host_.loop().unwatch(client_.get());
  host_.start_proxied(*this, listener_, std::move(client_), header.source.value_or(peer_));
  host_.session_closed(*this);
}

void ProxyHeaderSession::refuse(const char* why) noexcept {
  const core::IpText client = core::ip_text(peer_);
  observe::log_event(config::LogLevel::info, "refused proxied connection",
                     {{"listener", listener_.name}, {"peer", client.view()}, {"reason", why}});
  count(&observe::ProtocolShard::proxy_headers_refused);
  close();
}

void ProxyHeaderSession::count(std::atomic<uint64_t> observe::ProtocolShard::*counter) noexcept {
  if (observe::ProtocolShard* shard = host_.telemetry().protocols) {
    observe::ProtocolShard::count(shard->*counter);
  }
}

void ProxyHeaderSession::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  timer_.cancel();
  client_.reset();
  host_.session_closed(*this);
}

}  // namespace ballast::proxy
