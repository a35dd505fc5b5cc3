#pragma once
// Appends text to a caller's fixed buffer, remembering whether it ran out of room, so the
// serializers can write unconditionally and check once at the end.
//
// Threading: a local of one serializing call. Internal to the http module.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace ballast::http {

class SpanWriter {
 public:
  explicit SpanWriter(std::span<char> out) noexcept : out_(out) {}

  void put(std::string_view text) noexcept {
    if (text.empty()) {
      return;
    }
    if (overflow_ || text.size() > out_.size() - size_) {
      overflow_ = true;
      return;
    }
    std::memcpy(out_.data() + size_, text.data(), text.size());
    size_ += text.size();
  }

  void put_decimal(uint64_t value) noexcept {
    char digits[20];
    size_t count = 0;
    do {
      digits[sizeof(digits) - 1 - count++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    put({digits + sizeof(digits) - count, count});
  }

  // "name: value" CRLF
  void put_field(std::string_view name, std::string_view value) noexcept {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }

  // Bytes written, or 0 if the output was too small for all of it.
  size_t finish() const noexcept { return overflow_ ? 0 : size_; }

 private:
  std::span<char> out_;
  size_t size_ = 0;
  bool overflow_ = false;
};

}  // namespace ballast::http
