#include "http/request_target.h"

#include <cstring>

#include "http/chars.h"

namespace ballast::http {
namespace {

int hex_value(char c) noexcept {
  return chars::is(c, chars::kHexDigit) ? chars::hex_value(c) : -1;
}

bool is_unreserved(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

char upper_hex(int value) noexcept {
  return "0123456789ABCDEF"[value & 0xF];
}

// Decodes percent-encoded unreserved characters in place and upper-cases the hex of the rest
// (RFC 3986 §6.2.2.1-2). Returns the new length, or 0 when an encoding is malformed or NUL.
size_t decode_unreserved(char* path, size_t length) noexcept {
  size_t out = 0;
  for (size_t in = 0; in < length;) {
    if (path[in] != '%') {
      path[out++] = path[in++];
      continue;
    }
    const int high = in + 2 < length ? hex_value(path[in + 1]) : -1;
    const int low = in + 2 < length ? hex_value(path[in + 2]) : -1;
    if (high < 0 || low < 0 || (high == 0 && low == 0)) {
      return 0;
    }
    const char decoded = static_cast<char>(high * 16 + low);
    if (is_unreserved(decoded)) {
      path[out++] = decoded;
    } else {
      path[out++] = '%';
      path[out++] = upper_hex(high);
      path[out++] = upper_hex(low);
    }
    in += 3;
  }
  return out;
}

// Merges repeated slashes and removes dot-segments (RFC 3986 §5.2.4) in place. The output is a
// run of "/segment" items written at or before where they were read, so it never overtakes the
// input. Returns the new length (at least 1: "/").
size_t remove_dot_segments(char* path, size_t length) noexcept {
  size_t out = 0;
  size_t in = 0;
  while (in < length) {
    while (in < length && path[in] == '/') {
      ++in;
    }
    size_t end = in;
    while (end < length && path[end] != '/') {
      ++end;
    }
    const std::string_view segment(path + in, end - in);
    const bool last = end == length;
    if (segment == "..") {
      while (out > 0 && path[out - 1] != '/') {
        --out;
      }
      out = out > 0 ? out - 1 : 0;  // drop the segment and its slash
      if (last) {
        path[out++] = '/';
      }
    } else if (segment == ".") {
      if (last && (out == 0 || path[out - 1] != '/')) {
        path[out++] = '/';
      }
    } else {
      path[out++] = '/';
      std::memmove(path + out, segment.data(), segment.size());
      out += segment.size();
    }
    in = end;
  }
  if (out == 0) {
    path[out++] = '/';
  }
  return out;
}

bool equals_lower(std::string_view text, std::string_view lower) noexcept {
  return chars::equals_ignore_case(text, lower);
}

// Absolute-form: "http://authority[/path][?query]". On success `target` is narrowed to the part
// from the path on, with a '/' written before a query that had no path; the authority moves one
// byte left (into the "//" it followed) to make room for it.
TargetError take_authority(std::span<char>& target, RequestHead& request) noexcept {
  const std::string_view text(target.data(), target.size());
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return {400, "invalid request target"};
  }
  const std::string_view scheme = text.substr(0, scheme_end);
  if (!equals_lower(scheme, "http") && !equals_lower(scheme, "https")) {
    return {400, "unsupported scheme in the request target"};
  }
  const size_t authority_begin = scheme_end + 3;
  size_t authority_end = text.find_first_of("/?", authority_begin);
  if (authority_end == std::string_view::npos) {
    authority_end = text.size();
  }
  const std::string_view authority = text.substr(authority_begin, authority_end - authority_begin);
  if (authority.empty()) {
    return {400, "empty authority in the request target"};
  }
  for (const char c : authority) {
    if (c == '@') {
      return {400, "userinfo in the request target"};
    }
    if (!chars::is(c, chars::kHost)) {
      return {400, "invalid authority in the request target"};
    }
  }
  char* moved = target.data() + authority_begin - 1;
  std::memmove(moved, authority.data(), authority.size());
  request.host = {moved, authority.size()};
  request.has_host = true;
  request.host_from_target = true;
  const size_t path_begin = authority_end - 1;
  target = target.subspan(path_begin);
  if (authority_end == text.size() || text[authority_end] == '?') {
    target[0] = '/';
  } else {
    target = target.subspan(1);  // the path's own '/' follows
  }
  return {};
}

}  // namespace

size_t normalize_path(std::span<char> path) noexcept {
  const size_t decoded = decode_unreserved(path.data(), path.size());
  if (decoded == 0) {
    return 0;
  }
  return remove_dot_segments(path.data(), decoded);
}

TargetError normalize_request_target(std::span<char> target, RequestHead& request) noexcept {
  const std::string_view text(target.data(), target.size());
  if (text.find('#') != std::string_view::npos) {
    return {400, "fragment in the request target"};
  }
  if (text == "*") {
    return request.method == "OPTIONS" ? TargetError{}
                                       : TargetError{400, "asterisk-form outside OPTIONS"};
  }
  if (text.front() != '/') {
    if (const TargetError error = take_authority(target, request); error.status != 0) {
      return error;
    }
  }
  const std::string_view rest(target.data(), target.size());
  const size_t query = std::min(rest.find('?'), rest.size());
  const size_t path_length = normalize_path(target.first(query));
  if (path_length == 0) {
    return {400, "invalid percent-encoding in the path"};
  }
  // The query moves up behind the shortened path.
  std::memmove(target.data() + path_length, target.data() + query, target.size() - query);
  request.target = {target.data(), path_length + target.size() - query};
  return {};
}

}  // namespace ballast::http
