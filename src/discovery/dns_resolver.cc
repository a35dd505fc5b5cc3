#include "discovery/dns_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include "config/scalars.h"
#include "discovery/dns_answer.h"

namespace ballast::discovery {

namespace {

using Clock = std::chrono::steady_clock;

// An answer is untrusted: a server may list any number of records (a TCP answer holds up to
// ~4,000 A records). Beyond this many per name the rest are ignored.
constexpr size_t kMaxRecords = 1024;

// lookup() cancels what is still pending this long after timeout_ms × attempts: c-ares doubles
// the timeout on every round over the servers and tries each search-list name in turn, so its
// own bound can be several times the one the header promises.
constexpr uint64_t kDeadlineMarginMs = 100;

constexpr uint16_t kDnsPort = 53;
constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;
constexpr int kTypeSrv = 33;
constexpr int kClassIn = 1;

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const int status = ares_library_init(ARES_LIB_INIT_ALL);
    if (status != ARES_SUCCESS) {
      throw std::runtime_error(std::string("c-ares: ") + ares_strerror(status));
    }
  });
}

// "ip" (port 53), "ip:port" or "[v6]:port".
ares_addr_port_node parse_nameserver(const std::string& text) {
  std::string host = text;
  uint16_t port = kDnsPort;
  if (!config::is_ip_literal(text)) {
    const config::Parsed<config::Endpoint> endpoint =
        text.starts_with(':') ? config::Parsed<config::Endpoint>{} : config::parse_endpoint(text);
    if (!endpoint.value) {
      throw std::runtime_error("nameserver " + config::quoted_excerpt(text) +
                               ": expected IP, IP:PORT or [IPv6]:PORT");
    }
    host = endpoint.value->host;
    port = endpoint.value->port;
  }
  ares_addr_port_node node{};
  node.udp_port = port;
  node.tcp_port = port;
  if (inet_pton(AF_INET, host.c_str(), &node.addr.addr4) == 1) {
    node.family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), &node.addr.addr6) == 1) {
    node.family = AF_INET6;
  } else {
    throw std::runtime_error("nameserver " + config::quoted_excerpt(text) +
                             ": the host must be an IP address");
  }
  return node;
}

void set_nameservers(ares_channel channel, const std::vector<std::string>& nameservers) {
  std::vector<ares_addr_port_node> nodes;
  nodes.reserve(nameservers.size());
  for (const std::string& text : nameservers) {
    nodes.push_back(parse_nameserver(text));
  }
  for (size_t i = 0; i + 1 < nodes.size(); ++i) {
    nodes[i].next = &nodes[i + 1];
  }
  const int status = ares_set_servers_ports(channel, nodes.data());
  if (status != ARES_SUCCESS) {
    throw std::runtime_error(std::string("c-ares nameservers: ") + ares_strerror(status));
  }
}

// The text c-ares would give an IP literal, or nullopt when `name` is not one.
std::optional<std::string> ip_literal(const std::string& name) {
  std::array<unsigned char, sizeof(in6_addr)> binary{};
  std::array<char, INET6_ADDRSTRLEN> text{};
  for (const int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, name.c_str(), binary.data()) == 1 &&
        inet_ntop(family, binary.data(), text.data(), text.size()) != nullptr) {
      return std::string(text.data());
    }
  }
  return std::nullopt;
}

// The words LookupResult::error carries.
std::string error_word(int status) {
  switch (status) {
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:  // lookup() cancels at its deadline
      return "timeout";
    case ARES_ESERVFAIL:
      return "SERVFAIL";
    case ARES_EREFUSED:
      return "REFUSED";
    case ARES_ENOTIMP:
      return "NOTIMP";
    case ARES_EFORMERR:
      return "FORMERR";
    case ARES_ECONNREFUSED:
      // c-ares 1.18 gives this when every try ended in a SERVFAIL, REFUSED or NOTIMP answer (it
      // moves on to the next server without saying which) or in a socket error; later releases
      // report ARES_ESERVFAIL and the like instead.
      return "server failure";
    case ARES_EBADRESP:
      return "malformed answer";
    case ARES_EBADNAME:
      return "bad name";
    default:
      return ares_strerror(status);
  }
}

