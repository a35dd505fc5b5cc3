#pragma once
// Header fields as nghttp2 takes them: pseudo-header fields first, then the others with their
// names lowercased and HTTP/1's connection-specific fields dropped (RFC 9113 §8.2.2). nghttp2
// copies a list when it is submitted, so one list is filled again for each head.
//
// Owns: the lowercased names and the list. Threading: one connection's.

#include <nghttp2/nghttp2.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/head.h"

namespace ballast::http2 {

// connection, keep-alive, proxy-connection, transfer-encoding, upgrade: never sent over HTTP/2.
bool connection_specific(std::string_view lowercase_name) noexcept;

class FieldList {
 public:
  void clear() noexcept { fields_.clear(); }
  // `name` and `value` must outlive the submission (literals, or the caller's views).
  void add_pseudo(std::string_view name, std::string_view value);
  // Once per list, after the pseudo-header fields.
  void add(std::span<const http::Header> fields);

  const nghttp2_nv* data() const noexcept { return fields_.data(); }
  size_t size() const noexcept { return fields_.size(); }

 private:
  std::string names_;
  std::vector<nghttp2_nv> fields_;
};

}  // namespace ballast::http2
