#include "discovery/etcd_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "discovery/etcd_json.h"

// The JSON side against answers captured from etcd 3.4.23's gateway, and the client against
// stand-in members: loopback listeners that answer each connection with scripted bytes. No etcd
// is needed; every wait is bounded.

namespace ballast::discovery {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kWaitMs = 5'000;

// ---- answers captured from etcd 3.4.23 -------------------------------------------------------

// POST /v3/kv/range {"key": "/svc/", "range_end": "/svc0"} with /svc/a = {"host":"h"}.
constexpr std::string_view kRangeAnswer =
    R"({"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952",)"
    R"("revision":"2","raft_term":"2"},"kvs":[{"key":"L3N2Yy9h","create_revision":"2",)"
    R"("mod_revision":"2","version":"1","value":"eyJob3N0IjoiaCJ9"}],"count":"1"})";
// The same range, empty: proto3's JSON leaves out "kvs" and "count".
constexpr std::string_view kEmptyRangeAnswer =
    R"({"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952",)"
    R"("revision":"2","raft_term":"2"}})";
constexpr std::string_view kLeaseGrantAnswer =
    R"({"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952",)"
    R"("revision":"2","raft_term":"2"},"ID":"2324035846280547081","TTL":"5"})";
constexpr std::string_view kKeepAliveMessage =
    R"({"result":{"header":{"cluster_id":"324952591200643719",)"
    R"("member_id":"3319814642761637952","revision":"2","raft_term":"2"},)"
    R"("ID":"2324035846280547083","TTL":"5"}})";
// A keepalive of a revoked lease: no TTL.
constexpr std::string_view kKeepAliveLostMessage =
    R"({"result":{"header":{"cluster_id":"324952591200643719",)"
    R"("member_id":"3319814642761637952","revision":"2","raft_term":"2"},)"
    R"("ID":"2324035846280547088"}})";
constexpr std::string_view kWatchCreated =
    R"({"result":{"header":{"cluster_id":"324952591200643719",)"
    R"("member_id":"3319814642761637952","revision":"2","raft_term":"2"},"created":true}})";
constexpr std::string_view kWatchPut =
    R"({"result":{"header":{"cluster_id":"324952591200643719",)"
    R"("member_id":"3319814642761637952","revision":"3","raft_term":"2"},"events":[{"kv":)"
    R"({"key":"L3N2Yy9i","create_revision":"3","mod_revision":"3","version":"1",)"
    R"("value":"eHl6"}}]}})";
constexpr std::string_view kWatchDelete =
    R"({"result":{"header":{"cluster_id":"324952591200643719",)"
    R"("member_id":"3319814642761637952","revision":"4","raft_term":"2"},"events":[{"type":)"
    R"("DELETE","kv":{"key":"L3N2Yy9i","mod_revision":"4"}}]}})";
constexpr std::string_view kWatchCompacted =
    R"({"result":{"header":{"cluster_id":"324952591200643719",)"
    R"("member_id":"3319814642761637952","raft_term":"2"},"canceled":true,)"
    R"("compact_revision":"4"}})";
// What a member that lost its leader sends on a watch opened with "hasleader" (no "\n" after).
constexpr std::string_view kStreamNoLeader =
    R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader",)"
    R"("http_status":"Service Unavailable"}})";
constexpr std::string_view kLeaseNotFound =
    R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested )"
    R"(lease not found","code":5})";

// ---- HTTP framing for the stand-in members ---------------------------------------------------