// Statuses that are answers: records, NODATA or NXDOMAIN.
bool is_answer(int status) {
  return status == ARES_SUCCESS || status == ARES_ENODATA || status == ARES_ENOTFOUND;
}

// What one c-ares query (A, AAAA or SRV of one name) came back with; filled in its callback,
// since the answer's buffer lives only for the callback's duration.
struct Query {
  Query(std::string name_asked, int record_type, int& pending_count)
      : name(std::move(name_asked)), type(record_type), pending(&pending_count) {}

  std::string name;
  int type;
  int* pending;  // lookup()'s count of queries not yet called back
  int status = ARES_ECANCELLED;
  std::optional<uint32_t> ttl_s;  // the least TTL among the records read
  std::vector<std::string> addresses;
  std::vector<SrvTarget> srv;

  void note_ttl(uint32_t ttl) { ttl_s = std::min(ttl_s.value_or(ttl), ttl); }
};

void read_a(Query& query, const unsigned char* message, int length) {
  std::vector<ares_addrttl> records(kMaxRecords);
  int count = static_cast<int>(records.size());
  query.status = ares_parse_a_reply(message, length, nullptr, records.data(), &count);
  std::array<char, INET_ADDRSTRLEN> text{};
  for (int i = 0; query.status == ARES_SUCCESS && i < count; ++i) {
    inet_ntop(AF_INET, &records[i].ipaddr, text.data(), text.size());
    query.addresses.emplace_back(text.data());
    query.note_ttl(sane_ttl(records[i].ttl));
  }
}

void read_aaaa(Query& query, const unsigned char* message, int length) {
  std::vector<ares_addr6ttl> records(kMaxRecords);
  int count = static_cast<int>(records.size());
  query.status = ares_parse_aaaa_reply(message, length, nullptr, records.data(), &count);
  std::array<char, INET6_ADDRSTRLEN> text{};
  for (int i = 0; query.status == ARES_SUCCESS && i < count; ++i) {
    inet_ntop(AF_INET6, &records[i].ip6addr, text.data(), text.size());
    query.addresses.emplace_back(text.data());
    query.note_ttl(sane_ttl(records[i].ttl));
  }
}

void read_srv(Query& query, const unsigned char* message, int length) {
  ares_srv_reply* records = nullptr;
  query.status = ares_parse_srv_reply(message, length, &records);
  for (const ares_srv_reply* record = records; record != nullptr && query.srv.size() < kMaxRecords;
       record = record->next) {
    // RFC 2782: the target "." says the service is decidedly not available by this name.
    if (record->host[0] != '\0') {
      query.srv.push_back({record->host, record->port, record->priority, record->weight});
    }
  }
  ares_free_data(records);
  if (query.status == ARES_SUCCESS) {
    query.ttl_s = least_answer_ttl({message, static_cast<size_t>(length)});
  }
}

void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* message, int length) {
  Query& query = *static_cast<Query*>(arg);
  query.status = status;
  if (status == ARES_SUCCESS) {
    if (query.type == kTypeA) {
      read_a(query, message, length);
    } else if (query.type == kTypeAaaa) {
      read_aaaa(query, message, length);
    } else {
      read_srv(query, message, length);
    }
    if (query.status == ARES_EBADNAME) {  // a name in the answer that does not expand
      query.status = ARES_EBADRESP;
    }
  }
  --*query.pending;
}

// Sets ok / error / no_such_name from the statuses of a request's queries: one failure fails
// the lookup (a part of the answer would shrink the server set on a passing SERVFAIL), and the
// name does not exist only when every query says so.
void set_outcome(LookupResult& result, std::span<const Query> queries) {
  for (const Query& query : queries) {
    if (!is_answer(query.status)) {
      result = LookupResult();
      result.error = error_word(query.status);
      return;
    }
  }
  result.ok = true;
  result.no_such_name = std::ranges::all_of(
      queries, [](const Query& query) { return query.status == ARES_ENOTFOUND; });
}

