#include "upstream/http2_pool.h"

#include <algorithm>
#include <cerrno>

#include "upstream/http2_connection.h"

namespace ballast::upstream {

Http2Pool::Http2Pool(core::EventLoop& loop, ConnectionPool& tls_home,
                     const http2::ClientLimits& limits, uint64_t idle_timeout_ms,
                     uint64_t connect_timeout_ms, observe::ClusterShard& counts)
    : loop_(loop),
      tls_home_(tls_home),
      limits_(limits),
      idle_timeout_ms_(idle_timeout_ms),
      connect_timeout_ms_(connect_timeout_ms),
      counts_(counts) {}

Http2Pool::~Http2Pool() {
  while (!connections_.empty()) {
    connections_.back()->close("shutting down");  // forgets itself
  }
}

Http2Connection* Http2Pool::with_room() noexcept {
  for (Http2Connection* connection : connections_) {
    if (connection->has_room()) {
      return connection;
    }
  }
  return nullptr;
}

Http2Connection* Http2Pool::open(const core::SocketAddress& address, const tls::ClientContext* tls,
                                 const std::string& server_host) noexcept {
  core::FileDescriptor fd = core::connect_to(address);
  if (!fd.valid()) {
    return nullptr;
  }
  core::set_no_delay(fd.get());
  const int raw_fd = fd.get();
  auto* socket = new UpstreamConnection(loop_, std::move(fd), tls_home_);
  if (tls != nullptr && !socket->start_tls(*tls, server_host)) {
    socket->close();
    errno = ENOMEM;
    return nullptr;
  }
  try {
    connections_.reserve(connections_.size() + 1);
  } catch (const std::bad_alloc&) {
    socket->close();
    errno = ENOMEM;
    return nullptr;
  }
  auto* connection = new Http2Connection(loop_, *this, *socket, limits_, connect_timeout_ms_);
  connections_.push_back(connection);
  if (!loop_.watch(raw_fd, *socket)) {
    connection->close("cannot watch the socket");
    return nullptr;
  }
  return connection;
}

void Http2Pool::forget(Http2Connection& connection) noexcept {
  const auto found = std::find(connections_.begin(), connections_.end(), &connection);
  if (found != connections_.end()) {
    connections_.erase(found);
  }
}

}  // namespace ballast::upstream
