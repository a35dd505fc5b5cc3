#include "discovery/dns_resolver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ballast::discovery {
namespace {

// --- DNS messages built by hand -------------------------------------------------------------

constexpr uint16_t kA = 1;
constexpr uint16_t kAaaa = 28;
constexpr uint16_t kSrv = 33;
constexpr uint8_t kNoError = 0;
constexpr uint8_t kServFail = 2;
constexpr uint8_t kNxDomain = 3;

struct Question {
  std::string name;  // dotted, as asked
  uint16_t type = 0;
  std::string wire;  // the query as received
  size_t end = 0;    // the offset just past its question
};

struct Record {
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;
};

void put16(std::string& out, uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xFF));
}

void put32(std::string& out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value >> 16));
  put16(out, static_cast<uint16_t>(value & 0xFFFF));
}

std::string encode_name(const std::string& dotted) {
  std::string out;
  size_t start = 0;
  while (start < dotted.size()) {
    const size_t dot = std::min(dotted.find('.', start), dotted.size());
    out.push_back(static_cast<char>(dot - start));
    out.append(dotted, start, dot - start);
    start = dot + 1;
  }
  out.push_back('\0');
  return out;
}

std::optional<Question> parse_question(const std::string& wire) {
  Question question;
  question.wire = wire;
  size_t at = 12;
  while (at < wire.size() && wire[at] != '\0') {
    const size_t length = static_cast<unsigned char>(wire[at]);
    question.name += (question.name.empty() ? "" : ".") + wire.substr(at + 1, length);
    at += 1 + length;
  }
  if (at + 5 > wire.size()) {
    return std::nullopt;
  }
  question.type = static_cast<uint16_t>((static_cast<unsigned char>(wire[at + 1]) << 8) |
                                        static_cast<unsigned char>(wire[at + 2]));
  question.end = at + 5;
  return question;
}

// The answer to `question`: its id and question echoed, flags QR AA RD RA, then the records
// (owner: a pointer to the question's name).
std::string reply(const Question& question, uint8_t rcode, const std::vector<Record>& records) {
  std::string out = question.wire.substr(0, 2);
  put16(out, static_cast<uint16_t>(0x8580 | rcode));
  put16(out, 1);
  put16(out, static_cast<uint16_t>(records.size()));
  put32(out, 0);  // no authority or additional records
  out.append(question.wire, 12, question.end - 12);
  for (const Record& record : records) {
    put16(out, 0xC00C);
    put16(out, record.type);
    put16(out, 1);  // IN
    put32(out, record.ttl);
    put16(out, static_cast<uint16_t>(record.rdata.size()));
    out += record.rdata;
  }
  return out;
}

Record a(const std::string& ip, uint32_t ttl) {
  in_addr address{};
  inet_pton(AF_INET, ip.c_str(), &address);
  return {kA, ttl, std::string(reinterpret_cast<const char*>(&address), sizeof(address))};
}

Record aaaa(const std::string& ip, uint32_t ttl) {
  in6_addr address{};
  inet_pton(AF_INET6, ip.c_str(), &address);
  return {kAaaa, ttl, std::string(reinterpret_cast<const char*>(&address), sizeof(address))};
}

Record srv(uint16_t priority, uint16_t weight, uint16_t port, const std::string& target,
           uint32_t ttl) {
  std::string rdata;
  put16(rdata, priority);
  put16(rdata, weight);
  put16(rdata, port);
  return {kSrv, ttl, rdata + encode_name(target)};
}

// --- a DNS server on 127.0.0.1 --------------------------------------------------------------

// Answers each UDP query with what `answer` returns for it; nullopt: no answer at all.
using Answerer = std::function<std::optional<std::string>(const Question&)>;

class FakeDnsServer {
 public:
  explicit FakeDnsServer(Answerer answer) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    const timeval tick{.tv_sec = 0, .tv_usec = 20'000};  // how often the thread checks `stop_`
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick)) != 0) {
      throw std::runtime_error("cannot bind a UDP socket on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeDnsServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }

  std::string nameserver() const { return "127.0.0.1:" + std::to_string(port_); }
  int queries() const { return queries_; }

 private:
  void serve() {
    char buffer[512];
    while (!stop_) {
      sockaddr_in peer{};
      socklen_t length = sizeof(peer);
      const ssize_t got =
          recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&peer), &length);
      const std::optional<Question> question =
          got > 0 ? parse_question(std::string(buffer, static_cast<size_t>(got))) : std::nullopt;
      if (!question) {
        continue;
      }
      ++queries_;
      if (const std::optional<std::string> out = answer_(*question)) {
        sendto(fd_, out->data(), out->size(), 0, reinterpret_cast<sockaddr*>(&peer), length);
      }
    }
  }

  Answerer answer_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_ = false;
  std::atomic<int> queries_ = 0;
  std::thread thread_;
};