LookupResult addresses_result(std::span<const Query> queries) {
  LookupResult result;
  set_outcome(result, queries);
  if (!result.ok) {
    return result;
  }
  std::unordered_set<std::string> seen;
  std::optional<uint32_t> ttl_s;
  for (const Query& query : queries) {  // A before AAAA
    for (const std::string& address : query.addresses) {
      if (result.addresses.size() < kMaxRecords && seen.insert(address).second) {
        result.addresses.push_back(address);
      }
    }
    if (query.ttl_s) {
      ttl_s = std::min(ttl_s.value_or(*query.ttl_s), *query.ttl_s);
    }
  }
  result.ttl_s = ttl_s.value_or(0);
  return result;
}

LookupResult srv_result(const Query& query) {
  LookupResult result;
  set_outcome(result, {&query, 1});
  if (result.ok) {
    result.srv = query.srv;
    result.ttl_s = query.srv.empty() ? 0 : query.ttl_s.value_or(0);
  }
  return result;
}

// Addresses known without asking: an IP literal, or the hosts file's entries (no TTL).
LookupResult known_addresses(std::vector<std::string> addresses) {
  LookupResult result;
  result.ok = true;
  result.addresses = std::move(addresses);
  return result;
}

}  // namespace

struct DnsResolver::Channel {
  ares_channel channel = nullptr;
  uint64_t budget_ms = 0;     // timeout_ms × attempts + margin: lookup()'s bound
  bool system_config = true;  // no nameservers given: resolv.conf, and /etc/hosts first

  ~Channel() {
    if (channel != nullptr) {
      ares_destroy(channel);
    }
  }

  std::vector<std::string> hosts_file_addresses(const std::string& name) const;
  void run(const int& pending, Clock::time_point deadline);
  void poll_once(Clock::time_point deadline);
};

// /etc/hosts, as the C library reads it before DNS: IPv4 entries first. ares_search does not
// read the file itself (only ares_gethostbyname and ares_getaddrinfo do).
std::vector<std::string> DnsResolver::Channel::hosts_file_addresses(const std::string& name) const {
  std::vector<std::string> addresses;
  for (const int family : {AF_INET, AF_INET6}) {
    hostent* host = nullptr;
    if (ares_gethostbyname_file(channel, name.c_str(), family, &host) != ARES_SUCCESS) {
      continue;
    }
    std::array<char, INET6_ADDRSTRLEN> text{};
    for (char** address = host->h_addr_list; *address != nullptr; ++address) {
      if (inet_ntop(host->h_addrtype, *address, text.data(), text.size()) != nullptr &&
          std::ranges::find(addresses, text.data()) == addresses.end()) {
        addresses.emplace_back(text.data());
      }
    }
    ares_free_hostent(host);
  }
  return addresses;
}

// Drives the channel until every query has called back, or cancels what is left at `deadline`
// (ares_cancel calls each one back with ARES_ECANCELLED before returning).
void DnsResolver::Channel::run(const int& pending, Clock::time_point deadline) {
  while (pending > 0) {
    if (Clock::now() >= deadline) {
      ares_cancel(channel);
      return;
    }
    poll_once(deadline);
  }
}

