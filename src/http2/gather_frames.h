#pragma once
// nghttp2 hands out about a frame at a time (output()); a connection moves every frame ready
// into its send buffer first, so that many streams' frames leave in one send.

#include <algorithm>
#include <string_view>

#include "core/byte_buffer.h"

namespace ballast::http2 {

// Moves `protocol`'s pending frames (a ServerConnection or a ClientConnection) into `out`
// while they fit. `out` must not be named by a queued send: it may be compacted.
template <typename Protocol>
void gather_frames(Protocol& protocol, core::ByteBuffer& out) noexcept {
  for (;;) {
    const std::string_view bytes = protocol.output();
    if (bytes.empty()) {
      return;
    }
    if (out.writable().size() < bytes.size()) {
      out.compact();
    }
    const size_t taken = std::min(bytes.size(), out.writable().size());
    out.append(bytes.substr(0, taken));
    protocol.sent(taken);
    if (taken < bytes.size()) {
      return;
    }
  }
}

}  // namespace ballast::http2
