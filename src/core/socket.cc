#include "core/socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace ballast::core {

void FileDescriptor::reset(int fd) noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

IpText ip_text(const SocketAddress& address) noexcept {
  IpText ip;
  const void* raw = nullptr;
  if (address.storage.ss_family == AF_INET) {
    raw = &reinterpret_cast<const sockaddr_in&>(address.storage).sin_addr;
  } else if (address.storage.ss_family == AF_INET6) {
    raw = &reinterpret_cast<const sockaddr_in6&>(address.storage).sin6_addr;
  }
  if (raw != nullptr && inet_ntop(address.storage.ss_family, raw, ip.text, sizeof(ip.text))) {
    ip.length = std::strlen(ip.text);
  }
  return ip;
}

bool parse_ip(std::string_view text, SocketAddress& out) noexcept {
  char literal[INET6_ADDRSTRLEN] = {};
  if (text.empty() || text.size() >= sizeof(literal)) {
    return false;
  }
  text.copy(literal, text.size());
  out = SocketAddress{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(out.storage);
  if (inet_pton(AF_INET, literal, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    out.length = sizeof(sockaddr_in);
    return true;
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(out.storage);
  if (inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    out.length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::string SocketAddress::to_string() const {
  const std::string ip(ip_text(*this).view());
  uint16_t port = 0;
  if (storage.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in&>(storage).sin_port);
    return ip + ":" + std::to_string(port);
  }
  port = ntohs(reinterpret_cast<const sockaddr_in6&>(storage).sin6_port);
  return "[" + ip + "]:" + std::to_string(port);
}

SocketAddress resolve(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const std::string name = host.empty() ? "0.0.0.0" : host;
  const int status = getaddrinfo(name.c_str(), service.c_str(), &hints, &found);
  if (status != 0 || found == nullptr) {
    throw std::runtime_error("cannot resolve " + name + ": " + gai_strerror(status));
  }
  SocketAddress address;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  freeaddrinfo(found);
  return address;
}

FileDescriptor listen_on(const SocketAddress& address, bool reuse_port) {
  FileDescriptor fd(
      socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    throw std::system_error(errno, std::generic_category(), "socket");
  }
  const int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (reuse_port) {
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
  }
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    throw std::system_error(errno, std::generic_category(), "bind " + address.to_string());
  }
  // Accepted connections inherit TCP_NODELAY from the listening socket: one call here instead
  // of one per connection.
  set_no_delay(fd.get());
  if (listen(fd.get(), SOMAXCONN) != 0) {
    throw std::system_error(errno, std::generic_category(), "listen " + address.to_string());
  }
  return fd;
}

FileDescriptor connect_to(const SocketAddress& address) noexcept {
  FileDescriptor fd(
      socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return fd;
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0 &&
      errno != EINPROGRESS) {
    const int saved = errno;
    fd.reset();
    errno = saved;
  }
  return fd;
}

int connect_error(int fd) noexcept {
  int error = 0;
  socklen_t length = sizeof(error);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
    return errno;
  }
  return error;
}

FileDescriptor accept_from(int listen_fd, SocketAddress& peer) noexcept {
  peer.length = sizeof(peer.storage);
  return FileDescriptor(accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                                SOCK_NONBLOCK | SOCK_CLOEXEC));
}

void set_no_delay(int fd) noexcept {
  const int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

ssize_t send_gathered(int fd, std::string_view head, std::string_view body) noexcept {
  iovec parts[2] = {{const_cast<char*>(head.data()), head.size()},
                    {const_cast<char*>(body.data()), body.size()}};
  msghdr message{};
  message.msg_iov = head.empty() ? parts + 1 : parts;
  message.msg_iovlen = head.empty() || body.empty() ? 1 : 2;
  return sendmsg(fd, &message, MSG_NOSIGNAL);
}

}  // namespace ballast::core