std::string chunk(std::string_view data) {
  char size[20];
  snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

std::string chunked_head(int status = 200, std::string_view reason = "OK") {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
}

std::string answer_with_length(std::string_view body, int status = 200,
                               std::string_view reason = "OK") {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// How the gateway streams: each message in its own chunk, a "\n" after it.
std::string stream_message(std::string_view message) {
  return chunk(std::string(message) + "\n");
}

// One etcd member played by the test: each connection it accepts, in turn, gets the next
// scripted answer — its pieces written 20 ms apart (so the client reads them separately), then
// a close; an answer that holds the connection closes it only once the client has, or when the
// member is destroyed.
class FakeMember {
 public:
  struct Answer {
    std::vector<std::string> pieces;
    bool hold_open = false;
  };

  explicit FakeMember(std::vector<Answer> answers) : answers_(std::move(answers)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listener_, 16), 0);
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    EXPECT_EQ(pipe(stop_pipe_), 0);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeMember() {
    EXPECT_EQ(write(stop_pipe_[1], "x", 1), 1);
    thread_.join();
    close(listener_);
    close(stop_pipe_[0]);
    close(stop_pipe_[1]);
  }

  EtcdEndpoint endpoint() const { return {"127.0.0.1", port_}; }

  std::vector<std::string> requests() {
    const std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  // Waits for `fd` to be readable; false when the member is being destroyed or after kWaitMs.
  bool wait_readable(int fd) const {
    pollfd entries[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    return poll(entries, 2, kWaitMs) > 0 && (entries[0].revents & POLLIN) != 0 &&
           (entries[1].revents & POLLIN) == 0;
  }

  // The request's head and its Content-Length body.
  std::string read_request(int fd) const {
    std::string request;
    char buffer[4096];
    size_t wanted = std::string::npos;
    while (request.size() < wanted && wait_readable(fd)) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        break;
      }
      request.append(buffer, static_cast<size_t>(n));
      const size_t head_end = request.find("\r\n\r\n");
      const size_t length_at = request.find("Content-Length: ");
      if (head_end != std::string::npos && length_at != std::string::npos) {
        wanted = head_end + 4 + std::stoul(request.substr(length_at + 16));
      }
    }
    return request;
  }

  void serve() {
    for (const Answer& answer : answers_) {
      if (!wait_readable(listener_)) {
        return;
      }
      const int fd = accept(listener_, nullptr, nullptr);
      {
        std::string request = read_request(fd);
        const std::lock_guard lock(mutex_);
        requests_.push_back(std::move(request));
      }
      for (const std::string& piece : answer.pieces) {
        send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
        std::this_thread::sleep_for(milliseconds(20));
      }
      if (answer.hold_open) {
        // Until the client closes its end (it sends nothing more) or the member is destroyed.
        pollfd entries[2] = {{fd, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        poll(entries, 2, kWaitMs);
      }
      close(fd);
    }
  }

  std::vector<Answer> answers_;
  int listener_ = -1;
  int stop_pipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// A loopback port with nothing listening: connecting is refused at once.
EtcdEndpoint refusing_endpoint() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return {"127.0.0.1", ntohs(address.sin_port)};
}

std::string body_of(const std::string& request) {
  const size_t head_end = request.find("\r\n\r\n");
  return head_end == std::string::npos ? std::string() : request.substr(head_end + 4);
}

int64_t elapsed_ms(steady_clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(steady_clock::now() - since).count();
}

// ---- endpoints -------------------------------------------------------------------------------

TEST(EtcdEndpoint, ParsesHostAndPortWithOrWithoutTheScheme) {
  EtcdEndpoint endpoint = parse_etcd_endpoint("127.0.0.1:23790");
  EXPECT_EQ(endpoint.host, "127.0.0.1");
  EXPECT_EQ(endpoint.port, 23790);
  endpoint = parse_etcd_endpoint("http://etcd-1.internal:2381/");
  EXPECT_EQ(endpoint.host, "etcd-1.internal");
  EXPECT_EQ(endpoint.port, 2381);
  endpoint = parse_etcd_endpoint("HTTP://etcd");
  EXPECT_EQ(endpoint.host, "etcd");
  EXPECT_EQ(endpoint.port, 2379);
}

TEST(EtcdEndpoint, TakesIpv6InBrackets) {
  EtcdEndpoint endpoint = parse_etcd_endpoint("[::1]:2379");
  EXPECT_EQ(endpoint.host, "::1");
  EXPECT_EQ(endpoint.port, 2379);
  endpoint = parse_etcd_endpoint("http://[fd00::5]");
  EXPECT_EQ(endpoint.host, "fd00::5");
  EXPECT_EQ(endpoint.port, 2379);
}

TEST(EtcdEndpoint, RefusesWhatItCannotReach) {
  for (const char* text : {"", ":2379", "https://etcd:2379", "unix://etcd", "etcd:0", "etcd:65536",
                           "etcd:x", "etcd:", "::1:2379", "[::1", "[::1]x", "[]:2379", "a b:2379",
                           "etcd/v3:2379", "user@etcd:2379"}) {
    EXPECT_THROW(parse_etcd_endpoint(text), std::invalid_argument) << text;
  }
}

// ---- base64 and ranges -----------------------------------------------------------------------

TEST(EtcdBase64, MatchesRfc4648Vectors) {
  const std::pair<std::string_view, std::string_view> vectors[] = {{"", ""},
                                                                   {"f", "Zg=="},
                                                                   {"fo", "Zm8="},
                                                                   {"foo", "Zm9v"},
                                                                   {"foob", "Zm9vYg=="},
                                                                   {"fooba", "Zm9vYmE="},
                                                                   {"foobar", "Zm9vYmFy"},
                                                                   {"/svc/a", "L3N2Yy9h"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64_encode(bytes), text);
    EXPECT_EQ(base64_decode(text), bytes);
  }
}

TEST(EtcdBase64, RoundTripsEveryByte) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) {
    bytes += static_cast<char>(i);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  }
}

TEST(EtcdBase64, RefusesWhatIsNotPaddedBase64) {
  for (const char* text : {"Zg", "Zg=", "Z===", "====", "Zm9v!A==", "Zm=v", "=Zm9", "Zm9v\n"}) {
    EXPECT_THROW(base64_decode(text), EtcdError) << text;
  }
}

TEST(EtcdPrefix, RangeEndIncrementsTheLastByteAndCarriesOverFf) {
  EXPECT_EQ(prefix_range_end("/svc/"), "/svc0");
  EXPECT_EQ(prefix_range_end("a"), "b");
  EXPECT_EQ(prefix_range_end("a\xff"), "b");
  EXPECT_EQ(prefix_range_end("a\xfe\xff\xff"), "a\xff");
  EXPECT_EQ(prefix_range_end("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
}

TEST(EtcdJson, RequestsCarryBase64KeysAndInt64sAsStrings) {
  Json request = Json::parse(range_prefix_request("/svc/"));
  EXPECT_EQ(request, Json::parse(R"({"key": "L3N2Yy8=", "range_end": "L3N2YzA="})"));
  request = Json::parse(watch_prefix_request("/svc/", 7));
  EXPECT_EQ(request, Json::parse(R"({"create_request": {"key": "L3N2Yy8=", "range_end": "L3N2YzA=",
                                               "start_revision": "7"}})"));
  request = Json::parse(put_request("/svc/a", "v", 0));
  EXPECT_EQ(request, Json::parse(R"({"key": "L3N2Yy9h", "value": "dg=="})"));
  request = Json::parse(put_request("/svc/a", "", 2324035846280547081));
  EXPECT_EQ(request,
            Json::parse(R"({"key": "L3N2Yy9h", "value": "", "lease": "2324035846280547081"})"));
  EXPECT_EQ(Json::parse(delete_request("/svc/a")), Json::parse(R"({"key": "L3N2Yy9h"})"));
  EXPECT_EQ(Json::parse(lease_grant_request(10)), Json::parse(R"({"TTL": "10"})"));
  EXPECT_EQ(Json::parse(lease_request(42)), Json::parse(R"({"ID": "42"})"));
}

TEST(EtcdJson, AnEmptyPrefixRangesOverEveryKey) {
  // As clientv3's WithPrefix: key "\0", range_end "\0".
  EXPECT_EQ(Json::parse(range_prefix_request("")),
            Json::parse(R"({"key": "AA==", "range_end": "AA=="})"));
}

// ---- decoding answers ------------------------------------------------------------------------

TEST(EtcdJson, DecodesARange) {
  const EtcdRange range = decode_range(kRangeAnswer);
  EXPECT_EQ(range.revision, 2);
  ASSERT_EQ(range.kvs.size(), 1u);
  EXPECT_EQ(range.kvs[0].key, "/svc/a");
  EXPECT_EQ(range.kvs[0].value, R"({"host":"h"})");
  EXPECT_EQ(range.kvs[0].mod_revision, 2);
  EXPECT_EQ(range.kvs[0].lease, 0);

  const EtcdRange empty = decode_range(kEmptyRangeAnswer);
  EXPECT_EQ(empty.revision, 2);
  EXPECT_TRUE(empty.kvs.empty());
}

TEST(EtcdJson, DecodesLeasesAndAcceptsPlainJsonIntegers) {
  const EtcdRange range = decode_range(
      R"({"header":{"revision":9},"kvs":[{"key":"YQ==","mod_revision":"8","lease":"7"}]})");
  EXPECT_EQ(range.revision, 9);
  ASSERT_EQ(range.kvs.size(), 1u);
  EXPECT_EQ(range.kvs[0].key, "a");
  EXPECT_EQ(range.kvs[0].value, "");
  EXPECT_EQ(range.kvs[0].lease, 7);
}

TEST(EtcdJson, RefusesAMalformedRange) {
  for (const char* body : {
           "",
           "not json",
           "[1, 2]",
           R"({"header":{}})",
           R"({"header":{"revision":"2"},"kvs":{}})",
           R"({"header":{"revision":"2"},"kvs":[5]})",
           R"({"header":{"revision":"abc"}})",
           R"({"header":{"revision":"2.5"}})",
           R"({"header":{"revision":" 2"}})",
           R"({"header":{"revision":"99999999999999999999"}})",
           R"({"header":{"revision":18446744073709551615}})",
           R"({"header":{"revision":1e300}})",
           R"({"header":"x"})",
           R"({"header":{"revision":"2"},"kvs":[{"key":"%%%%"}]})",
           R"({"header":{"revision":"2"},"kvs":[{"key":7}]})",
       }) {
    EXPECT_THROW(decode_range(body), EtcdError) << body;
  }
}

TEST(EtcdJson, RefusesJsonNestedDeeperThanEtcdWrites) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_THROW(decode_range(deep), EtcdError);
  EXPECT_THROW(decode_range(R"({"header":{"revision":"2"},"x":)" + deep + "}"), EtcdError);
}

TEST(EtcdJson, DecodesALeaseGrantAndKeepAlives) {
  EXPECT_EQ(decode_lease_grant(kLeaseGrantAnswer), 2324035846280547081);
  EXPECT_THROW(decode_lease_grant(R"({"ID":"5","TTL":"5","error":"too many leases"})"), EtcdError);
  EXPECT_THROW(decode_lease_grant(R"({"TTL":"5"})"), EtcdError);
  EXPECT_TRUE(decode_keep_alive(kKeepAliveMessage));
  EXPECT_FALSE(decode_keep_alive(kKeepAliveLostMessage));
  EXPECT_FALSE(decode_keep_alive(R"({"result":{"ID":"1","TTL":"0"}})"));
  EXPECT_THROW(decode_keep_alive(kStreamNoLeader), EtcdError);
  EXPECT_THROW(decode_keep_alive(R"({"ID":"1","TTL":"5"})"), EtcdError);  // no "result"
}

TEST(EtcdWatchMessage, DecodesPutsAndDeletes) {
  WatchMessage created = decode_watch_message(kWatchCreated);
  EXPECT_EQ(created.revision, 2);
  EXPECT_TRUE(created.events.empty());

  const WatchMessage put = decode_watch_message(kWatchPut);
  EXPECT_EQ(put.revision, 3);
  ASSERT_EQ(put.events.size(), 1u);
  EXPECT_FALSE(put.events[0].deleted);
  EXPECT_EQ(put.events[0].kv.key, "/svc/b");
  EXPECT_EQ(put.events[0].kv.value, "xyz");
  EXPECT_EQ(put.events[0].kv.mod_revision, 3);

  const WatchMessage deleted = decode_watch_message(kWatchDelete);
  EXPECT_EQ(deleted.revision, 4);
  ASSERT_EQ(deleted.events.size(), 1u);
  EXPECT_TRUE(deleted.events[0].deleted);
  EXPECT_EQ(deleted.events[0].kv.key, "/svc/b");
  EXPECT_EQ(deleted.events[0].kv.mod_revision, 4);
}

TEST(EtcdWatchMessage, TheRevisionCoversEveryEvent) {
  const WatchMessage message =
      decode_watch_message(R"({"result":{"events":[{"kv":{"key":"YQ==","mod_revision":"5"}},)"
                           R"({"type":"PUT","kv":{"key":"Yg==","mod_revision":"6"}}]}})");
  EXPECT_EQ(message.revision, 6);
  EXPECT_EQ(message.events.size(), 2u);
}

TEST(EtcdWatchMessage, ACompactedStartRevisionThrowsEtcdCompacted) {
  try {
    decode_watch_message(kWatchCompacted);
    FAIL() << "no exception";
  } catch (const EtcdCompacted& compacted) {
    EXPECT_EQ(compacted.compact_revision, 4);
  }
}

TEST(EtcdWatchMessage, OtherEndingsAreEtcdErrorsThatSayWhy) {
  const auto message_of = [](std::string_view text) -> std::string {
    try {
      decode_watch_message(text);
    } catch (const EtcdCompacted&) {
      return "compacted";
    } catch (const EtcdError& error) {
      return error.what();
    }
    return "no exception";
  };
  EXPECT_NE(message_of(kStreamNoLeader).find("etcdserver: no leader"), std::string::npos);
  EXPECT_NE(message_of(R"({"result":{"canceled":true,"cancel_reason":"mvcc: required revision )"
                       R"(is a future revision"}})")
                .find("future revision"),
            std::string::npos);
  for (const char* text : {
           R"({"result":{"events":[{"type":"TOUCH","kv":{"key":"YQ=="}}]}})",
           R"({"result":{"events":{}}})",
           R"({"result":{"events":["x"]}})",
           R"({"result":{"canceled":"yes"}})",
           R"({"result":5})",
           "{",
       }) {
    EXPECT_NE(message_of(text), "no exception") << text;
    EXPECT_NE(message_of(text), "compacted") << text;
  }
}

