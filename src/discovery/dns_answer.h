#pragma once
// What ballast reads from a DNS answer itself, beside c-ares: the TTLs of an SRV answer's records
// (c-ares 1.18's ares_parse_srv_reply reads none). The message is untrusted: every read is
// bounds-checked, and the fuzzer (fuzz/dns_answer_fuzz.cc) feeds it anything.
//
// Threading: pure functions.

#include <cstdint>
#include <optional>
#include <span>

namespace ballast::discovery {

// RFC 2181 section 8: a TTL with the top bit set is read as zero. c-ares hands TTLs out as int,
// so those arrive negative.
uint32_t sane_ttl(int64_t ttl);

// The least TTL among the answer section's records, or nullopt when there are none or the
// message is cut short.
std::optional<uint32_t> least_answer_ttl(std::span<const unsigned char> message);

}  // namespace ballast::discovery
