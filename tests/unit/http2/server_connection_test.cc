#include "http2/server_connection.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

// The server side against a real HTTP/2 client in memory (nghttp2's own client session), and,
// where a client library would refuse to send what an attacker sends, against frames written
// byte by byte (HPACK from nghttp2's encoder). Organised by RFC 9113 section.

namespace ballast::http2 {
namespace {

// What the server side told its listener.
struct Recorder final : StreamListener {
  struct Seen {
    std::string method, target, host, scheme;
    std::vector<std::pair<std::string, std::string>> fields, trailers;
    http::BodyKind body_kind = http::BodyKind::none;
    std::string body;
    bool ended = false;
    bool closed = false;
    uint32_t error = 0;
  };
  void on_request(int32_t stream, const Request& request) noexcept override {
    Seen& seen = streams[stream];
    seen.method = request.head.method;
    seen.target = request.head.target;
    seen.host = request.head.host;
    seen.scheme = request.scheme;
    for (const http::Header& field : request.head.headers.all()) {
      seen.fields.emplace_back(field.name, field.value);
    }
    seen.body_kind = request.head.body_kind;
  }
  void on_request_data(int32_t stream, std::string_view bytes) noexcept override {
    streams[stream].body.append(bytes);
  }
  void on_request_end(int32_t stream, std::span<const http::Header> trailers) noexcept override {
    streams[stream].ended = true;
    for (const http::Header& field : trailers) {
      streams[stream].trailers.emplace_back(field.name, field.value);
    }
  }
  void on_stream_closed(int32_t stream, uint32_t error) noexcept override {
    streams[stream].closed = true;
    streams[stream].error = error;
  }
  std::map<int32_t, Seen> streams;
};

// What a client received.
struct Received {
  std::string status;
  std::vector<std::pair<std::string, std::string>> fields, trailers;
  std::string body;
  bool closed = false;
  uint32_t error = 0;
};

class Client {
 public:
  Client() {
    nghttp2_session_callbacks* callbacks = nullptr;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Client() { nghttp2_session_del(session_); }

  int32_t request(const std::vector<std::pair<std::string, std::string>>& fields,
                  const std::string* body = nullptr) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : fields) {
      nva.push_back({(uint8_t*)name.data(), (uint8_t*)value.data(), name.size(), value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    body_ = body != nullptr ? *body : std::string();
    nghttp2_data_provider provider{};
    provider.read_callback = read_body;
    return nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                  body != nullptr ? &provider : nullptr, this);
  }
  int32_t get(const std::string& path) {
    return request(
        {{":method", "GET"}, {":scheme", "https"}, {":authority", "a.example"}, {":path", path}});
  }

  // Moves bytes both ways until neither side has anything to say; returns the server's last
  // receive() verdict.
  bool pump(ServerConnection& server) {
    bool alive = true;
    for (int round = 0; round < 10'000; ++round) {
      bool moved = false;
      const uint8_t* data = nullptr;
      for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;) {
        alive = server.receive({reinterpret_cast<const char*>(data), static_cast<size_t>(n)});
        moved = true;
      }
      raw_.clear();
      for (std::string_view out; !(out = server.output()).empty();) {
        raw_.append(out);
        nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(out.data()),
                                 out.size());
        server.sent(out.size());
        moved = true;
      }
      if (!moved) {
        break;
      }
    }
    return alive;
  }

  nghttp2_session* session() { return session_; }
  std::map<int32_t, Received> responses;
  bool goaway = false;
  uint32_t goaway_error = 0;
  int32_t goaway_last_stream = -1;

 private:
  static Client& of(void* user_data) { return *static_cast<Client*>(user_data); }
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                       void* user_data) {
    Received& r = of(user_data).responses[frame->hd.stream_id];
    const std::string n(reinterpret_cast<const char*>(name), name_length);
    const std::string v(reinterpret_cast<const char*>(value), value_length);
    if (n == ":status") {
      r.status = v;
    } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
      r.trailers.emplace_back(n, v);
    } else {
      r.fields.emplace_back(n, v);
    }
    return 0;
  }
  static int on_data(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t length,
                     void* user_data) {
    of(user_data).responses[stream].body.append(reinterpret_cast<const char*>(data), length);
    return 0;
  }
  static int on_close(nghttp2_session*, int32_t stream, uint32_t error, void* user_data) {
    Received& r = of(user_data).responses[stream];
    r.closed = true;
    r.error = error;
    return 0;
  }
  static int on_frame(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      of(user_data).goaway = true;
      of(user_data).goaway_error = frame->goaway.error_code;
      of(user_data).goaway_last_stream = frame->goaway.last_stream_id;
    }
    return 0;
  }
  static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* out, size_t length, uint32_t* flags,
                           nghttp2_data_source*, void* user_data) {
    std::string& body = of(user_data).body_;
    const size_t n = std::min(length, body.size());
    std::memcpy(out, body.data(), n);
    body.erase(0, n);
    if (body.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
  }

  nghttp2_session* session_ = nullptr;
  std::string body_;
  std::string raw_;
};