TEST(EtcdJson, DescribesAnErrorAnswer) {
  EXPECT_EQ(describe_error_answer(404, kLeaseNotFound),
            "etcd answered 404: etcdserver: requested lease not found");
  EXPECT_EQ(describe_error_answer(502, "<html>Bad\ngateway</html>"),
            "etcd answered 502: <html>Bad?gateway</html>");
  EXPECT_EQ(describe_error_answer(500, ""), "etcd answered 500: ");
}

// ---- splitting a stream into messages --------------------------------------------------------

TEST(EtcdMessageSplitter, FindsMessagesWhateverThePieces) {
  const std::string stream = std::string(kWatchCreated) + "\n" + std::string(kWatchPut) + "\n";
  for (size_t piece = 1; piece <= stream.size(); piece *= 3) {
    MessageSplitter splitter(1024);
    std::vector<std::string> messages;
    for (size_t offset = 0; offset < stream.size(); offset += piece) {
      splitter.append(std::string_view(stream).substr(offset, piece));
      while (std::optional<std::string> message = splitter.next()) {
        messages.push_back(*message);
      }
    }
    ASSERT_EQ(messages.size(), 2u) << piece;
    EXPECT_EQ(messages[0], kWatchCreated);
    EXPECT_EQ(messages[1], kWatchPut);
    EXPECT_FALSE(splitter.rest());
  }
}

