#pragma once
// The fields of a 429 Too Many Requests (RFC 6585 §4): Retry-After (RFC 9110 §10.2.3, whole
// seconds, at least 1), and the RateLimit fields of the IETF httpapi draft in the spelling most
// clients read today (draft 07): RateLimit-Limit (the burst), RateLimit-Remaining (0),
// RateLimit-Reset (seconds until the whole burst is back) and RateLimit-Policy
// ("REQUESTS;w=SECONDS;burst=BURST").
//
// Threading: a value per exchange. Cost: a few integer formats into its own buffer, no
// allocation.

#include <array>
#include <cstddef>
#include <span>

#include "config/config.h"
#include "edge/rate_table.h"
#include "http/head.h"

namespace ballast::edge {

class RateLimitFields {
 public:
  // Writes the fields for `limit`'s refusal `verdict` (the views stay valid until the next).
  void write(const config::RateLimitConfig& limit, const RateVerdict& verdict) noexcept;
  std::span<const http::Header> fields() const noexcept { return fields_; }

 private:
  std::array<char, 128> text_{};  // the values, one after another
  std::array<http::Header, 5> fields_{};
};

}  // namespace ballast::edge
