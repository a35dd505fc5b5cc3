#include "health/grpc_health_call.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http2/server_connection.h"

// The call against ballast's own HTTP/2 server side in memory, answering as a gRPC server's
// health service would.

namespace ballast::health {
namespace {

struct HealthService final : http2::StreamListener {
  void on_request(int32_t stream, const http2::Request& request) noexcept override {
    this->stream = stream;
    method = request.head.method;
    path = request.head.target;
    for (const http::Header& field : request.head.headers.all()) {
      fields.emplace_back(field.name, field.value);
    }
  }
  void on_request_data(int32_t stream, std::string_view bytes) noexcept override {
    body.append(bytes);
    connection->consume(stream, bytes.size());
  }
  void on_request_end(int32_t, std::span<const http::Header>) noexcept override { ended = true; }
  void on_stream_closed(int32_t, uint32_t) noexcept override {}

  http2::ServerConnection* connection = nullptr;
  int32_t stream = 0;
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> fields;
  bool ended = false;
};

class GrpcHealthCallTest : public testing::Test {
 protected:
  void start(std::string_view service) {
    call_ = std::make_unique<GrpcHealthCall>("10.0.0.7:50051", service);
    pump();
  }
  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool moved = false;
      for (std::string_view out; !(out = call_->output()).empty(); moved = true) {
        server_.receive(out);
        call_->sent(out.size());
      }
      for (std::string_view out; !(out = server_.output()).empty(); moved = true) {
        call_->receive(out);
        server_.sent(out.size());
      }
      if (!moved) {
        return;
      }
    }
  }
  // Answers with a HealthCheckResponse of `status`, then grpc-status 0.
  void answer(uint8_t status) {
    static constexpr std::array<http::Header, 1> kHead = {{{"content-type", "application/grpc"}}};
    static constexpr std::array<http::Header, 1> kOk = {{{"grpc-status", "0"}}};
    server_.respond(service_.stream, 200, kHead, true);
    server_.send_body(service_.stream, std::string("\0\0\0\0\x02\x08", 6) + char(status));
    server_.end_body(service_.stream, kOk);
    pump();
  }

  http2::Limits limits_;
  HealthService service_;
  http2::ServerConnection server_{limits_, service_};
  std::unique_ptr<GrpcHealthCall> call_;

  void SetUp() override { service_.connection = &server_; }
};

TEST_F(GrpcHealthCallTest, AsksTheStandardServiceAboutTheNamedService) {
  start("orders");
  EXPECT_EQ(service_.method, "POST");
  EXPECT_EQ(service_.path, "/grpc.health.v1.Health/Check");
  EXPECT_NE(std::find(service_.fields.begin(), service_.fields.end(),
                      std::pair<std::string, std::string>{"content-type", "application/grpc"}),
            service_.fields.end());
  EXPECT_NE(std::find(service_.fields.begin(), service_.fields.end(),
                      std::pair<std::string, std::string>{"te", "trailers"}),
            service_.fields.end());
  // A gRPC message: flag 0, length 8, then field 1 (tag 0x0a) of 6 bytes, "orders".
  EXPECT_EQ(service_.body, std::string("\0\0\0\0\x08\x0a\x06orders", 13));
  EXPECT_TRUE(service_.ended);
  EXPECT_FALSE(call_->done());
}

TEST_F(GrpcHealthCallTest, TheWholeServerIsAskedWithAnEmptyMessage) {
  start("");
  EXPECT_EQ(service_.body, std::string(5, '\0'));
}

TEST_F(GrpcHealthCallTest, ServingPasses) {
  start("");
  answer(1);
  ASSERT_TRUE(call_->done());
  EXPECT_TRUE(call_->passed());
  EXPECT_EQ(call_->detail(), "SERVING");
}

TEST_F(GrpcHealthCallTest, EveryOtherServingStatusFails) {
  for (const auto& [status, name] : std::vector<std::pair<uint8_t, std::string>>{
           {0, "UNKNOWN"}, {2, "NOT_SERVING"}, {3, "SERVICE_UNKNOWN"}}) {
    HealthService service;
    http2::ServerConnection server(limits_, service);
    service.connection = &server;
    GrpcHealthCall call("a", "");
    const auto pump = [&] {
      for (int round = 0; round < 20; ++round) {
        for (std::string_view out; !(out = call.output()).empty(); call.sent(out.size())) {
          server.receive(out);
        }
        for (std::string_view out; !(out = server.output()).empty(); server.sent(out.size())) {
          call.receive(out);
        }
      }
    };
    pump();
    static constexpr std::array<http::Header, 1> kOk = {{{"grpc-status", "0"}}};
    server.respond(service.stream, 200, {}, true);
    server.send_body(service.stream, std::string("\0\0\0\0\x02\x08", 6) + char(status));
    server.end_body(service.stream, kOk);
    pump();
    EXPECT_TRUE(call.done()) << name;
    EXPECT_FALSE(call.passed()) << name;
    EXPECT_EQ(call.detail(), name);
  }
}

// Trailers-Only: an error status in the response head itself, as gRPC sends for NOT_FOUND.
TEST_F(GrpcHealthCallTest, AnErrorStatusFailsWithItsMessage) {
  start("payments");
  static constexpr std::array<http::Header, 3> kNotFound = {{{"content-type", "application/grpc"},
                                                             {"grpc-status", "5"},
                                                             {"grpc-message", "unknown service"}}};
  server_.respond(service_.stream, 200, kNotFound, false);
  pump();
  ASSERT_TRUE(call_->done());
  EXPECT_FALSE(call_->passed());
  EXPECT_EQ(call_->detail(), "grpc-status 5: unknown service");
}

TEST_F(GrpcHealthCallTest, AnHttpErrorFailsWithItsStatus) {
  start("");
  server_.respond(service_.stream, 404, {}, false);
  pump();
  EXPECT_EQ(call_->detail(), "status 404");
  EXPECT_FALSE(call_->passed());
}

TEST_F(GrpcHealthCallTest, AResetStreamFails) {
  start("");
  server_.reset(service_.stream, 2);
  pump();
  EXPECT_TRUE(call_->done());
  EXPECT_EQ(call_->detail(), "stream reset");
}

TEST_F(GrpcHealthCallTest, AResponseWithoutAGrpcStatusFails) {
  start("");
  server_.respond(service_.stream, 200, {}, true);
  server_.send_body(service_.stream, std::string("\0\0\0\0\x02\x08\x01", 7));
  server_.end_body(service_.stream);
  pump();
  EXPECT_FALSE(call_->passed());
  EXPECT_EQ(call_->detail(), "bad response: no grpc-status");
}

}  // namespace
}  // namespace ballast::health