TEST(EtcdMessageSplitter, TheRestIsAMessageWithoutItsNewline) {
  MessageSplitter splitter(1024);
  splitter.append("\n\r\n");
  splitter.append(kStreamNoLeader);
  EXPECT_FALSE(splitter.next());
  EXPECT_EQ(splitter.rest(), std::string(kStreamNoLeader));
}

TEST(EtcdMessageSplitter, RefusesAMessageOverItsLimit) {
  MessageSplitter waiting(8);
  waiting.append("123456789");  // no newline yet, and already too long
  EXPECT_THROW(waiting.next(), EtcdError);
  MessageSplitter whole(8);
  whole.append("123456789\n");
  EXPECT_THROW(whole.next(), EtcdError);
  MessageSplitter fits(8);
  fits.append("12345678\n");
  EXPECT_EQ(fits.next(), "12345678");
}

// ---- the client against stand-in members -----------------------------------------------------

TEST(EtcdClient, RangeSendsAGatewayRequestAndDecodesTheAnswer) {
  FakeMember member({{{answer_with_length(kRangeAnswer)}}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  const EtcdRange range = client.range_prefix("/svc/");
  EXPECT_EQ(range.revision, 2);
  ASSERT_EQ(range.kvs.size(), 1u);
  EXPECT_EQ(range.kvs[0].key, "/svc/a");

  const std::vector<std::string> requests = member.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].starts_with("POST /v3/kv/range HTTP/1.1\r\n")) << requests[0];
  EXPECT_NE(requests[0].find("\r\nHost: 127.0.0.1:" + std::to_string(member.endpoint().port)),
            std::string::npos);
  EXPECT_NE(requests[0].find("\r\nGrpc-Metadata-Hasleader: true\r\n"), std::string::npos);
  EXPECT_EQ(Json::parse(body_of(requests[0])), Json::parse(range_prefix_request("/svc/")));
}

