#include "edge/proxy_header_send.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "edge/proxy_protocol.h"

namespace ballast::edge {
namespace {

ProxyVersion edge_version(config::ProxyProtocolVersion version) noexcept {
  return version == config::ProxyProtocolVersion::v1 ? ProxyVersion::v1 : ProxyVersion::v2;
}

bool send_all(int fd, const uint8_t* bytes, size_t length) noexcept {
  const ssize_t sent = send(fd, bytes, length, MSG_NOSIGNAL);
  if (sent == static_cast<ssize_t>(length)) {
    return true;
  }
  if (sent >= 0) {
    errno = EAGAIN;  // a fresh socket that took part of 108 bytes: nothing sane to wait for
  }
  return false;
}

}  // namespace

bool send_proxy_header(int server_fd, config::ProxyProtocolVersion version,
                       const core::SocketAddress& client, int client_fd) noexcept {
  core::SocketAddress local;
  local.length = sizeof(local.storage);
  if (getsockname(client_fd, reinterpret_cast<sockaddr*>(&local.storage), &local.length) != 0) {
    return false;
  }
  uint8_t header[kProxyHeaderWriteBytes];
  const size_t length = write_proxy_header(edge_version(version), client, local, header);
  return send_all(server_fd, header, length);
}

bool send_local_proxy_header(int server_fd, config::ProxyProtocolVersion version) noexcept {
  uint8_t header[kProxyHeaderWriteBytes];
  const size_t length = write_proxy_local_header(edge_version(version), header);
  return send_all(server_fd, header, length);
}

}  // namespace ballast::edge
