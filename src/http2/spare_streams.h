#pragma once
// A connection's closed streams kept for the next ones, and their body buffers, so that a busy
// connection opens stream after stream without allocating. A few of each are kept; the body
// buffers (a flow-control window each) are let go when the connection has no stream open, so
// an idle connection holds none.
//
// Owns: the spare streams and bodies. Threading: one connection's.

#include <cstddef>
#include <memory>
#include <vector>

#include "http2/outgoing_body.h"

namespace ballast::http2 {

template <typename Stream>
class SpareStreams {
 public:
  static constexpr size_t kKept = 16;

  SpareStreams() {
    streams_.reserve(kKept);
    bodies_.reserve(kKept);
  }

  // A stream as new (Stream::clear() ran when it was given back). Throws bad_alloc.
  std::unique_ptr<Stream> take_stream() {
    if (streams_.empty()) {
      return std::make_unique<Stream>();
    }
    std::unique_ptr<Stream> stream = std::move(streams_.back());
    streams_.pop_back();
    return stream;
  }

  // An empty body of `capacity` bytes. Throws bad_alloc.
  std::unique_ptr<OutgoingBody> take_body(size_t capacity) {
    if (bodies_.empty()) {
      return std::make_unique<OutgoingBody>(capacity);
    }
    std::unique_ptr<OutgoingBody> body = std::move(bodies_.back());
    bodies_.pop_back();
    return body;
  }

  // A cleared stream, closed; `idle`: it was the connection's last open one.
  void give_back(std::unique_ptr<Stream> stream, bool idle) noexcept {
    if (stream->body != nullptr && bodies_.size() < kKept && !idle) {
      stream->body->reset();
      bodies_.push_back(std::move(stream->body));
    }
    stream->body.reset();
    if (streams_.size() < kKept) {
      streams_.push_back(std::move(stream));
    }
    if (idle) {
      bodies_.clear();
    }
  }

 private:
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<OutgoingBody>> bodies_;
};

}  // namespace ballast::http2
