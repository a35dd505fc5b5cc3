#pragma once
// Asynchronous DNS lookups through c-ares (Debian's libc-ares): A and AAAA records of a name, and
// SRV records, each with the TTL the answer carried, many names at once.
//
// Used by the discovery thread (discovery/dns_discovery.h), which re-resolves the servers given
// by name as their answers expire. Every lookup is bounded by `timeout_ms` per try and
// `attempts` tries; a batch returns when every lookup in it has an answer or has failed.
//
// Threading: one resolver per thread; nothing here is shared. Never used on a worker.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ballast::discovery {

struct ResolverOptions {
  // "ip" or "ip:port" ("[v6]:port"); empty = the system's (/etc/resolv.conf), with /etc/hosts
  // consulted first as the C library does.
  std::vector<std::string> nameservers;
  uint64_t timeout_ms = 2'000;  // per try
  uint32_t attempts = 2;
};

struct SrvTarget {
  std::string target;  // a host name (no trailing dot)
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;
};

enum class LookupKind : uint8_t { addresses, srv };

struct LookupResult {
  bool ok = false;            // an answer came (possibly with no records: NODATA / NXDOMAIN)
  std::string error;          // when !ok: "SERVFAIL", "timeout", "connection refused", ...
  bool no_such_name = false;  // NXDOMAIN (ok stays true: an authoritative "none")
  uint32_t ttl_s = 0;         // the least TTL among the answer's records (0 when none)
  std::vector<std::string> addresses;  // kind addresses: IP literals, IPv4 first, no duplicates
  std::vector<SrvTarget> srv;          // kind srv: as the answer listed them
};

struct LookupRequest {
  std::string name;
  LookupKind kind = LookupKind::addresses;
};

class DnsResolver {
 public:
  // Throws std::runtime_error when c-ares cannot start or a nameserver is malformed.
  explicit DnsResolver(const ResolverOptions& options);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // Looks every request up at once; results in the requests' order. Blocks for at most about
  // timeout_ms × attempts.
  std::vector<LookupResult> lookup(const std::vector<LookupRequest>& requests);

 private:
  struct Channel;
  std::unique_ptr<Channel> channel_;
};

}  // namespace ballast::discovery
