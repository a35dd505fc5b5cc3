#include "http2/client_connection.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>
#include <string>
#include <vector>

#include "http2/server_connection.h"

// The client side against ballast's own server side, in memory: both ends of a connection to a
// server with `protocol: h2`.

namespace ballast::http2 {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields copy(std::span<const http::Header> fields) {
  Fields out;
  for (const http::Header& field : fields) {
    out.emplace_back(field.name, field.value);
  }
  return out;
}

struct Server final : StreamListener {
  struct Seen {
    std::string method, target, host;
    Fields fields;
    std::string body;
    bool ended = false;
  };
  void on_request(int32_t stream, const Request& request) noexcept override {
    Seen& seen = requests[stream];
    seen.method = request.head.method;
    seen.target = request.head.target;
    seen.host = request.head.host;
    seen.fields = copy(request.head.headers.all());
    order.push_back(stream);
  }
  void on_request_data(int32_t stream, std::string_view bytes) noexcept override {
    requests[stream].body.append(bytes);
    connection->consume(stream, bytes.size());
  }
  void on_request_end(int32_t stream, std::span<const http::Header>) noexcept override {
    requests[stream].ended = true;
  }
  void on_stream_closed(int32_t, uint32_t) noexcept override {}

  ServerConnection* connection = nullptr;
  std::map<int32_t, Seen> requests;
  std::vector<int32_t> order;
};

struct Client final : ResponseListener {
  struct Got {
    uint16_t status = 0;
    Fields fields, trailers;
    std::string body;
    bool ended = false;
    bool closed = false;
    uint32_t error = 0;
  };
  void on_response(int32_t stream, const Response& response) noexcept override {
    responses[stream].status = response.status;
    responses[stream].fields = copy(response.fields);
  }
  void on_response_data(int32_t stream, std::string_view bytes) noexcept override {
    responses[stream].body.append(bytes);
    if (consume_at_once) {
      connection->consume(stream, bytes.size());
    }
  }
  void on_response_end(int32_t stream, std::span<const http::Header> trailers) noexcept override {
    responses[stream].ended = true;
    responses[stream].trailers = copy(trailers);
  }
  void on_stream_closed(int32_t stream, uint32_t error) noexcept override {
    responses[stream].closed = true;
    responses[stream].error = error;
  }

  ClientConnection* connection = nullptr;
  bool consume_at_once = true;
  std::map<int32_t, Got> responses;
};

class ClientConnectionTest : public testing::Test {
 protected:
  ClientConnectionTest() {
    server_listener.connection = &server;
    client_listener.connection = &client;
    pump();
  }

  // Bytes both ways until neither side has more.
  void pump() {
    for (int round = 0; round < 10'000; ++round) {
      bool moved = false;
      for (std::string_view out; !(out = client.output()).empty();) {
        server.receive(out);
        client.sent(out.size());
        moved = true;
      }
      for (std::string_view out; !(out = server.output()).empty();) {
        client.receive(out);
        server.sent(out.size());
        moved = true;
      }
      if (!moved) {
        return;
      }
    }
  }

  int32_t get(std::string_view path, std::span<const http::Header> fields = {}) {
    return client.request({"GET", "http", "backend.example", path}, fields, false);
  }

  Limits server_limits;
  ClientLimits client_limits;
  Server server_listener;
  Client client_listener;
  ServerConnection server{server_limits, server_listener};
  ClientConnection client{client_limits, client_listener};
};

TEST_F(ClientConnectionTest, ARequestAndItsResponseWithTrailersGoRoundTrip) {
  const std::vector<http::Header> fields = {{"Accept", "application/grpc"},
                                            {"Connection", "close"}};
  const int32_t id = get("/svc/Method", fields);
  ASSERT_GT(id, 0);
  pump();
  const Server::Seen& seen = server_listener.requests[id];
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/svc/Method");
  EXPECT_EQ(seen.host, "backend.example");
  EXPECT_EQ(seen.fields, (Fields{{"accept", "application/grpc"}}));  // connection dropped
  EXPECT_TRUE(seen.ended);

  const std::vector<http::Header> head = {{"content-type", "application/grpc"}};
  server.respond(id, 200, head, true);
  server.send_body(id, "reply");
  const std::vector<http::Header> trailers = {{"grpc-status", "0"}, {"grpc-message", "ok"}};
  server.end_body(id, trailers);
  pump();
  const Client::Got& got = client_listener.responses[id];
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.fields, (Fields{{"content-type", "application/grpc"}}));
  EXPECT_EQ(got.body, "reply");
  EXPECT_TRUE(got.ended);
  EXPECT_EQ(got.trailers, (Fields{{"grpc-status", "0"}, {"grpc-message", "ok"}}));
  EXPECT_TRUE(got.closed);
  EXPECT_EQ(got.error, 0u);
  EXPECT_EQ(client.open_streams(), 0u);
}