ResolverOptions options(std::vector<std::string> nameservers, uint64_t timeout_ms = 1'000) {
  ResolverOptions options;
  options.nameservers = std::move(nameservers);
  options.timeout_ms = timeout_ms;
  options.attempts = 1;  // so that a test missing an answer fails fast
  return options;
}

DnsResolver resolver_for(const FakeDnsServer& server, uint64_t timeout_ms = 1'000) {
  return DnsResolver(options({server.nameserver()}, timeout_ms));
}

LookupResult lookup_one(DnsResolver& resolver, const std::string& name,
                        LookupKind kind = LookupKind::addresses) {
  return resolver.lookup({{name, kind}}).front();
}

// --- the tests -------------------------------------------------------------------------------

TEST(DnsResolver, AddressesIpv4FirstWithoutDuplicatesAndTheLeastTtl) {
  FakeDnsServer server([](const Question& q) {
    if (q.type == kA) {
      return reply(q, kNoError, {a("10.0.0.2", 30), a("10.0.0.1", 20), a("10.0.0.2", 30)});
    }
    return reply(q, kNoError, {aaaa("2001:db8::1", 40)});
  });
  DnsResolver resolver = resolver_for(server);
  const LookupResult result = lookup_one(resolver, "api.test");
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.no_such_name);
  EXPECT_EQ(result.addresses, (std::vector<std::string>{"10.0.0.2", "10.0.0.1", "2001:db8::1"}));
  EXPECT_EQ(result.ttl_s, 20u);
  EXPECT_EQ(server.queries(), 2);  // A and AAAA
}

TEST(DnsResolver, NxdomainIsAnAnswerWithNoSuchName) {
  FakeDnsServer server([](const Question& q) { return reply(q, kNxDomain, {}); });
  DnsResolver resolver = resolver_for(server);
  const LookupResult result = lookup_one(resolver, "gone.test");
  EXPECT_TRUE(result.ok);
  EXPECT_TRUE(result.no_such_name);
  EXPECT_TRUE(result.addresses.empty());
  EXPECT_EQ(result.ttl_s, 0u);
}

TEST(DnsResolver, NodataIsAnAnswerWithNoRecords) {
  FakeDnsServer server([](const Question& q) {
    return q.type == kA ? reply(q, kNoError, {a("10.0.0.1", 5)}) : reply(q, kNoError, {});
  });
  DnsResolver resolver = resolver_for(server);
  const LookupResult v4_only = lookup_one(resolver, "v4.test");
  ASSERT_TRUE(v4_only.ok);
  EXPECT_EQ(v4_only.addresses, std::vector<std::string>{"10.0.0.1"});
  EXPECT_EQ(v4_only.ttl_s, 5u);
  const LookupResult no_srv = lookup_one(resolver, "_http._tcp.v4.test", LookupKind::srv);
  EXPECT_TRUE(no_srv.ok);
  EXPECT_FALSE(no_srv.no_such_name);
  EXPECT_TRUE(no_srv.srv.empty());
}

TEST(DnsResolver, ServfailOfEitherFamilyFailsTheLookup) {
  FakeDnsServer server([](const Question& q) {
    return q.type == kAaaa ? reply(q, kServFail, {}) : reply(q, kNoError, {a("10.0.0.1", 5)});
  });
  DnsResolver resolver = resolver_for(server);
  const LookupResult result = lookup_one(resolver, "half.test");
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.addresses.empty());
  // c-ares 1.18 reports SERVFAIL as it does a refused connection; later releases say SERVFAIL.
  EXPECT_TRUE(result.error == "server failure" || result.error == "SERVFAIL") << result.error;
}

TEST(DnsResolver, SilentServerTimesOutWithinTheBound) {
  FakeDnsServer server([](const Question&) { return std::nullopt; });
  DnsResolver resolver = resolver_for(server, 200);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<LookupResult> results =
      resolver.lookup({{"a.test", LookupKind::addresses}, {"_x._tcp.a.test", LookupKind::srv}});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  for (const LookupResult& result : results) {
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.error, "timeout");
  }
  EXPECT_GE(elapsed, std::chrono::milliseconds(190));
  EXPECT_LT(elapsed, std::chrono::milliseconds(900));
}