TEST(EtcdClient, ReadsAChunkedAnswerSplitAcrossReads) {
  const std::string body = std::string(kRangeAnswer);
  FakeMember member({{{chunked_head() + chunk(body.substr(0, 10)), chunk(body.substr(10, 1)),
                       chunk(body.substr(11)) + "0\r\n\r\n"}}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  EXPECT_EQ(client.range_prefix("/svc/").kvs.size(), 1u);
}

TEST(EtcdClient, MovesOnFromAMemberThatRefusesOrHasNoLeader) {
  FakeMember no_leader({{{answer_with_length(
      R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})", 503,
      "Service Unavailable")}}});
  FakeMember healthy(
      {{{answer_with_length(kLeaseGrantAnswer)}}, {{answer_with_length(kEmptyRangeAnswer)}}});
  EtcdClient client({refusing_endpoint(), no_leader.endpoint(), healthy.endpoint()}, kWaitMs);
  EXPECT_EQ(client.grant_lease(5), 2324035846280547081);
  EXPECT_EQ(client.current_endpoint(), "127.0.0.1:" + std::to_string(healthy.endpoint().port));
  // The next call starts on the member that answered.
  EXPECT_EQ(client.range_prefix("/svc/").revision, 2);
  EXPECT_EQ(no_leader.requests().size(), 1u);
  EXPECT_EQ(healthy.requests().size(), 2u);
}