// Frames written by hand, for what no client library sends.
std::string frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
  std::string out;
  out.push_back(static_cast<char>(payload.size() >> 16));
  out.push_back(static_cast<char>(payload.size() >> 8));
  out.push_back(static_cast<char>(payload.size()));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>(stream >> shift));
  }
  return out.append(payload);
}

class Hpack {
 public:
  Hpack() { nghttp2_hd_deflate_new(&deflater_, 4096); }
  ~Hpack() { nghttp2_hd_deflate_del(deflater_); }
  std::string encode(const std::vector<std::pair<std::string, std::string>>& fields) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : fields) {
      nva.push_back({(uint8_t*)name.data(), (uint8_t*)value.data(), name.size(), value.size(),
                     NGHTTP2_NV_FLAG_NONE});
    }
    std::string out(nghttp2_hd_deflate_bound(deflater_, nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(out.data()),
                                            out.size(), nva.data(), nva.size());
    out.resize(static_cast<size_t>(n));
    return out;
  }

 private:
  nghttp2_hd_deflater* deflater_ = nullptr;
};

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4, kPing = 6,
                  kContinuation = 9;
constexpr uint8_t kEndStream = 1, kEndHeaders = 4;

const std::vector<std::pair<std::string, std::string>> kGet = {
    {":method", "GET"}, {":scheme", "http"}, {":authority", "a"}, {":path", "/"}};

// A POST's fields, with a content-length when one is given.
std::vector<std::pair<std::string, std::string>> post_fields(std::string content_length = {}) {
  auto fields = kGet;
  fields[0].second = "POST";
  if (!content_length.empty())
    fields.emplace_back("content-length", std::move(content_length));
  return fields;
}

// A raw client: the preface and an empty SETTINGS, then whatever the test writes.
class RawClient {
 public:
  explicit RawClient(ServerConnection& server) : server_(server) {
    send(std::string(kPreface) + frame(kSettings, 0, 0, ""));
  }
  bool send(const std::string& bytes) {
    alive_ = server_.receive(bytes);
    for (std::string_view out; !(out = server_.output()).empty();) {
      received_.append(out);
      server_.sent(out.size());
    }
    alive_ = alive_ && !server_.finished();  // a GOAWAY just sent ends it too
    return alive_;
  }
  // The frames the server sent, as (type, flags, stream, payload).
  struct Frame {
    uint8_t type, flags;
    int32_t stream;
    std::string payload;
  };
  std::vector<Frame> frames() const {
    std::vector<Frame> out;
    for (size_t at = 0; at + 9 <= received_.size();) {
      const auto byte = [&](size_t i) { return static_cast<uint8_t>(received_[at + i]); };
      const size_t length = (byte(0) << 16) | (byte(1) << 8) | byte(2);
      const int32_t stream = ((byte(5) & 0x7f) << 24) | (byte(6) << 16) | (byte(7) << 8) | byte(8);
      out.push_back({byte(3), byte(4), stream, received_.substr(at + 9, length)});
      at += 9 + length;
    }
    return out;
  }
  // The error code of the first frame of `type` on `stream` (RST_STREAM or GOAWAY); -1 if none.
  int64_t error_of(uint8_t type, int32_t stream = -1) const {
    for (const Frame& f : frames()) {
      if (f.type == type && (stream < 0 || f.stream == stream)) {
        const std::string_view code = std::string_view(f.payload).substr(type == 7 ? 4 : 0, 4);
        return (uint8_t(code[0]) << 24) | (uint8_t(code[1]) << 16) | (uint8_t(code[2]) << 8) |
               uint8_t(code[3]);
      }
    }
    return -1;
  }
  bool alive() const { return alive_; }

 private:
  ServerConnection& server_;
  std::string received_;
  bool alive_ = true;
};

constexpr uint8_t kGoaway = 7;

class ServerConnectionTest : public testing::Test {
 protected:
  Limits limits;
  Recorder listener;
};

