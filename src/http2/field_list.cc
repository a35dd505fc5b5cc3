#include "http2/field_list.h"

#include <algorithm>
#include <array>

#include "http/chars.h"

namespace ballast::http2 {
namespace {

constexpr std::array<std::string_view, 5> kConnectionSpecific = {
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"};

nghttp2_nv field(std::string_view name, std::string_view value) noexcept {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace

bool connection_specific(std::string_view lowercase_name) noexcept {
  return std::find(kConnectionSpecific.begin(), kConnectionSpecific.end(), lowercase_name) !=
         kConnectionSpecific.end();
}

void FieldList::add_pseudo(std::string_view name, std::string_view value) {
  fields_.push_back(field(name, value));
}

void FieldList::add(std::span<const http::Header> fields) {
  size_t name_bytes = 0;
  for (const http::Header& header : fields) {
    name_bytes += header.name.size();
  }
  names_.assign(name_bytes, '\0');  // sized first: no view into it moves
  size_t offset = 0;
  for (const http::Header& header : fields) {
    char* name = names_.data() + offset;
    std::transform(header.name.begin(), header.name.end(), name,
                   [](char c) { return http::chars::to_lower(c); });
    const std::string_view lowercase(name, header.name.size());
    offset += header.name.size();
    if (!connection_specific(lowercase)) {
      fields_.push_back(field(lowercase, header.value));
    }
  }
}

}  // namespace ballast::http2