TEST(DnsResolver, SrvRecordsInTheirOrderWithTheLeastTtl) {
  FakeDnsServer server([](const Question& q) {
    return reply(q, kNoError,
                 {srv(10, 60, 8080, "b.api.test", 60), srv(5, 40, 8081, "a.api.test", 15),
                  srv(0, 0, 0, "", 1)});  // target ".": not available, left out
  });
  DnsResolver resolver = resolver_for(server);
  const LookupResult result = lookup_one(resolver, "_http._tcp.api.test", LookupKind::srv);
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_EQ(result.srv.size(), 2u);
  EXPECT_EQ(result.srv[0].target, "b.api.test");
  EXPECT_EQ(result.srv[0].port, 8080);
  EXPECT_EQ(result.srv[0].priority, 10);
  EXPECT_EQ(result.srv[0].weight, 60);
  EXPECT_EQ(result.srv[1].target, "a.api.test");
  EXPECT_EQ(result.ttl_s, 1u);  // the least among the answer's records, the left-out one too
}

TEST(DnsResolver, IpLiteralsAreAnsweredWithoutAsking) {
  FakeDnsServer server([](const Question&) { return std::nullopt; });
  DnsResolver resolver = resolver_for(server);
  const std::vector<LookupResult> results = resolver.lookup(
      {{"192.0.2.7", LookupKind::addresses}, {"2001:DB8:0::7", LookupKind::addresses}});
  ASSERT_TRUE(results[0].ok);
  EXPECT_EQ(results[0].addresses, std::vector<std::string>{"192.0.2.7"});
  EXPECT_EQ(results[0].ttl_s, 0u);
  ASSERT_TRUE(results[1].ok);
  EXPECT_EQ(results[1].addresses, std::vector<std::string>{"2001:db8::7"});
  EXPECT_EQ(server.queries(), 0);
}

TEST(DnsResolver, BatchResultsComeInTheRequestsOrder) {
  FakeDnsServer server([](const Question& q) {
    if (q.name == "gone.test") {
      return reply(q, kNxDomain, {});
    }
    if (q.type == kSrv) {
      return reply(q, kNoError, {srv(1, 1, 9000, "web.test", 9)});
    }
    return q.type == kA ? reply(q, kNoError, {a("10.0.0.9", 9)}) : reply(q, kNoError, {});
  });
  DnsResolver resolver = resolver_for(server);
  const std::vector<LookupResult> results = resolver.lookup({{"gone.test", LookupKind::addresses},
                                                             {"_w._tcp.test", LookupKind::srv},
                                                             {"web.test", LookupKind::addresses}});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].no_such_name);
  ASSERT_EQ(results[1].srv.size(), 1u);
  EXPECT_EQ(results[1].srv[0].target, "web.test");
  EXPECT_EQ(results[2].addresses, std::vector<std::string>{"10.0.0.9"});
}

// Every cut through the answer records (the question stays whole, or c-ares would not take the
// message as the answer at all) is a failed lookup, never a crash or a record read past the end.
TEST(DnsResolver, TruncatedRecordsFailTheLookup) {
  const auto full = [](const Question& q) {
    return q.type == kSrv ? reply(q, kNoError, {srv(1, 2, 80, "x.test", 5), srv(1, 2, 81, "y", 5)})
                          : reply(q, kNoError, {a("10.0.0.1", 5), aaaa("::1", 5)});
  };
  // "cutN.test" is answered without its last N bytes.
  FakeDnsServer server([&](const Question& q) {
    const std::string whole = full(q);
    const size_t cut = std::stoul(q.name.substr(3));
    return whole.substr(0, std::max(whole.size() - cut, q.end));
  });
  DnsResolver resolver = resolver_for(server);
  std::vector<LookupRequest> requests;
  for (int cut = 1; cut <= 40; ++cut) {
    requests.push_back({"cut" + std::to_string(cut) + ".test", LookupKind::addresses});
    requests.push_back({"cut" + std::to_string(cut) + ".test", LookupKind::srv});
  }
  for (const LookupResult& result : resolver.lookup(requests)) {
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.error, "malformed answer");
  }
}

TEST(DnsResolver, MalformedNameserversAreRefused) {
  for (const std::string bad :
       {"dns.test", "10.0.0.1:0", "10.0.0.1:65536", "[::1]", ":53", "localhost:53"}) {
    EXPECT_THROW(DnsResolver(options({bad})), std::runtime_error) << bad;
  }
  EXPECT_NO_THROW(DnsResolver(options({"10.0.0.1", "10.0.0.2:5353", "[::1]:53", "::1"})));
}

// No nameserver given: /etc/hosts is read first, as the C library does; its entries carry no
// TTL. (Needs only the hosts file, which names localhost everywhere.)
TEST(DnsResolver, SystemConfigurationReadsTheHostsFileFirst) {
  DnsResolver resolver(options({}, 200));
  const LookupResult result = lookup_one(resolver, "localhost");
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_FALSE(result.addresses.empty());
  EXPECT_EQ(result.ttl_s, 0u);
}

}  // namespace
}  // namespace ballast::discovery