// §3.4, §6.5: the preface, then SETTINGS with ballast's limits.
TEST_F(ServerConnectionTest, SendsItsLimitsInTheFirstSettings) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  const auto frames = client.frames();
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].type, kSettings);
  std::map<uint16_t, uint32_t> settings;
  for (size_t at = 0; at + 6 <= frames[0].payload.size(); at += 6) {
    const auto b = [&](size_t i) { return static_cast<uint8_t>(frames[0].payload[at + i]); };
    settings[(b(0) << 8) | b(1)] = (b(2) << 24) | (b(3) << 16) | (b(4) << 8) | b(5);
  }
  EXPECT_EQ(settings[NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS], 128u);
  EXPECT_EQ(settings[NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE], 64u * 1024);
  EXPECT_EQ(settings[NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE], 64u * 1024);
}

TEST_F(ServerConnectionTest, ABadPrefaceEndsTheConnection) {
  ServerConnection server(limits, listener);
  EXPECT_FALSE(server.receive("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  EXPECT_TRUE(listener.streams.empty());
}

// §8.3.1: a request's pseudo-header fields become the head the pipeline knows.
TEST_F(ServerConnectionTest, ARequestReachesTheListenerAndItsResponseTheClient) {
  ServerConnection server(limits, listener);
  Client client;
  const int32_t id = client.request({{":method", "GET"},
                                     {":scheme", "https"},
                                     {":authority", "a.example"},
                                     {":path", "/p?q=1"},
                                     {"accept", "*/*"}});
  client.pump(server);
  ASSERT_TRUE(listener.streams.contains(id));
  const Recorder::Seen& seen = listener.streams[id];
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/p?q=1");
  EXPECT_EQ(seen.host, "a.example");
  EXPECT_EQ(seen.scheme, "https");
  EXPECT_EQ(seen.fields, (std::vector<std::pair<std::string, std::string>>{{"accept", "*/*"}}));
  EXPECT_EQ(seen.body_kind, http::BodyKind::none);
  EXPECT_TRUE(seen.ended);

  const std::vector<http::Header> fields = {{"Content-Type", "text/plain"},
                                            {"Connection", "keep-alive"}};
  ASSERT_TRUE(server.respond(id, 200, fields, true));
  EXPECT_EQ(server.send_body(id, "hello"), 5u);
  server.end_body(id);
  client.pump(server);
  const Received& r = client.responses[id];
  EXPECT_EQ(r.status, "200");
  // Names lowercased (§8.2.2), the connection-specific field dropped.
  EXPECT_EQ(r.fields,
            (std::vector<std::pair<std::string, std::string>>{{"content-type", "text/plain"}}));
  EXPECT_EQ(r.body, "hello");
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.error, 0u);
  EXPECT_TRUE(listener.streams[id].closed);
  EXPECT_EQ(server.open_streams(), 0u);
}

TEST_F(ServerConnectionTest, TrailersEndTheResponse) {
  ServerConnection server(limits, listener);
  Client client;
  const int32_t id = client.get("/");
  client.pump(server);
  server.respond(id, 200, {}, true);
  server.send_body(id, "message");
  const std::vector<http::Header> trailers = {{"Grpc-Status", "0"}};
  server.end_body(id, trailers);
  client.pump(server);
  EXPECT_EQ(client.responses[id].body, "message");
  EXPECT_EQ(client.responses[id].trailers,
            (std::vector<std::pair<std::string, std::string>>{{"grpc-status", "0"}}));
}

// §5.2: a request body is granted back to the client only as it is consumed.
TEST_F(ServerConnectionTest, ARequestBodyWaitsForConsumeBeyondTheStreamWindow) {
  ServerConnection server(limits, listener);
  Client client;
  const std::string body(200'000, 'b');
  const int32_t id = client.request({{":method", "POST"},
                                     {":scheme", "http"},
                                     {":authority", "a"},
                                     {":path", "/up"},
                                     {"content-length", "200000"}},
                                    &body);
  client.pump(server);
  EXPECT_EQ(listener.streams[id].body_kind, http::BodyKind::content_length);
  // The stream's window, as the server's SETTINGS set it.
  EXPECT_EQ(listener.streams[id].body.size(), limits.stream_window_bytes);
  EXPECT_FALSE(listener.streams[id].ended);
  size_t consumed = 0;
  for (int i = 0; i < 10 && !listener.streams[id].ended; ++i) {
    server.consume(id, listener.streams[id].body.size() - consumed);
    consumed = listener.streams[id].body.size();
    client.pump(server);
  }
  EXPECT_TRUE(listener.streams[id].ended);
  EXPECT_EQ(listener.streams[id].body.size(), body.size());
}

// A response body is queued up to the stream's buffer; the rest waits for room.
TEST_F(ServerConnectionTest, AResponseBodyQueuesNoMoreThanItsBuffer) {
  limits.response_buffer_bytes = 1000;
  ServerConnection server(limits, listener);
  Client client;
  const int32_t id = client.get("/big");
  client.pump(server);
  server.respond(id, 200, {}, true);
  EXPECT_EQ(server.send_body(id, std::string(1500, 'x')), 1000u);
  EXPECT_EQ(server.body_room(id), 0u);
  client.pump(server);  // sent: room again
  EXPECT_EQ(server.body_room(id), 1000u);
  EXPECT_EQ(server.send_body(id, std::string(500, 'x')), 500u);
  server.end_body(id);
  client.pump(server);
  EXPECT_EQ(client.responses[id].body.size(), 1500u);
}

// §8.2.2: connection-specific fields make a request malformed: a stream error, never a request.
TEST_F(ServerConnectionTest, ConnectionSpecificFieldsAreAStreamError) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"connection", "keep-alive"},
                                                        {"transfer-encoding", "chunked"},
                                                        {"upgrade", "h2c"},
                                                        {"keep-alive", "timeout=5"},
                                                        {"te", "gzip"}}) {
    Recorder seen;
    ServerConnection server(limits, seen);
    RawClient client(server);
    Hpack hpack;
    auto fields = kGet;
    fields.emplace_back(name, value);
    client.send(frame(kHeaders, kEndHeaders | kEndStream, 1, hpack.encode(fields)));
    EXPECT_EQ(client.error_of(kRstStream, 1), NGHTTP2_PROTOCOL_ERROR) << name;
    EXPECT_TRUE(seen.streams.empty()) << name;
  }
}

