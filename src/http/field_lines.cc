#include "http/field_lines.h"

#include "http/chars.h"
#include "http/header_role.h"

namespace ballast::http {
namespace {

// Real clients name one or two options (close, upgrade, te); the bound keeps the pass that
// matches options against field names at 16 x kMaxHeaders compares for any input.
constexpr uint32_t kMaxConnectionOptions = 16;

FieldError add_content_length(std::string_view value, FieldFacts& facts) noexcept {
  // A list of identical values ("5, 5") is one length (RFC 9112 §6.3 item 5).
  chars::ListElements elements(value);
  std::string_view element;
  bool any = false;
  while (elements.next(element)) {
    uint64_t length = 0;
    for (const char c : element) {
      if (c < '0' || c > '9') {
        return {400, "invalid Content-Length"};
      }
      const auto digit = static_cast<uint64_t>(c - '0');
      if (length > (UINT64_MAX - digit) / 10) {
        return {400, "Content-Length too large"};
      }
      length = length * 10 + digit;
    }
    if (facts.has_content_length && length != facts.content_length) {
      return {400, "conflicting Content-Length values"};
    }
    facts.has_content_length = true;
    facts.content_length = length;
    any = true;
  }
  return any ? FieldError{} : FieldError{400, "empty Content-Length"};
}

void add_transfer_codings(std::string_view value, FieldFacts& facts) noexcept {
  facts.has_transfer_encoding = true;
  chars::ListElements elements(value);
  std::string_view coding;
  while (elements.next(coding)) {
    const bool chunked = chars::equals_ignore_case(coding, "chunked");
    ++facts.coding_count;
    facts.chunked_count += chunked ? 1 : 0;
    facts.chunked_last = chunked;
  }
}

// Returns how many options other than close and keep-alive the value names.
uint32_t add_connection_options(std::string_view value, FieldFacts& facts) noexcept {
  chars::ListElements elements(value);
  std::string_view option;
  uint32_t others = 0;
  while (elements.next(option)) {
    if (chars::equals_ignore_case(option, "close")) {
      facts.connection_close = true;
    } else if (chars::equals_ignore_case(option, "keep-alive")) {
      facts.connection_keep_alive = true;
    } else {
      facts.connection_upgrade |= chars::equals_ignore_case(option, "upgrade");
      ++others;
    }
  }
  return others;
}

bool is_valid_host(std::string_view host) noexcept {
  for (const char c : host) {
    if (!chars::is(c, chars::kHost)) {
      return false;
    }
  }
  return true;
}

// Marks the fields that a Connection header names as hop-by-hop (RFC 9110 §7.6.1). Host is
// exempt: a client must not be able to strip the field every request needs.
void mark_connection_options(HeaderFields& fields) noexcept {
  for (uint32_t c = 0; c < fields.count; ++c) {
    if (known_field(fields.lines[c].name) != KnownField::connection) {
      continue;
    }
    chars::ListElements options(fields.lines[c].value);
    std::string_view option;
    while (options.next(option)) {
      for (uint32_t i = 0; i < fields.count; ++i) {
        const std::string_view name = fields.lines[i].name;
        if (chars::equals_ignore_case(name, option) && known_field(name) != KnownField::host) {
          fields.not_forwarded.set(i);
        }
      }
    }
  }
}

// Applies what a field means to the facts; returns a rejection or {}.
FieldError add_field(const Header& field, uint32_t index, HeaderFields& fields, FieldFacts& facts,
                     uint32_t& connection_options) noexcept {
  const KnownField known = known_field(field.name);
  if (role_of(known) != HeaderRole::end_to_end) {
    fields.not_forwarded.set(index);  // hop-by-hop, or framing the serializer re-emits
  }
  switch (known) {
    case KnownField::host:
      ++facts.host_count;
      facts.host = field.value;
      return is_valid_host(field.value) ? FieldError{} : FieldError{400, "invalid Host"};
    case KnownField::content_length:
      return add_content_length(field.value, facts);
    case KnownField::transfer_encoding:
      add_transfer_codings(field.value, facts);
      return {};
    case KnownField::connection:
      connection_options += add_connection_options(field.value, facts);
      if (connection_options > kMaxConnectionOptions) {
        return {400, "too many Connection options"};
      }
      return {};
    case KnownField::expect:
      facts.expect_continue = chars::equals_ignore_case(field.value, "100-continue");
      return {};
    case KnownField::upgrade:
      facts.upgrade = field.value;
      return {};
    default:
      return {};
  }
}

}  // namespace

FieldError parse_field_lines(const char* begin, const char* end, uint32_t max_headers,
                             HeaderFields& fields, FieldFacts& facts) noexcept {
  fields.count = 0;
  fields.not_forwarded.reset();
  facts = {};
  uint32_t connection_options = 0;
  // Every scan below stops at the CR that ends its line at the latest (CR is in no character
  // class), and every line ends in CRLF, so no bounds check is needed until the empty line.
  const char* p = begin;
  while (true) {
    if (*p == '\r') {
      if (p + 2 == end) {
        break;
      }
      return {400, "bare CR in the header section"};
    }
    if (chars::is_ows(*p)) {
      return {400, "obsolete line folding"};
    }
    const char* name_begin = p;
    while (chars::is(*p, chars::kToken)) {
      ++p;
    }
    if (*p != ':') {
      if (chars::is_ows(*p)) {
        return {400, "whitespace between a header name and its colon"};
      }
      return {400,
              *p == '\r' ? "header line without a colon" : "invalid character in a header name"};
    }
    if (p == name_begin) {
      return {400, "empty header name"};
    }
    const std::string_view name(name_begin, static_cast<size_t>(p - name_begin));
    ++p;
    while (chars::is_ows(*p)) {
      ++p;
    }
    const char* value_begin = p;
    p = chars::skip_field_value(p, end);
    if (*p != '\r') {
      return {400, "invalid character in a header value"};
    }
    if (p[1] != '\n') {
      return {400, "bare CR in a header value"};
    }
    const char* value_end = p;
    while (value_end > value_begin && chars::is_ows(value_end[-1])) {
      --value_end;
    }
    p += 2;
    if (fields.count >= max_headers) {
      return {431, "too many header fields"};
    }
    const uint32_t index = fields.count++;
    fields.lines[index] = {name, {value_begin, static_cast<size_t>(value_end - value_begin)}};
    const FieldError error =
        add_field(fields.lines[index], index, fields, facts, connection_options);
    if (error.status != 0) {
      return error;
    }
  }
  if (connection_options > 0) {
    mark_connection_options(fields);
  }
  return {};
}

}  // namespace ballast::http
