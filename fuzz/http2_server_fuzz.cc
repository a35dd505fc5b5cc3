// libFuzzer target for the server side of HTTP/2 (src/http2/server_connection.h): a valid
// preface and SETTINGS, then the fuzzer's bytes (less the first, which chooses where they are
// split in two receives), with a
// listener that answers every request and consumes every body byte. Besides ASan/UBSan's checks,
// it asserts the connection's contract with its listener:
// - body bytes, the request's end and a stream's close only for a stream announced by
//   on_request, the end at most once, nothing after the close;
// - a request's head has a method and a target.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "http2/server_connection.h"

namespace {

using ballast::http2::Limits;
using ballast::http2::Request;
using ballast::http2::ServerConnection;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http2_server_fuzz: %s\n", what);
    std::abort();
  }
}

enum class State { open, ended, closed };

struct Listener final : ballast::http2::StreamListener {
  void on_request(int32_t stream, const Request& request) noexcept override {
    check(!streams.contains(stream), "a stream announced twice");
    check(!request.head.method.empty() && !request.head.target.empty(), "a head without method");
    streams[stream] = State::open;
    server->respond(stream, 200, {}, true);
    server->send_body(stream, "ok");
  }
  void on_request_data(int32_t stream, std::string_view bytes) noexcept override {
    check(streams.contains(stream) && streams[stream] == State::open, "data on no open request");
    server->consume(stream, bytes.size());
  }
  void on_request_end(int32_t stream, std::span<const ballast::http::Header>) noexcept override {
    check(streams.contains(stream) && streams[stream] == State::open, "an end twice");
    streams[stream] = State::ended;
    server->end_body(stream);
  }
  void on_stream_closed(int32_t stream, uint32_t) noexcept override {
    check(streams.contains(stream) && streams[stream] != State::closed, "a close of no stream");
    streams[stream] = State::closed;
  }
  ServerConnection* server = nullptr;
  std::map<int32_t, State> streams;
};

constexpr std::string_view kOpening("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0", 33);

bool feed(ServerConnection& server, std::string_view bytes) {
  const bool alive = server.receive(bytes);
  for (std::string_view out; !(out = server.output()).empty();) {
    server.sent(out.size());
  }
  return alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Limits limits;
  limits.max_concurrent_streams = 8;
  Listener listener;
  ServerConnection server(limits, listener);
  listener.server = &server;
  if (size == 0) {
    return 0;
  }
  // The first byte says where the rest is split in two receives.
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = data[0] % size;
  if (feed(server, kOpening) && feed(server, input.substr(0, split))) {
    feed(server, input.substr(split));
  }
  return 0;
}
