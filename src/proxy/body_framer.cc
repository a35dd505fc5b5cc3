#include "proxy/body_framer.h"

#include <algorithm>

namespace ballast::proxy {

void BodyFramer::start(http::BodyKind kind, uint64_t content_length) noexcept {
  kind_ = kind;
  ready_bytes_ = 0;
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

}  // namespace ballast::proxy
