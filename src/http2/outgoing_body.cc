#include "http2/outgoing_body.h"

#include <algorithm>
#include <cstring>

#include "http2/field_list.h"

namespace ballast::http2 {

void OutgoingBody::reset() noexcept {
  bytes_.clear();
  ended_ = false;
  deferred_ = false;
  trailer_bytes_.clear();
  trailers_.clear();
}

size_t OutgoingBody::append(std::string_view bytes, bool& resume) noexcept {
  resume = false;
  if (ended_) {
    return 0;
  }
  bytes_.compact();
  const size_t taken = std::min(bytes.size(), bytes_.writable().size());
  bytes_.append(bytes.substr(0, taken));
  if (taken != 0 && deferred_) {
    deferred_ = false;
    resume = true;
  }
  return taken;
}

void OutgoingBody::end(std::span<const http::Header> trailers, bool& resume) {
  resume = false;
  if (ended_) {
    return;
  }
  ended_ = true;
  size_t total = 0;
  for (const http::Header& trailer : trailers) {
    total += trailer.name.size() + trailer.value.size();
  }
  trailer_bytes_.reserve(total);  // views into it are taken below: it must not move
  for (const http::Header& trailer : trailers) {
    const size_t at = trailer_bytes_.size();
    trailer_bytes_.append(trailer.name).append(trailer.value);
    trailers_.push_back(
        {std::string_view(trailer_bytes_).substr(at, trailer.name.size()),
         std::string_view(trailer_bytes_).substr(at + trailer.name.size(), trailer.value.size())});
  }
  if (deferred_) {
    deferred_ = false;
    resume = true;
  }
}

ssize_t OutgoingBody::read(nghttp2_session* session, int32_t stream, uint8_t* out, size_t length,
                           uint32_t* flags) noexcept {
  const size_t taken = std::min(length, bytes_.size());
  std::memcpy(out, bytes_.readable().data(), taken);
  bytes_.consume(taken);
  if (!bytes_.empty() || !ended_) {
    if (taken == 0) {
      deferred_ = true;
      return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(taken);
  }
  *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (!trailers_.empty()) {
    *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    try {
      FieldList list;
      list.add(trailers_);
      nghttp2_submit_trailer(session, stream, list.data(), list.size());
    } catch (const std::bad_alloc&) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;  // nghttp2 is C: nothing may be thrown through it
    }
  }
  return static_cast<ssize_t>(taken);
}

}  // namespace ballast::http2
