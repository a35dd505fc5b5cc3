#include "edge/rate_limit_fields.h"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace ballast::edge {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000;

uint64_t seconds_up(uint64_t ns) noexcept {
  return (ns + kNsPerSecond - 1) / kNsPerSecond;
}

// Appends to text at `used`, returning a view of what it appended.
class Writer {
 public:
  explicit Writer(std::span<char> text) noexcept : text_(text) {}
  Writer& number(uint64_t value) noexcept {
    used_ = static_cast<size_t>(
        std::to_chars(text_.data() + used_, text_.data() + text_.size(), value).ptr - text_.data());
    return *this;
  }
  Writer& literal(std::string_view bytes) noexcept {
    used_ += bytes.copy(text_.data() + used_, text_.size() - used_);
    return *this;
  }
  std::string_view take() noexcept {
    const std::string_view value(text_.data() + start_, used_ - start_);
    start_ = used_;
    return value;
  }

 private:
  std::span<char> text_;
  size_t used_ = 0;
  size_t start_ = 0;
};

}  // namespace

void RateLimitFields::write(const config::RateLimitConfig& limit,
                            const RateVerdict& verdict) noexcept {
  Writer out(text_);
  const uint64_t period_s = std::max<uint64_t>(seconds_up(limit.period_ms * 1'000'000), 1);
  fields_[0] = {"Retry-After",
                out.number(std::max<uint64_t>(seconds_up(verdict.retry_after_ns), 1)).take()};
  fields_[1] = {"RateLimit-Limit", out.number(limit.burst).take()};
  fields_[2] = {"RateLimit-Remaining", out.number(verdict.remaining).take()};
  fields_[3] = {"RateLimit-Reset", out.number(seconds_up(verdict.reset_ns)).take()};
  fields_[4] = {"RateLimit-Policy", out.number(limit.requests)
                                        .literal(";w=")
                                        .number(period_s)
                                        .literal(";burst=")
                                        .number(limit.burst)
                                        .take()};
}

}  // namespace ballast::edge
