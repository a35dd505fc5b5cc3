#pragma once
// Where the next read goes in a connection's buffer, and how far a buffer may grow for a head.

#include <cstddef>
#include <span>

#include "core/byte_buffer.h"

namespace ballast::proxy {

// A head (request or response) larger than the usual buffer may grow it to the parser's limit
// (64 KiB, http/head.h) and a little more, so that it is the parser that says "too large".
inline constexpr size_t kMaxHeadBufferBytes = 64 * 1024 + 1024;

// The buffer's free space, compacted first when its end is reached; empty when it is full.
// Reads fill it one recv at a time, and `drained` (set when a read came up short of the space)
// says the socket had no more: edge-triggered epoll reports the next arrival, so no second recv
// is needed to hear EAGAIN (nginx saves the same call) — unless the peer has hung up, whose EOF
// raises no further edge and must still be read.
inline std::span<char> free_space(core::ByteBuffer& buffer) noexcept {
  if (buffer.writable().empty()) {
    buffer.compact();
  }
  return buffer.writable();
}

}  // namespace ballast::proxy
