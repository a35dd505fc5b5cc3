#include "proxy/exchange.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

#include "core/clock.h"
#include "http/request_parser.h"

namespace ballast::proxy {
namespace {

using balance::kNoServer;
using balance::ServerIndex;

constexpr uint64_t kNow = 5'000 * core::kNsPerMs;

config::RouteConfig route(std::string path_prefix, std::string cluster) {
  config::RouteConfig route;
  route.path_prefix = std::move(path_prefix);
  route.cluster = std::move(cluster);
  return route;
}

config::ServerConfig server(uint16_t port) {
  config::ServerConfig spec;
  spec.host = "127.0.0.1";
  spec.port = port;
  return spec;
}

// A generation with clusters "web" (three servers, 9001-9003) and "api" (one, 9101), routed by
// path prefix /api, and one Exchange over it — no socket anywhere.
class ExchangeTest : public ::testing::Test {
 protected:
  void build(const std::function<void(config::ClusterConfig&)>& shape_web = {},
             bool client_trusted = false) {
    auto config = std::make_shared<config::Config>();
    config::ClusterConfig web;
    web.name = "web";
    for (uint16_t port : {9001, 9002, 9003}) {
      web.servers.push_back(server(port));
    }
    if (shape_web) {
      shape_web(web);
    }
    config::ClusterConfig api;
    api.name = "api";
    api.servers.push_back(server(9101));
    config->clusters = {web, api};
    listener_.routes = {route("/api", "api"), route("", "web")};
    shared_ = upstream::build_generation(config, nullptr, 1);
    generation_ = std::make_unique<WorkerGeneration>(loop_, shared_, WorkerSlot{}, 7);
    exchange_ =
        std::make_unique<Exchange>(telemetry_, ClientInfo{"192.0.2.7", client_trusted, {}, {}, {}});
  }

  // Parses `head` (kept alive in head_text_) and begins and routes an exchange for it.
  bool request(const std::string& head) {
    head_text_ = head;
    http::RequestHeadParser parser;
    EXPECT_EQ(parser.parse(head_text_, head_).status, http::ParseResult::complete);
    exchange_->begin(kNow);
    return exchange_->route(*generation_, listener_, head_) == Exchange::Routed::cluster;
  }

  bool post(const std::string& extra = "") {
    return request("POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Length: 0\r\n" + extra + "\r\n");
  }

  uint16_t port_of(ServerIndex server) const {
    return exchange_->cluster()->config().servers[server].port;
  }

