#pragma once
// Socket steps that wait, each bounded by a deadline, for the control side's own small clients
// (span export, etcd): never used on a worker's loop.

#include <cstdint>
#include <string>

#include "core/socket.h"

namespace ballast::core {

// Waits until `fd` is ready for `events` (poll's) or the deadline (monotonic ns) passes. True
// when ready (an error or hang-up counts as ready: the next call on the socket reports it).
bool wait_ready(int fd, short events, uint64_t deadline_ns) noexcept;

// "what: strerror(error)".
std::string errno_text(const char* what, int error);

// A connected, non-blocking socket to host:port with TCP_NODELAY, by the deadline; an invalid
// one with `error` saying why (the host does not resolve, refused, timed out).
FileDescriptor connect_by(const std::string& host, uint16_t port, uint64_t deadline_ns,
                          std::string& error);

}  // namespace ballast::core
