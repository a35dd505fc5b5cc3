#include "http/head_scanner.h"

#include <algorithm>
#include <cstring>

namespace ballast::http {

HeadScan HeadScanner::scan(std::string_view buffered) noexcept {
  if (head_end_ != 0) {
    return {HeadScan::found, head_start_, head_end_};
  }
  const char* data = buffered.data();
  // A head may use at most max_head_bytes_ bytes, so no LF beyond them matters.
  const size_t limit = std::min(buffered.size(), max_head_bytes_);
  while (next_ < limit) {
    const void* found = std::memchr(data + next_, '\n', limit - next_);
    if (found == nullptr) {
      next_ = limit;
      break;
    }
    const size_t lf = static_cast<size_t>(static_cast<const char*>(found) - data);
    if (lf == line_start_ || data[lf - 1] != '\r') {
      return {HeadScan::bare_lf, head_start_, 0};
    }
    next_ = lf + 1;
    if (lf - 1 == line_start_) {  // an empty line
      if (line_start_ != head_start_) {
        head_end_ = next_;
        return {HeadScan::found, head_start_, head_end_};
      }
      if (!skip_leading_empty_lines_) {
        return {HeadScan::leading_empty_line, head_start_, 0};
      }
      head_start_ = next_;
    }
    line_start_ = next_;
  }
  if (buffered.size() >= max_head_bytes_) {
    return {HeadScan::too_large, head_start_, 0};
  }
  return {HeadScan::more, head_start_, 0};
}

void HeadScanner::reset() noexcept {
  next_ = 0;
  line_start_ = 0;
  head_start_ = 0;
  head_end_ = 0;
}

}  // namespace ballast::http
