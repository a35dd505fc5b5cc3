// libFuzzer target: what a DNS server answers, as ballast reads it — c-ares's A, AAAA and SRV
// parsers (Debian's libc-ares) and ballast's own walk for the SRV records' TTLs
// (discovery/dns_answer.h). Contract checked: no crash, no read out of bounds (ASan), and a TTL
// found only in a message long enough to hold the header and one record.

#include <ares.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "discovery/dns_answer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::optional<uint32_t> ttl = ballast::discovery::least_answer_ttl({data, size});
  if (ttl && size < 12 + 1 + 10) {
    std::abort();  // a TTL read from bytes the message does not have
  }
  const int length = static_cast<int>(size);
  ares_addrttl a[8];
  int a_count = 8;
  ares_parse_a_reply(data, length, nullptr, a, &a_count);
  ares_addr6ttl aaaa[8];
  int aaaa_count = 8;
  ares_parse_aaaa_reply(data, length, nullptr, aaaa, &aaaa_count);
  ares_srv_reply* srv = nullptr;
  if (ares_parse_srv_reply(data, length, &srv) == ARES_SUCCESS) {
    ares_free_data(srv);
  }
  return 0;
}
