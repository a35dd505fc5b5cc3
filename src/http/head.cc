#include "http/head.h"

#include "http/chars.h"

namespace ballast::http {

const Header* HeaderFields::find(std::string_view name) const noexcept {
  for (const Header& header : all()) {
    if (chars::equals_ignore_case(header.name, name)) {
      return &header;
    }
  }
  return nullptr;
}

}  // namespace ballast::http