  core::EventLoop loop_;
  WorkerTelemetry telemetry_{0, 42};
  config::ListenerConfig listener_;
  std::shared_ptr<const upstream::Generation> shared_;
  std::unique_ptr<WorkerGeneration> generation_;
  std::unique_ptr<Exchange> exchange_;
  std::string head_text_;
  http::RequestHead head_;
};

TEST_F(ExchangeTest, RoutesByTheListenersRules) {
  build();
  ASSERT_TRUE(request("GET /api/v1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(exchange_->cluster()->config().name, "api");
  ASSERT_TRUE(request("GET /shop HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(exchange_->cluster()->config().name, "web");
  listener_.routes = {route("/api", "api")};
  EXPECT_FALSE(request("GET /shop HTTP/1.1\r\nHost: x\r\n\r\n"));
}

TEST_F(ExchangeTest, AFailedIdempotentRequestIsRetriedOnAnotherServer) {
  build([](config::ClusterConfig& web) {
    web.retry.attempts = 3;
    web.retry.on = 0xFF;
  });
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  std::set<ServerIndex> tried;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const ServerIndex server = exchange_->start_attempt(kNow);
    ASSERT_NE(server, kNoServer);
    EXPECT_TRUE(tried.insert(server).second) << "server " << port_of(server) << " tried twice";
    exchange_->request_reached_server(false);
    const bool retried = exchange_->attempt_failed(Failure::reset, kNow);
    EXPECT_EQ(retried, attempt < 2);  // three attempts in all
  }
  EXPECT_EQ(exchange_->failure_answer().status, 502);
  EXPECT_EQ(exchange_->attempts_made(), 3u);
}

TEST_F(ExchangeTest, ATimeoutIsAnswered504) {
  build();
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  ASSERT_NE(exchange_->start_attempt(kNow), kNoServer);
  EXPECT_FALSE(exchange_->attempt_failed(Failure::timeout, kNow));  // retry.on: connect_failure
  EXPECT_EQ(exchange_->failure_answer().status, 504);
}

struct ReplayCase {
  const char* what;
  std::string extra_header;
  bool non_idempotent_allowed;
  bool reached_server;
  bool retried;
};

class ExchangeReplayTest : public ExchangeTest, public ::testing::WithParamInterface<ReplayCase> {};

TEST_P(ExchangeReplayTest, APostIsSentAgainOnlyWhenThatCanDoNoHarm) {
  const ReplayCase& c = GetParam();
  build([&c](config::ClusterConfig& web) {
    web.retry.attempts = 2;
    web.retry.on = 0xFF;
    web.retry.non_idempotent = c.non_idempotent_allowed;
  });
  ASSERT_TRUE(post(c.extra_header));
  ASSERT_TRUE(exchange_->admit(kNow));
  ASSERT_NE(exchange_->start_attempt(kNow), kNoServer);
  if (c.reached_server) {
    exchange_->request_reached_server(false);
  }
  EXPECT_EQ(exchange_->may_send_again(), c.retried);
  const Failure failure = c.reached_server ? Failure::reset : Failure::connect_failure;
  EXPECT_EQ(exchange_->attempt_failed(failure, kNow), c.retried);
}

INSTANTIATE_TEST_SUITE_P(
    Exchange, ExchangeReplayTest,
    ::testing::Values(ReplayCase{"reached", "", false, true, false},
                      ReplayCase{"connect failure", "", false, false, true},
                      ReplayCase{"idempotency key", "Idempotency-Key: 8e03\r\n", false, true, true},
                      ReplayCase{"opted in", "", true, true, true}),
    [](const auto& info) {
      std::string name = info.param.what;
      std::replace(name.begin(), name.end(), ' ', '_');
      return name;
    });

// gRPC: the verdict is the call's grpc-status against grpc.failure_codes (UNAVAILABLE by
// default), not the HTTP status, which is 200 for every call.
TEST_F(ExchangeTest, AGrpcCallIsJudgedByItsStatusCode) {
  build([](config::ClusterConfig& web) {
    web.circuit_breaker.enabled = true;
    web.circuit_breaker.failure_threshold = 2;
  });
  const auto call = [this](uint32_t grpc_status) {
    EXPECT_TRUE(post());
    EXPECT_TRUE(exchange_->admit(kNow));
    const ServerIndex server = exchange_->start_attempt(kNow);
    exchange_->answered_grpc(200, grpc_status, kNow);
    exchange_->end_attempt(AttemptEnd::success, kNow);
    exchange_->finish({200, server}, kNow);
    return server;
  };
  ServerIndex first = kNoServer;
  for (int i = 0; i < 6; ++i) {  // NOT_FOUND: the application's answer, never the server's fault
    first = call(5);
  }
  upstream::ServerState& state = exchange_->cluster()->server(first);
  EXPECT_EQ(state.breaker->state(), health::BreakerState::closed);
  const ServerIndex failing = call(14);  // UNAVAILABLE, then again on the same server
  for (int i = 0; i < 3 && call(14) != failing; ++i) {
  }
  EXPECT_EQ(exchange_->cluster()->server(failing).breaker->state(), health::BreakerState::open);
}

TEST_F(ExchangeTest, UnknownMethodsArePatchAndPostAreNotIdempotent) {
  for (const char* method : {"POST", "PATCH", "PURGE", "LOCK"}) {
    EXPECT_FALSE(is_idempotent(method)) << method;
  }
  for (const char* method : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
    EXPECT_TRUE(is_idempotent(method)) << method;
  }
}

TEST_F(ExchangeTest, NoRetryOnceTheBodyStreamedOrTheResponseStarted) {
  build([](config::ClusterConfig& web) {
    web.retry.attempts = 3;
    web.retry.on = 0xFF;
  });
  ASSERT_TRUE(request("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  ASSERT_NE(exchange_->start_attempt(kNow), kNoServer);
  exchange_->request_reached_server(true);
  EXPECT_FALSE(exchange_->attempt_failed(Failure::reset, kNow));

  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  ASSERT_NE(exchange_->start_attempt(kNow), kNoServer);
  exchange_->response_started();
  EXPECT_FALSE(exchange_->attempt_failed(Failure::reset, kNow));
}

TEST_F(ExchangeTest, A5xxIsRetriedOnlyWhenRetryOnSaysSo) {
  build([](config::ClusterConfig& web) { web.retry.attempts = 2; });
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  ASSERT_NE(exchange_->start_attempt(kNow), kNoServer);
  EXPECT_FALSE(exchange_->retry_after_status(503));

  build([](config::ClusterConfig& web) {
    web.retry.attempts = 2;
    web.retry.on = static_cast<uint8_t>(config::RetryOn::server_error);
  });
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  ASSERT_NE(exchange_->start_attempt(kNow), kNoServer);
  EXPECT_FALSE(exchange_->retry_after_status(200));
  EXPECT_TRUE(exchange_->retry_after_status(503));
}

TEST_F(ExchangeTest, MaxRequestsIsHeldUntilTheRequestFinishes) {
  build([](config::ClusterConfig& web) {
    web.circuit_breaker.enabled = true;
    web.circuit_breaker.max_requests = 1;
  });
  Exchange other(telemetry_, ClientInfo{"192.0.2.8", false, {}, {}, {}});
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  other.begin(kNow);
  ASSERT_EQ(other.route(*generation_, listener_, head_), Exchange::Routed::cluster);
  EXPECT_FALSE(other.admit(kNow));  // at max_requests
  other.finish({503, kNoServer, 0, 0}, kNow);
  exchange_->finish({200, kNoServer, 0, 0}, kNow);
  other.begin(kNow);
  ASSERT_EQ(other.route(*generation_, listener_, head_), Exchange::Routed::cluster);
  EXPECT_TRUE(other.admit(kNow));
  other.finish({200, kNoServer, 0, 0}, kNow);
}

TEST_F(ExchangeTest, FinishCountsTheAnswerOnce) {
  build();
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  exchange_->finish({503, kNoServer, 10, 20}, kNow);
  exchange_->finish({503, kNoServer, 10, 20}, kNow);
  EXPECT_TRUE(exchange_->finished());
  const auto answers = shared_->clusters[0].stats->local_responses();
  EXPECT_EQ(answers[observe::status_class_index(503)], 1u);
}

TEST_F(ExchangeTest, RequestIdsAreFreshUnlessATrustedPeerSentOne) {
  build();
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: spoofed\r\n\r\n"));
    const std::string id(exchange_->request_id());
    EXPECT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 50u);

  build({}, /*client_trusted=*/true);
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: edge-7f3a\r\n\r\n"));
  EXPECT_EQ(exchange_->request_id(), "edge-7f3a");
  const std::string too_long(Exchange::kMaxRequestIdBytes + 1, 'a');
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + too_long + "\r\n\r\n"));
  EXPECT_EQ(exchange_->request_id().size(), 32u);
}

TEST_F(ExchangeTest, CookieAffinitySendsTheClientBackAndTellsItOnlyWhenNeeded) {
  build([](config::ClusterConfig& web) {
    web.session_affinity.enabled = true;
    web.session_affinity.cookie_name = "srv";
  });
  ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(exchange_->admit(kNow));
  const ServerIndex first = exchange_->start_attempt(kNow);
  ASSERT_NE(first, kNoServer);
  const std::string cookie(exchange_->affinity_cookie());
  ASSERT_TRUE(cookie.starts_with("srv=")) << cookie;
  exchange_->end_attempt(AttemptEnd::success, kNow);
  exchange_->finish({200, first, 0, 0}, kNow);

  const std::string value = cookie.substr(0, cookie.find(';'));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(request("GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; " + value + "\r\n\r\n"));
    ASSERT_TRUE(exchange_->admit(kNow));
    EXPECT_EQ(exchange_->start_attempt(kNow), first);
    EXPECT_EQ(exchange_->affinity_cookie(), "");  // it already names this server
    exchange_->end_attempt(AttemptEnd::success, kNow);
    exchange_->finish({200, first, 0, 0}, kNow);
  }
}

}  // namespace
}  // namespace ballast::proxy