TEST(EtcdClient, AnErrorAnswerIsFinalAndSaysWhatEtcdSaid) {
  // As etcd sends it: chunked, with a trailer.
  FakeMember member({{{chunked_head(404, "Not Found") + chunk(kLeaseNotFound) +
                       "0\r\nGrpc-Trailer-Content-Type: application/grpc\r\n\r\n"}}});
  FakeMember untouched({});
  EtcdClient client({member.endpoint(), untouched.endpoint()}, kWaitMs);
  try {
    client.revoke(2324035846280547081);
    FAIL() << "no exception";
  } catch (const EtcdError& error) {
    EXPECT_STREQ(error.what(), "etcd answered 404: etcdserver: requested lease not found");
  }
  EXPECT_TRUE(untouched.requests().empty());
}

TEST(EtcdClient, NoMemberAnsweringIsAnErrorNamingEach) {
  FakeMember silent({{{}, /*hold_open=*/true}});
  const EtcdEndpoint refused = refusing_endpoint();
  EtcdClient client({silent.endpoint(), refused}, 200);
  const auto started = steady_clock::now();
  try {
    client.put("/svc/a", "v");
    FAIL() << "no exception";
  } catch (const EtcdError& error) {
    const std::string what = error.what();
    EXPECT_NE(what.find("no answer within the timeout"), std::string::npos) << what;
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(refused.port) + ": connect"),
              std::string::npos)
        << what;
  }
  EXPECT_GE(elapsed_ms(started), 190);
  EXPECT_LT(elapsed_ms(started), 2'000);
}