// §8.3.1: a missing or unknown pseudo-header, or one after a regular field.
TEST_F(ServerConnectionTest, InvalidPseudoHeadersAreAStreamError) {
  const std::vector<std::vector<std::pair<std::string, std::string>>> cases = {
      {{":method", "GET"}, {":scheme", "http"}, {":authority", "a"}},                 // no :path
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":x", "1"}},         // unknown
      {{":method", "GET"}, {":scheme", "http"}, {"accept", "*"}, {":path", "/"}},     // order
      {{":method", "GET"}, {":method", "GET"}, {":scheme", "http"}, {":path", "/"}},  // twice
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    Recorder seen;
    ServerConnection server(limits, seen);
    RawClient client(server);
    Hpack hpack;
    client.send(frame(kHeaders, kEndHeaders | kEndStream, 1, hpack.encode(cases[i])));
    EXPECT_EQ(client.error_of(kRstStream, 1), NGHTTP2_PROTOCOL_ERROR) << i;
    EXPECT_TRUE(seen.streams.empty()) << i;
  }
}

// §8.2.1: uppercase names and bytes a field may not hold.
TEST_F(ServerConnectionTest, ForbiddenFieldBytesAreAStreamError) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"Accept", "*/*"},
                                                        {"x-a", "line\r\nInjected: 1"},
                                                        {"x b", "1"},
                                                        {"x-a", std::string("nul\0x", 5)}}) {
    Recorder seen;
    ServerConnection server(limits, seen);
    RawClient client(server);
    Hpack hpack;
    auto fields = kGet;
    fields.emplace_back(name, value);
    client.send(frame(kHeaders, kEndHeaders | kEndStream, 1, hpack.encode(fields)));
    EXPECT_EQ(client.error_of(kRstStream, 1), NGHTTP2_PROTOCOL_ERROR) << name;
    EXPECT_TRUE(seen.streams.empty()) << name;
  }
}

// §8.1.1: DATA that disagrees with content-length (the H2.CL desync): a stream error before the
// request could be taken as complete.
TEST_F(ServerConnectionTest, DataBeyondContentLengthIsAStreamError) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  client.send(frame(kHeaders, kEndHeaders, 1, hpack.encode(post_fields("5"))));
  client.send(frame(kData, kEndStream, 1, "0123456789"));
  EXPECT_EQ(client.error_of(kRstStream, 1), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(listener.streams[1].ended);
  EXPECT_TRUE(listener.streams[1].closed);
}