TEST_F(ClientConnectionTest, ARequestBodyReachesTheServer) {
  const int32_t id = client.request({"POST", "http", "b", "/up"}, {}, true);
  const std::string body(150'000, 'u');
  size_t sent = 0;
  for (int i = 0; i < 100 && sent < body.size(); ++i) {
    sent += client.send_body(id, std::string_view(body).substr(sent));
    pump();
  }
  client.end_body(id);
  pump();
  EXPECT_EQ(server_listener.requests[id].body, body);
  EXPECT_TRUE(server_listener.requests[id].ended);
}

TEST_F(ClientConnectionTest, StreamsAreMultiplexedAndAnsweredInAnyOrder) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(get("/" + std::to_string(i)));
  }
  pump();
  ASSERT_EQ(server_listener.order.size(), 10u);
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    server.respond(*it, 200, {}, true);
    server.send_body(*it, server_listener.requests[*it].target);
    server.end_body(*it);
  }
  pump();
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(client_listener.responses[ids[i]].body, "/" + std::to_string(i));
  }
}

// The cap of streams per connection: ours, or the server's when lower.
TEST(ClientConnectionLimits, NoMoreStreamsThanEitherSideAllows) {
  for (const auto& [ours, theirs, expected] :
       std::vector<std::tuple<uint32_t, uint32_t, size_t>>{{100, 3, 3}, {2, 100, 2}}) {
    Limits server_limits;
    server_limits.max_concurrent_streams = theirs;
    ClientLimits client_limits;
    client_limits.max_streams = ours;
    Server server_listener;
    Client client_listener;
    ServerConnection server(server_limits, server_listener);
    ClientConnection client(client_limits, client_listener);
    for (int round = 0; round < 4; ++round) {  // the SETTINGS exchange
      for (std::string_view out; !(out = client.output()).empty(); client.sent(out.size())) {
        server.receive(out);
      }
      for (std::string_view out; !(out = server.output()).empty(); server.sent(out.size())) {
        client.receive(out);
      }
    }
    size_t opened = 0;
    while (client.can_open() && opened < 10) {
      ASSERT_GT(client.request({"GET", "http", "b", "/"}, {}, false), 0);
      ++opened;
    }
    EXPECT_EQ(opened, expected);
    EXPECT_EQ(client.request({"GET", "http", "b", "/"}, {}, false), -1);
  }
}

// A server that drains (GOAWAY) takes no new stream; the one in flight completes.
TEST_F(ClientConnectionTest, AfterGoawayNoNewStreamButTheOpenOneCompletes) {
  const int32_t id = get("/");
  pump();
  server.shut_down();
  pump();
  EXPECT_FALSE(client.can_open());
  server.respond(id, 204, {}, false);
  pump();
  EXPECT_EQ(client_listener.responses[id].status, 204);
  EXPECT_TRUE(client_listener.responses[id].ended);
}

TEST_F(ClientConnectionTest, AStreamResetByTheServerIsClosedWithItsError) {
  const int32_t id = get("/");
  pump();
  server.reset(id, NGHTTP2_REFUSED_STREAM);
  pump();
  EXPECT_TRUE(client_listener.responses[id].closed);
  EXPECT_EQ(client_listener.responses[id].error, static_cast<uint32_t>(NGHTTP2_REFUSED_STREAM));
  EXPECT_EQ(client_listener.responses[id].status, 0);
}

// A slow client slows its stream's server: no more than the stream's window until consumed.
TEST_F(ClientConnectionTest, AResponseBodyWaitsForConsumeBeyondTheWindow) {
  client_listener.consume_at_once = false;
  const int32_t id = get("/big");
  pump();
  server.respond(id, 200, {}, true);
  const std::string body(300'000, 'd');
  size_t queued = server.send_body(id, body);
  pump();
  EXPECT_EQ(client_listener.responses[id].body.size(), client_limits.stream_window_bytes);
  size_t consumed = 0;
  for (int i = 0; i < 100 && !client_listener.responses[id].ended; ++i) {
    client.consume(id, client_listener.responses[id].body.size() - consumed);
    consumed = client_listener.responses[id].body.size();
    queued += server.send_body(id, std::string_view(body).substr(queued));
    if (queued == body.size()) {
      server.end_body(id);
    }
    pump();
  }
  EXPECT_EQ(client_listener.responses[id].body.size(), body.size());
}

// A response head larger than we take: the stream is reset, the listener hears no head.
TEST(ClientConnectionLimits, AnOversizedResponseHeadResetsTheStream) {
  Limits server_limits;
  ClientLimits client_limits;
  client_limits.max_header_list_bytes = 1024;
  Server server_listener;
  Client client_listener;
  ServerConnection server(server_limits, server_listener);
  ClientConnection client(client_limits, client_listener);
  const auto pump = [&] {
    for (int round = 0; round < 8; ++round) {
      for (std::string_view out; !(out = client.output()).empty(); client.sent(out.size())) {
        server.receive(out);
      }
      for (std::string_view out; !(out = server.output()).empty(); server.sent(out.size())) {
        client.receive(out);
      }
    }
  };
  const int32_t id = client.request({"GET", "http", "b", "/"}, {}, false);
  pump();
  const std::string big(4000, 'h');
  const std::vector<http::Header> head = {{"x-big", big}};
  server.respond(id, 200, head, false);
  pump();
  EXPECT_TRUE(client_listener.responses[id].closed);
  EXPECT_NE(client_listener.responses[id].error, 0u);
  EXPECT_EQ(client_listener.responses[id].status, 0);
}

}  // namespace
}  // namespace ballast::http2
