#include "http/chunked_parser.h"

#include <algorithm>

#include "http/chars.h"

namespace ballast::http {
namespace {

uint64_t hex_value(char c) noexcept {
  return static_cast<uint64_t>(chars::hex_value(c));
}

}  // namespace

ChunkResult ChunkedParser::run(std::string_view bytes, bool stop_after_data) noexcept {
  ChunkResult result;
  size_t i = 0;
  while (i < bytes.size()) {
    if (state_ == State::data) {
      const auto take = static_cast<size_t>(std::min<uint64_t>(size_, bytes.size() - i));
      size_ -= take;
      if (size_ == 0) {
        state_ = State::data_cr;
      }
      i += take;
      if (stop_after_data) {
        result.data = bytes.substr(i - take, take);
        break;
      }
      continue;
    }
    if (state_ == State::done || state_ == State::failed || !step(bytes[i])) {
      break;
    }
    ++i;
  }
  result.consumed = i;
  result.done = state_ == State::done;
  result.error = state_ == State::failed;
  result.reason = result.error ? error_reason_ : std::string_view();
  return result;
}

bool ChunkedParser::fail(std::string_view reason) noexcept {
  state_ = State::failed;
  error_reason_ = reason;
  return false;
}

bool ChunkedParser::step(char c) noexcept {
  if (state_ >= State::trailer_line) {
    if (++line_bytes_ > kMaxTrailerBytes) {
      return fail("trailer section too large");
    }
  } else if (state_ <= State::size_lf && ++line_bytes_ > kMaxChunkLineBytes) {
    return fail("chunk-size line too long");
  }
  const bool ows = chars::is_ows(c);
  switch (state_) {
    case State::size_first:
      if (!chars::is(c, chars::kHexDigit)) {
        return fail("invalid chunk size");
      }
      size_ = hex_value(c);
      state_ = State::size;
      return true;
    case State::size:
      if (chars::is(c, chars::kHexDigit)) {
        if (size_ > (UINT64_MAX >> 4)) {
          return fail("chunk size too large");
        }
        size_ = (size_ << 4) | hex_value(c);
      } else if (c == ';') {
        state_ = State::ext_before_name;
      } else if (ows) {
        state_ = State::bws_before_semicolon;
      } else if (c == '\r') {
        state_ = State::size_lf;
      } else {
        return fail("invalid chunk size");
      }
      return true;
    case State::bws_before_semicolon:
      if (c == ';') {
        state_ = State::ext_before_name;
      } else if (!ows) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext_before_name:
      if (chars::is(c, chars::kToken)) {
        state_ = State::ext_name;
      } else if (!ows) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext_name:
      if (c == '=') {
        state_ = State::ext_before_value;
      } else if (c == ';') {
        state_ = State::ext_before_name;
      } else if (c == '\r') {
        state_ = State::size_lf;
      } else if (ows) {
        state_ = State::ext_after_name;
      } else if (!chars::is(c, chars::kToken)) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext_after_name:
      if (c == '=') {
        state_ = State::ext_before_value;
      } else if (c == ';') {
        state_ = State::ext_before_name;
      } else if (!ows) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext_before_value:
      if (c == '"') {
        state_ = State::ext_quoted_value;
      } else if (chars::is(c, chars::kToken)) {
        state_ = State::ext_token_value;
      } else if (!ows) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext_token_value:
      if (c == ';') {
        state_ = State::ext_before_name;
      } else if (c == '\r') {
        state_ = State::size_lf;
      } else if (ows) {
        state_ = State::bws_before_semicolon;
      } else if (!chars::is(c, chars::kToken)) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext_quoted_value:
      // qdtext is a field-value byte other than DQUOTE and backslash.
      if (c == '"') {
        state_ = State::ext_after_quoted;
      } else if (c == '\\') {
        state_ = State::ext_quoted_pair;
      } else if (!chars::is(c, chars::kFieldValue)) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext_quoted_pair:
      if (!chars::is(c, chars::kFieldValue)) {
        return fail("invalid chunk extension");
      }
      state_ = State::ext_quoted_value;
      return true;
    case State::ext_after_quoted:
      if (c == ';') {
        state_ = State::ext_before_name;
      } else if (c == '\r') {
        state_ = State::size_lf;
      } else if (ows) {
        state_ = State::bws_before_semicolon;
      } else {
        return fail("invalid chunk extension");
      }
      return true;
    case State::size_lf:
      if (c != '\n') {
        return fail("bare CR in a chunk-size line");
      }
      line_bytes_ = 0;
      state_ = size_ == 0 ? State::trailer_line : State::data;
      return true;
    case State::data_cr:
      if (c != '\r') {
        return fail("chunk data not followed by CRLF");
      }
      state_ = State::data_lf;
      return true;
    case State::data_lf:
      if (c != '\n') {
        return fail("chunk data not followed by CRLF");
      }
      state_ = State::size_first;
      return true;
    case State::trailer_line:
      if (c == '\r') {
        state_ = State::final_lf;
      } else if (chars::is(c, chars::kToken)) {
        state_ = State::trailer_name;
      } else {
        return fail(ows ? "obsolete line folding in the trailer section" : "invalid trailer field");
      }
      return true;
    case State::trailer_name:
      if (c == ':') {
        state_ = State::trailer_value;
      } else if (!chars::is(c, chars::kToken)) {
        return fail("invalid trailer field name");
      }
      return true;
    case State::trailer_value:
      if (c == '\r') {
        state_ = State::trailer_lf;
      } else if (!chars::is(c, chars::kFieldValue)) {
        return fail("invalid character in a trailer value");
      }
      return true;
    case State::trailer_lf:
    case State::final_lf:
      if (c != '\n') {
        return fail("bare CR in the trailer section");
      }
      state_ = state_ == State::final_lf ? State::done : State::trailer_line;
      return true;
    case State::data:
    case State::done:
    case State::failed:
      break;
  }
  return false;
}

}  // namespace ballast::http
