#include "core/blocking_io.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "core/clock.h"

namespace ballast::core {

bool wait_ready(int fd, short events, uint64_t deadline_ns) noexcept {
  for (;;) {
    const uint64_t now = monotonic_now_ns();
    if (now >= deadline_ns) {
      return false;
    }
    const uint64_t wait_ms = (deadline_ns - now + kNsPerMs - 1) / kNsPerMs;
    pollfd entry{fd, events, 0};
    const int ready = poll(&entry, 1, static_cast<int>(std::min<uint64_t>(wait_ms, 60'000)));
    if (ready > 0) {
      return true;
    }
    if (ready < 0 && errno != EINTR) {
      return false;
    }
  }
}

std::string errno_text(const char* what, int error) {
  return std::string(what) + ": " + std::strerror(error);
}

FileDescriptor connect_by(const std::string& host, uint16_t port, uint64_t deadline_ns,
                          std::string& error) {
  SocketAddress address;
  try {
    address = resolve(host, port);
  } catch (const std::exception& failure) {
    error = failure.what();
    return {};
  }
  FileDescriptor fd = connect_to(address);
  if (!fd.valid()) {
    error = errno_text("connect", errno);
    return {};
  }
  if (!wait_ready(fd.get(), POLLOUT, deadline_ns)) {
    error = "connect timed out";
    return {};
  }
  if (const int failure = connect_error(fd.get()); failure != 0) {
    error = errno_text("connect", failure);
    return {};
  }
  set_no_delay(fd.get());
  return fd;
}

}  // namespace ballast::core