TEST_F(ServerConnectionTest, DataShortOfContentLengthIsAStreamError) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  client.send(frame(kHeaders, kEndHeaders, 1, hpack.encode(post_fields("50"))));
  client.send(frame(kData, kEndStream, 1, "short"));
  EXPECT_EQ(client.error_of(kRstStream, 1), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(listener.streams[1].ended);
}

// §6.5.2: a header list beyond SETTINGS_MAX_HEADER_LIST_SIZE, counted decoded. An HPACK bomb:
// one large field in the dynamic table, then a byte each to repeat it (2 KiB on the wire,
// 80 KiB decoded).
TEST_F(ServerConnectionTest, AnInflatedHeaderListIsRefusedWith431) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  auto fields = kGet;
  for (int i = 0; i < 40; ++i) {
    fields.emplace_back("x-bomb", std::string(2000, 'a'));
  }
  const std::string block = hpack.encode(fields);
  ASSERT_LT(block.size(), 2200u);
  client.send(frame(kHeaders, kEndHeaders | kEndStream, 1, block));
  EXPECT_TRUE(client.alive());
  EXPECT_TRUE(listener.streams.empty());
  const auto frames = client.frames();
  EXPECT_TRUE(std::any_of(frames.begin(), frames.end(), [](const RawClient::Frame& f) {
    return f.type == kHeaders && f.stream == 1 && f.payload.find("431") != std::string::npos;
  })) << "a 431 response on stream 1";
}

// §6.10, CVE-2024-27316 family: CONTINUATION after CONTINUATION without END_HEADERS.
TEST_F(ServerConnectionTest, AContinuationFloodEndsTheConnection) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  client.send(frame(kHeaders, 0, 1, hpack.encode(kGet)));
  for (int i = 0; i < 20 && client.alive(); ++i) {
    client.send(frame(kContinuation, 0, 1, hpack.encode({{"x-a", "b"}})));
  }
  EXPECT_FALSE(client.alive());
  EXPECT_TRUE(listener.streams.empty());
  // nghttp2 gives up on the session without a word; ballast's own GOAWAY says why.
  EXPECT_EQ(client.error_of(kGoaway), NGHTTP2_ENHANCE_YOUR_CALM);
}

// CVE-2023-44487: streams opened and reset at once, faster than the limit: GOAWAY (nghttp2 sends
// it with INTERNAL_ERROR) after the burst, not thousands of streams later.
TEST_F(ServerConnectionTest, RapidResetEndsTheConnection) {
  limits.reset_burst = 100;
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  const std::string headers = hpack.encode(kGet);
  int32_t stream = 1;
  for (; stream < 2 * 1000 && client.alive(); stream += 2) {
    client.send(frame(kHeaders, kEndHeaders | kEndStream, stream, headers) +
                frame(kRstStream, 0, stream, std::string("\0\0\0\x08", 4)));
  }
  EXPECT_FALSE(client.alive());
  EXPECT_LT(stream, 2 * 200);
  EXPECT_EQ(client.error_of(kGoaway), NGHTTP2_INTERNAL_ERROR);
}

// PINGs whose answers the client never reads: bounded, then the connection ends.
TEST_F(ServerConnectionTest, APingFloodWithoutReadingEndsTheConnection) {
  ServerConnection server(limits, listener);
  EXPECT_TRUE(server.receive(std::string(kPreface) + frame(kSettings, 0, 0, "")));
  bool alive = true;
  for (int i = 0; i < 5000 && alive; ++i) {
    alive = server.receive(frame(kPing, 0, 0, "12345678"));  // output() never taken
  }
  EXPECT_FALSE(alive);
}

// A SETTINGS frame with more entries than any client needs.
TEST_F(ServerConnectionTest, AnOversizedSettingsFrameEndsTheConnection) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  std::string entries;
  for (int i = 0; i < 100; ++i) {
    entries += std::string("\0\x03\0\0\0\x10", 6);  // MAX_CONCURRENT_STREAMS = 16
  }
  client.send(frame(kSettings, 0, 0, entries));
  EXPECT_FALSE(client.alive());
}

// §6.8: on drain, GOAWAY with the last stream taken; that stream still completes.
TEST_F(ServerConnectionTest, ShutDownLetsOpenStreamsFinish) {
  ServerConnection server(limits, listener);
  Client client;
  const int32_t id = client.get("/slow");
  client.pump(server);
  server.shut_down();
  client.pump(server);
  EXPECT_TRUE(client.goaway);
  EXPECT_EQ(client.goaway_error, NGHTTP2_NO_ERROR);
  EXPECT_EQ(client.goaway_last_stream, id);
  EXPECT_FALSE(server.finished());
  server.respond(id, 200, {}, false);
  client.pump(server);
  EXPECT_EQ(client.responses[id].status, "200");
  EXPECT_TRUE(server.finished());
}