// One poll(2) over the channel's sockets (poll, not select: the process may hold descriptors
// above FD_SETSIZE), bounded by c-ares's next timeout and the deadline, then one round of
// c-ares processing.
void DnsResolver::Channel::poll_once(Clock::time_point deadline) {
  std::array<ares_socket_t, ARES_GETSOCK_MAXNUM> sockets{};
  const int bits = ares_getsock(channel, sockets.data(), ARES_GETSOCK_MAXNUM);
  std::array<pollfd, ARES_GETSOCK_MAXNUM> fds{};
  nfds_t count = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    const short events = static_cast<short>((ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
                                            (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0));
    if (events != 0) {
      fds[count++] = pollfd{.fd = sockets[i], .events = events, .revents = 0};
    }
  }
  const auto left = std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()),
                             std::chrono::milliseconds(0));
  timeval limit{.tv_sec = left.count() / 1000, .tv_usec = (left.count() % 1000) * 1000};
  timeval wait{};
  const timeval* next = ares_timeout(channel, &limit, &wait);
  const int wait_ms = static_cast<int>(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
  if (poll(fds.data(), count, wait_ms) <= 0) {
    ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts (or EINTR: none)
    return;
  }
  for (nfds_t i = 0; i < count; ++i) {
    const bool readable = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
    const bool writable = (fds[i].revents & POLLOUT) != 0;
    if (readable || writable) {
      ares_process_fd(channel, readable ? fds[i].fd : ARES_SOCKET_BAD,
                      writable ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
}

DnsResolver::DnsResolver(const ResolverOptions& options) : channel_(std::make_unique<Channel>()) {
  init_library_once();
  const uint64_t timeout_ms = std::clamp<uint64_t>(options.timeout_ms, 1, INT_MAX);
  const uint32_t attempts = std::clamp<uint32_t>(options.attempts, 1, 100);  // c-ares takes ints
  channel_->budget_ms = timeout_ms * attempts + kDeadlineMarginMs;
  channel_->system_config = options.nameservers.empty();

  ares_options settings{};
  settings.timeout = static_cast<int>(timeout_ms);
  settings.tries = static_cast<int>(attempts);
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  if (!channel_->system_config) {
    // Given nameservers answer for the name exactly as written: no resolv.conf search list,
    // no HOSTALIASES.
    settings.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    mask |= ARES_OPT_FLAGS;
  }
  const int status = ares_init_options(&channel_->channel, &settings, mask);
  if (status != ARES_SUCCESS) {
    throw std::runtime_error(std::string("c-ares: ") + ares_strerror(status));
  }
  if (!channel_->system_config) {
    set_nameservers(channel_->channel, options.nameservers);
  }
}

DnsResolver::~DnsResolver() = default;

std::vector<LookupResult> DnsResolver::lookup(const std::vector<LookupRequest>& requests) {
  std::vector<LookupResult> results(requests.size());
  // Each request's queries, at fixed addresses (c-ares holds pointers to them): A and AAAA for
  // addresses, SRV alone; none when the answer is known without asking (literal, hosts file).
  std::vector<std::vector<Query>> queries(requests.size());
  int pending = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const LookupRequest& request = requests[i];
    if (request.kind == LookupKind::srv) {
      queries[i].emplace_back(request.name, kTypeSrv, pending);
      continue;
    }
    if (std::optional<std::string> literal = ip_literal(request.name)) {
      results[i] = known_addresses({std::move(*literal)});
      continue;
    }
    if (channel_->system_config) {
      std::vector<std::string> addresses = channel_->hosts_file_addresses(request.name);
      if (!addresses.empty()) {
        results[i] = known_addresses(std::move(addresses));
        continue;
      }
    }
    queries[i].emplace_back(request.name, kTypeA, pending);
    queries[i].emplace_back(request.name, kTypeAaaa, pending);
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(channel_->budget_ms);
  for (std::vector<Query>& request_queries : queries) {
    for (Query& query : request_queries) {
      ++pending;  // before the call: c-ares may call back at once (a malformed name)
      ares_search(channel_->channel, query.name.c_str(), kClassIn, query.type, on_answer, &query);
    }
  }
  channel_->run(pending, deadline);
  for (size_t i = 0; i < requests.size(); ++i) {
    if (queries[i].empty()) {
      continue;
    }
    results[i] = requests[i].kind == LookupKind::srv ? srv_result(queries[i].front())
                                                     : addresses_result(queries[i]);
  }
  return results;
}

}  // namespace ballast::discovery
