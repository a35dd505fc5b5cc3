#include "proxy/body_framer.h"

#include <algorithm>

namespace ballast::proxy {

void BodyFramer::start(http::BodyKind kind, uint64_t content_length, Coding coding) noexcept {
  kind_ = kind;
  ready_bytes_ = 0;
  skipped_bytes_ = 0;
  dechunked_ = kind == http::BodyKind::chunked && coding == Coding::dechunked;
  error_reason_ = {};
  remaining_bytes_ = kind == http::BodyKind::content_length ? content_length : 0;
  complete_ = kind == http::BodyKind::none ||
              (kind == http::BodyKind::content_length && content_length == 0);
  if (kind == http::BodyKind::chunked) {
    chunked_.reset();
  }
}

bool BodyFramer::frame(std::string_view unframed) noexcept {
  if (complete_ || unframed.empty()) {
    return true;
  }
  switch (kind_) {
    case http::BodyKind::none:
      return true;
    case http::BodyKind::content_length: {
      const uint64_t taken = std::min<uint64_t>(remaining_bytes_, unframed.size());
      remaining_bytes_ -= taken;
      ready_bytes_ += taken;
      complete_ = remaining_bytes_ == 0;
      return true;
    }
    case http::BodyKind::until_close:
      ready_bytes_ += unframed.size();
      return true;
    case http::BodyKind::chunked: {
      if (dechunked_) {
        return decode_chunked(unframed);
      }
      const http::ChunkResult result = chunked_.consume(unframed);
      if (result.error) {
        error_reason_ = result.reason;
        return false;
      }
      ready_bytes_ += result.consumed;
      complete_ = result.done;
      return true;
    }
  }
  return true;
}

// Decodes up to the end of the next stretch of payload: whatever framing came before it is
// skipped, and the payload, which ends where decoding stopped, is what is ready.
bool BodyFramer::decode_chunked(std::string_view unframed) noexcept {
  if (ready_bytes_ != 0) {
    return true;  // the payload before must leave the buffer's front first
  }
  size_t offset = 0;
  while (offset < unframed.size() && !complete_ && ready_bytes_ == 0) {
    const http::ChunkResult result = chunked_.decode(unframed.substr(offset));
    if (result.error) {
      error_reason_ = result.reason;
      return false;
    }
    offset += result.consumed;
    ready_bytes_ = result.data.size();
    complete_ = result.done;
  }
  skipped_bytes_ = offset - ready_bytes_;
  return true;
}

}  // namespace ballast::proxy