// §5.1.2: beyond SETTINGS_MAX_CONCURRENT_STREAMS. Before the client has acknowledged the limit a
// stream over it is refused and the connection stays; after, nghttp2 takes it as the client's
// connection error (PROTOCOL_ERROR), which RFC 9113 allows.
TEST_F(ServerConnectionTest, StreamsBeyondTheLimitAreRefused) {
  limits.max_concurrent_streams = 2;
  for (const bool acknowledged : {false, true}) {
    Recorder seen;
    ServerConnection server(limits, seen);
    RawClient client(server);
    Hpack hpack;
    if (acknowledged) {
      client.send(frame(kSettings, 1, 0, ""));
    }
    for (int32_t stream = 1; stream <= 5; stream += 2) {
      client.send(frame(kHeaders, kEndHeaders | kEndStream, stream, hpack.encode(kGet)));
    }
    EXPECT_EQ(seen.streams.size(), 2u);
    if (acknowledged) {
      EXPECT_EQ(client.error_of(kGoaway), NGHTTP2_PROTOCOL_ERROR);
      EXPECT_FALSE(client.alive());
    } else {
      EXPECT_EQ(client.error_of(kRstStream, 5), NGHTTP2_REFUSED_STREAM);
      EXPECT_TRUE(client.alive());
    }
  }
}

// §5.1.1: a HEADERS frame for a stream id lower than one already used opens nothing; it is a
// connection error (nghttp2 alone would ignore it).
TEST_F(ServerConnectionTest, ALowerStreamIdIsAConnectionError) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  client.send(frame(kHeaders, kEndHeaders | kEndStream, 5, hpack.encode(kGet)));
  ASSERT_TRUE(server.respond(5, 204, {}, false));
  client.send("");
  client.send(frame(kHeaders, kEndHeaders | kEndStream, 3, hpack.encode(kGet)));
  EXPECT_EQ(client.error_of(kGoaway), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(listener.streams.size(), 1u);
}

// §8.1: a request's trailers (a HEADERS frame after its DATA) reach the listener with its end.
TEST_F(ServerConnectionTest, RequestTrailersArePassedOnWithTheEnd) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  client.send(frame(kHeaders, kEndHeaders, 1, hpack.encode(post_fields())));
  client.send(frame(kData, 0, 1, "body"));
  client.send(frame(kHeaders, kEndHeaders | kEndStream, 1,
                    hpack.encode({{"grpc-status", "0"}, {"x-checksum", "abc"}})));
  const Recorder::Seen& seen = listener.streams[1];
  EXPECT_TRUE(seen.ended);
  EXPECT_EQ(seen.body, "body");
  const std::vector<std::pair<std::string, std::string>> expected = {{"grpc-status", "0"},
                                                                     {"x-checksum", "abc"}};
  EXPECT_EQ(seen.trailers, expected);
}

// §8.1: a complete response before the request's end is followed — not preceded, which would
// discard it — by RST_STREAM NO_ERROR.
TEST_F(ServerConnectionTest, AnEarlyCompleteResponseIsFollowedByANoErrorReset) {
  ServerConnection server(limits, listener);
  RawClient client(server);
  Hpack hpack;
  client.send(frame(kHeaders, kEndHeaders, 1, hpack.encode(post_fields())));
  ASSERT_TRUE(server.respond(1, 413, {}, true));
  server.send_body(1, "too large");
  server.end_body(1);
  client.send("");
  const auto frames = client.frames();
  const auto end = std::find_if(frames.begin(), frames.end(), [](const RawClient::Frame& f) {
    return f.stream == 1 && (f.flags & kEndStream) != 0;
  });
  const auto reset = std::find_if(frames.begin(), frames.end(), [](const RawClient::Frame& f) {
    return f.stream == 1 && f.type == kRstStream;
  });
  ASSERT_NE(end, frames.end());
  ASSERT_NE(reset, frames.end());
  EXPECT_LT(end - frames.begin(), reset - frames.begin());
  EXPECT_EQ(client.error_of(kRstStream, 1), NGHTTP2_NO_ERROR);
}

}  // namespace
}  // namespace ballast::http2
