// libFuzzer target for the client side of HTTP/2 (src/http2/client_connection.h), which reads
// what a cluster's servers send (`protocol: h2`/`h2c`): three requests are opened (one with a
// body and trailers to come), then the fuzzer's bytes (less the first, which chooses where they
// are split in two receives) are the server's. Besides ASan/UBSan's checks, it asserts the
// connection's contract with its listener:
// - a response, its body, its end and a stream's close only for a stream we opened;
// - one response head per stream, with a status of three digits; body only after the head;
// - an end at most once, nothing after the close.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

#include "http2/client_connection.h"

namespace {

using ballast::http::Header;
using ballast::http2::ClientConnection;
using ballast::http2::ClientLimits;
using ballast::http2::Response;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http2_client_fuzz: %s\n", what);
    std::abort();
  }
}

enum class State { requested, answered, ended, closed };

struct Listener final : ballast::http2::ResponseListener {
  void on_response(int32_t stream, const Response& response) noexcept override {
    check(streams.contains(stream) && streams[stream] == State::requested, "a head twice");
    check(response.status >= 100 && response.status <= 999, "a status not of three digits");
    streams[stream] = State::answered;
  }
  void on_response_data(int32_t stream, std::string_view bytes) noexcept override {
    check(streams.contains(stream) && streams[stream] == State::answered, "body before a head");
    client->consume(stream, bytes.size());
  }
  void on_response_end(int32_t stream, std::span<const Header>) noexcept override {
    check(streams.contains(stream) && streams[stream] == State::answered, "an end twice");
    streams[stream] = State::ended;
  }
  void on_stream_closed(int32_t stream, uint32_t) noexcept override {
    check(streams.contains(stream) && streams[stream] != State::closed, "a close of no stream");
    streams[stream] = State::closed;
  }
  ClientConnection* client = nullptr;
  std::map<int32_t, State> streams;
};

bool feed(ClientConnection& client, std::string_view bytes) {
  const bool alive = client.receive(bytes);
  for (std::string_view out; !(out = client.output()).empty();) {
    client.sent(out.size());
  }
  return alive;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  ClientLimits limits;
  limits.max_streams = 8;
  Listener listener;
  ClientConnection client(limits, listener);
  listener.client = &client;
  static constexpr Header kGrpc[] = {{"content-type", "application/grpc"}, {"te", "trailers"}};
  for (const bool body : {false, true, false}) {
    const int32_t stream = client.request({"POST", "http", "backend", "/svc/Call"}, kGrpc, body);
    check(stream > 0, "a request refused on a new connection");
    listener.streams[stream] = State::requested;
    if (body) {
      client.send_body(stream, std::string_view("\0\0\0\0\x02hi", 7));
    }
  }
  feed(client, {});  // our preface, SETTINGS and the requests go out
  // The first byte says where the rest is split in two receives.
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = data[0] % size;
  if (feed(client, input.substr(0, split))) {
    feed(client, input.substr(split));
  }
  return 0;
}
