#pragma once
// Sockets: addresses, an owning descriptor, and the non-blocking calls the loops make.
// Everything here is thin over the system calls; set-up calls (resolve, listen) throw, calls on
// the data path return -1 and leave errno for the caller.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ballast::core {

// Owns one file descriptor and closes it exactly once.
class FileDescriptor {
 public:
  FileDescriptor() noexcept = default;
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() { reset(); }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept;
  // Gives up ownership: the caller closes it.
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  // "1.2.3.4:80" or "[::1]:80".
  std::string to_string() const;
};

// The IP address alone, formatted into `out` (no allocation): for X-Forwarded-For and logs.
struct IpText {
  char text[46] = {};  // INET6_ADDRSTRLEN
  size_t length = 0;
  std::string_view view() const noexcept { return {text, length}; }
};
IpText ip_text(const SocketAddress& address) noexcept;
// The reverse: an IPv4 or IPv6 literal (no port) into `out`, port 0; false when it is neither.
// No allocation: for addresses read from requests (a trusted X-Forwarded-For).
bool parse_ip(std::string_view text, SocketAddress& out) noexcept;

// Resolves a host name or literal (start-up only). Throws std::runtime_error naming the host.
SocketAddress resolve(const std::string& host, uint16_t port);

// A non-blocking listening socket, with SO_REUSEPORT when `reuse_port` (each worker listens on
// its own socket and the kernel spreads connections), and TCP_NODELAY for what it accepts.
// Throws on failure.
FileDescriptor listen_on(const SocketAddress& address, bool reuse_port);

// A non-blocking connect; the descriptor is writable once connected (check connect_error()).
// Returns an invalid descriptor on immediate failure, errno set.
FileDescriptor connect_to(const SocketAddress& address) noexcept;
int connect_error(int fd) noexcept;  // SO_ERROR: 0 once connected

// accept4 with SOCK_NONBLOCK; invalid with errno set (EAGAIN when none is waiting).
FileDescriptor accept_from(int listen_fd, SocketAddress& peer) noexcept;

void set_no_delay(int fd) noexcept;

// Sends a head and the body bytes after it in one call (sendmsg gathers both buffers), so a
// small message leaves as one segment and costs one syscall, with no copy. As send: bytes
// taken, or -1 with errno (EAGAIN when the socket is full); never SIGPIPE.
ssize_t send_gathered(int fd, std::string_view head, std::string_view body) noexcept;

}  // namespace ballast::core