TEST(EtcdClient, AMalformedAnswerIsAnErrorNotACrash) {
  FakeMember member({{{"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"header\""}},
                     {{"garbage\r\n\r\n"}},
                     {{chunked_head() + "zz\r\n"}},
                     {{answer_with_length(R"({"header":{"revision":"1"},"kvs":"no"})")}}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  for (int i = 0; i < 4; ++i) {
    EXPECT_THROW(client.range_prefix("/svc/"), EtcdError) << i;
  }
}

TEST(EtcdClient, KeepAliveReadsTheFirstMessageWithoutWaitingForTheEnd) {
  FakeMember member({{{chunked_head() + stream_message(kKeepAliveMessage)}, /*hold_open=*/true},
                     {{chunked_head() + stream_message(kKeepAliveLostMessage) + "0\r\n\r\n"}}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  const auto started = steady_clock::now();
  EXPECT_TRUE(client.keep_alive(2324035846280547083));
  EXPECT_LT(elapsed_ms(started), 1'000);
  EXPECT_FALSE(client.keep_alive(2324035846280547088));
  EXPECT_EQ(Json::parse(body_of(member.requests()[0])),
            Json::parse(R"({"ID":"2324035846280547083"})"));
}

// Runs a watch of "/svc/" on its own thread, recording what it is given and how it ends.
struct WatchRun {
  std::vector<EtcdEvent> events;
  std::vector<int64_t> revisions;
  std::string ending = "running";
  int64_t compact_revision = 0;
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};

  void run(EtcdClient& client, int64_t start_revision) {
    try {
      client.watch_prefix(
          "/svc/", start_revision,
          [this](std::span<const EtcdEvent> batch, int64_t revision) {
            events.insert(events.end(), batch.begin(), batch.end());
            revisions.push_back(revision);
          },
          stop);
      ending = "stopped";
    } catch (const EtcdCompacted& compacted) {
      ending = "compacted";
      compact_revision = compacted.compact_revision;
    } catch (const EtcdError& error) {
      ending = error.what();
    }
    done = true;
  }
};

TEST(EtcdClient, WatchDeliversEventsAndFailsWhenTheMemberGoes) {
  const std::string created = stream_message(kWatchCreated);
  FakeMember member({{{chunked_head() + created.substr(0, 30), created.substr(30),
                       stream_message(kWatchPut) + stream_message(kWatchDelete)}}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  WatchRun watch;
  watch.run(client, 3);
  ASSERT_EQ(watch.events.size(), 2u);
  EXPECT_EQ(watch.events[0].kv.key, "/svc/b");
  EXPECT_FALSE(watch.events[0].deleted);
  EXPECT_TRUE(watch.events[1].deleted);
  EXPECT_EQ(watch.revisions, (std::vector<int64_t>{3, 4}));
  EXPECT_NE(watch.ending.find("closed"), std::string::npos) << watch.ending;
  EXPECT_EQ(Json::parse(body_of(member.requests()[0])),
            Json::parse(watch_prefix_request("/svc/", 3)));
}

TEST(EtcdClient, WatchEndsWithEtcdsStreamError) {
  FakeMember member(
      {{{chunked_head() + stream_message(kWatchCreated), chunk(kStreamNoLeader) + "0\r\n\r\n"},
        /*hold_open=*/true}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  WatchRun watch;
  watch.run(client, 3);
  EXPECT_NE(watch.ending.find("etcdserver: no leader"), std::string::npos) << watch.ending;
}

TEST(EtcdClient, WatchThrowsCompactedWhenItsStartIsGone) {
  FakeMember member(
      {{{chunked_head() + stream_message(kWatchCreated) + stream_message(kWatchCompacted)},
        /*hold_open=*/true}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  WatchRun watch;
  watch.run(client, 1);
  EXPECT_EQ(watch.ending, "compacted");
  EXPECT_EQ(watch.compact_revision, 4);
}

TEST(EtcdClient, WatchReturnsSoonAfterStop) {
  FakeMember member({{{chunked_head() + stream_message(kWatchCreated)}, /*hold_open=*/true}});
  EtcdClient client({member.endpoint()}, kWaitMs);
  WatchRun watch;
  std::thread watcher([&] { watch.run(client, 3); });
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(watch.done);
  const auto stopped = steady_clock::now();
  watch.stop = true;
  watcher.join();
  EXPECT_EQ(watch.ending, "stopped");
  EXPECT_LT(elapsed_ms(stopped), 1'000);  // the watch looks at `stop` every 200 ms
}

}  // namespace
}  // namespace ballast::discovery
