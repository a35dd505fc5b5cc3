#include "discovery/dns_answer.h"

#include <algorithm>
#include <climits>

namespace ballast::discovery {

uint32_t sane_ttl(int64_t ttl) {
  return ttl < 0 || ttl > INT32_MAX ? 0 : static_cast<uint32_t>(ttl);
}

namespace {

// The offset just past the (possibly compressed) name at `at`, or nullopt when the message ends
// first or the label type is not one of RFC 1035's. Pointers are not followed: only skipped.
std::optional<size_t> skip_name(std::span<const unsigned char> message, size_t at) {
  while (at < message.size()) {
    const unsigned char length = message[at];
    if ((length & 0xC0) == 0xC0) {
      return at + 2 <= message.size() ? std::optional<size_t>(at + 2) : std::nullopt;
    }
    if ((length & 0xC0) != 0) {
      return std::nullopt;
    }
    at += 1 + length;
    if (length == 0) {
      return at;
    }
  }
  return std::nullopt;
}

uint32_t read_u32(std::span<const unsigned char> message, size_t at) {
  return (uint32_t{message[at]} << 24) | (uint32_t{message[at + 1]} << 16) |
         (uint32_t{message[at + 2]} << 8) | uint32_t{message[at + 3]};
}

uint16_t read_u16(std::span<const unsigned char> message, size_t at) {
  return static_cast<uint16_t>((message[at] << 8) | message[at + 1]);
}

}  // namespace

// A walk over header (12 bytes), questions (name, type, class) and answers (name, type, class,
// TTL, rdata).
std::optional<uint32_t> least_answer_ttl(std::span<const unsigned char> message) {
  constexpr size_t kHeaderBytes = 12;
  if (message.size() < kHeaderBytes) {
    return std::nullopt;
  }
  const uint16_t questions = read_u16(message, 4);
  const uint16_t answers = read_u16(message, 6);
  size_t at = kHeaderBytes;
  for (uint16_t i = 0; i < questions; ++i) {
    const std::optional<size_t> end = skip_name(message, at);
    if (!end || *end + 4 > message.size()) {
      return std::nullopt;
    }
    at = *end + 4;
  }
  std::optional<uint32_t> least;
  for (uint16_t i = 0; i < answers; ++i) {
    const std::optional<size_t> end = skip_name(message, at);
    if (!end || *end + 10 > message.size()) {
      return std::nullopt;
    }
    const uint32_t ttl = sane_ttl(read_u32(message, *end + 4));
    least = std::min(least.value_or(ttl), ttl);
    at = *end + 10 + read_u16(message, *end + 8);
  }
  return least;
}

}  // namespace ballast::discovery
