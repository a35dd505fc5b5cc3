#include "http/serializer.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"
#include "http/response_parser.h"

namespace ballast::http {
namespace {

const ForwardContext kContext{.client_ip = "192.0.2.7",
                              .scheme = "https",
                              .host_if_absent = "app",
                              .port = "443",
                              .traceparent = {},
                              .request_id = "r1"};

// What every upstream request carries about its client from an untrusted peer.
std::string forwarding_fields(std::string_view host) {
  return "X-Forwarded-For: 192.0.2.7\r\nX-Real-IP: 192.0.2.7\r\nX-Forwarded-Proto: https\r\n"
         "X-Forwarded-Host: " +
         std::string(host) +
         "\r\nX-Forwarded-Port: 443\r\nVia: 1.1 ballast\r\nX-Request-Id: r1\r\n";
}

RequestHead parse_request(std::string_view text) {
  RequestHead head;
  RequestHeadParser parser;
  const ParseResult result = parser.parse(text, head);
  EXPECT_EQ(result.status, ParseResult::complete) << result.reason;
  return head;
}

ResponseHead parse_response(std::string_view text, bool request_was_head = false) {
  ResponseHead head;
  ResponseHeadParser parser;
  const ParseResult result = parser.parse(text, request_was_head, head);
  EXPECT_EQ(result.status, ParseResult::complete) << result.reason;
  return head;
}

std::string upstream_request(const RequestHead& head) {
  std::array<char, 4096> out;
  const size_t written = write_upstream_request(head, kContext, out);
  EXPECT_GT(written, 0u);
  return std::string(out.data(), written);
}

std::string client_response(const ResponseHead& head, bool keep_alive,
                            std::span<const Header> extra = {}) {
  std::array<char, 4096> out;
  const size_t written = write_client_response(
      head, keep_alive ? ClientDelivery::keep_alive : ClientDelivery::close, extra, {}, out);
  EXPECT_GT(written, 0u);
  return std::string(out.data(), written);
}

TEST(WriteUpstreamRequest, ForwardsEndToEndFieldsAndReplacesWhatAnUntrustedPeerSays) {
  const std::string text =
      "POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"
      "X-Forwarded-For: 203.0.113.1\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\n"
      "X-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: spoofed\r\nExpect: 100-continue\r\n"
      "X-Forwarded-Host: evil\r\nX-Forwarded-Port: 1\r\nForwarded: for=6.6.6.6\r\n"
      "X-Request-Id: forged\r\nVia: 1.0 upstream-cache\r\n"
      "x-forwarded-for: 198.51.100.2\r\nContent-Length: 005\r\nTE: trailers\r\nAccept:*/*\r\n\r\n";
  EXPECT_EQ(upstream_request(parse_request(text)),
            "POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"
            "Via: 1.0 upstream-cache\r\nAccept: */*\r\n" +
                forwarding_fields("example.com") +
                "Content-Length: 5\r\nConnection: keep-alive\r\n\r\n");
}

TEST(WriteUpstreamRequest, SaysWhichClientCertificateTlsVerifiedAndNeverWhatTheClientClaims) {
  const RequestHead head = parse_request(
      "GET / HTTP/1.1\r\nHost: a\r\nX-Client-Cert-Subject: CN=admin\r\n"
      "x-client-cert-fingerprint: 00\r\nX-Client-Certainly: forged\r\n\r\n");
  EXPECT_EQ(upstream_request(head), "GET / HTTP/1.1\r\nHost: a\r\n" + forwarding_fields("a") +
                                        "Connection: keep-alive\r\n\r\n");
  ForwardContext verified = kContext;
  verified.client_cert_subject = "CN=alice,O=Example";
  verified.client_cert_fingerprint = "ab12";
  std::array<char, 4096> out;
  const std::string text(out.data(), write_upstream_request(head, verified, out));
  EXPECT_NE(text.find("\r\nX-Client-Cert-Subject: CN=alice,O=Example\r\n"
                      "X-Client-Cert-Fingerprint: ab12\r\nX-Request-Id: r1\r\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("CN=admin"), std::string::npos);
}

TEST(WriteUpstreamRequest, KeepsAndExtendsWhatATrustedPeerSays) {
  const std::string text =
      "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 203.0.113.1\r\n"
      "X-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example\r\n"
      "X-Forwarded-Port: 8443\r\nForwarded: for=203.0.113.1\r\n\r\n";
  ForwardContext trusted = kContext;
  trusted.trusted_peer = true;
  std::array<char, 4096> out;
  size_t written = write_upstream_request(parse_request(text), trusted, out);
  EXPECT_EQ(std::string(out.data(), written),
            "GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: https\r\n"
            "X-Forwarded-Host: public.example\r\nX-Forwarded-Port: 8443\r\n"
            "Forwarded: for=203.0.113.1\r\nX-Forwarded-For: 203.0.113.1, 192.0.2.7\r\n"
            "X-Real-IP: 192.0.2.7\r\nVia: 1.1 ballast\r\nX-Request-Id: r1\r\n"
            "Connection: keep-alive\r\n\r\n");
  trusted.forwarded = true;
  trusted.client_ip = "2001:db8::1";
  written = write_upstream_request(parse_request(text), trusted, out);
  EXPECT_NE(std::string(out.data(), written)
                .find("Forwarded: for=203.0.113.1, for=\"[2001:db8::1]\";proto=https;"
                      "host=\"example.com\"\r\n"),
            std::string::npos);
}

TEST(WriteUpstreamRequest, WritesForwardedFromAnUntrustedPeerWithoutItsValues) {
  ForwardContext context = kContext;
  context.forwarded = true;
  std::array<char, 4096> out;
  const size_t written = write_upstream_request(
      parse_request("GET / HTTP/1.1\r\nHost: h:81\r\nForwarded: for=6.6.6.6\r\n\r\n"), context,
      out);
  const std::string head(out.data(), written);
  EXPECT_NE(head.find("Forwarded: for=192.0.2.7;proto=https;host=\"h:81\"\r\n"), std::string::npos);
  EXPECT_EQ(head.find("6.6.6.6"), std::string::npos);
}

TEST(WriteUpstreamRequest, ReplacesTheTraceparentWhenTheProxyTraces) {
  const std::string text =
      "GET / HTTP/1.1\r\nHost: a\r\nTraceParent: 00-aa-bb-01\r\ntracestate: k=v\r\n\r\n";
  const RequestHead request = parse_request(text);
  EXPECT_EQ(upstream_request(request),  // not tracing: passed on as it came
            "GET / HTTP/1.1\r\nHost: a\r\nTraceParent: 00-aa-bb-01\r\ntracestate: k=v\r\n" +
                forwarding_fields("a") + "Connection: keep-alive\r\n\r\n");
  ForwardContext tracing = kContext;
  tracing.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  std::array<char, 4096> out;
  const size_t written = write_upstream_request(request, tracing, out);
  EXPECT_EQ(std::string(out.data(), written),
            "GET / HTTP/1.1\r\nHost: a\r\ntracestate: k=v\r\n" + forwarding_fields("a") +
                "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
                "Connection: keep-alive\r\n\r\n");
}

TEST(WriteUpstreamRequest, WritesChunkedFramingAndNoFramingForNoBody) {
  EXPECT_EQ(
      upstream_request(parse_request(
          "PUT /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")),
      "PUT /u HTTP/1.1\r\nHost: h\r\n" + forwarding_fields("h") +
          "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(
      upstream_request(parse_request("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n")),
      "GET / HTTP/1.1\r\nHost: h\r\n" + forwarding_fields("h") + "Connection: keep-alive\r\n\r\n");
}

TEST(WriteUpstreamRequest, UpgradesHttp10AndSuppliesAMissingHost) {
  EXPECT_EQ(upstream_request(parse_request("GET /old HTTP/1.0\r\nAccept: */*\r\n\r\n")),
            "GET /old HTTP/1.1\r\nHost: app\r\nAccept: */*\r\n" + forwarding_fields("app") +
                "Connection: keep-alive\r\n\r\n");
}

TEST(WriteUpstreamRequest, SendsTheAuthorityOfAnAbsoluteTargetAsHost) {
  RequestHead head = parse_request("GET /x HTTP/1.1\r\nHost: public.example\r\n\r\n");
  head.host = "internal";
  head.host_from_target = true;
  EXPECT_EQ(upstream_request(head), "GET /x HTTP/1.1\r\nHost: internal\r\n" +
                                        forwarding_fields("internal") +
                                        "Connection: keep-alive\r\n\r\n");
}

TEST(WriteUpstreamRequest, PassesOnAnUpgrade) {
  const RequestHead head = parse_request(
      "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
      "Sec-WebSocket-Key: k\r\n\r\n");
  EXPECT_EQ(upstream_request(head), "GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\n" +
                                        forwarding_fields("h") +
                                        "Upgrade: websocket\r\nConnection: upgrade\r\n\r\n");
}

TEST(WriteUpstreamRequest, ParsesBackToTheSameRequest) {
  const std::string text =
      "DELETE /item/7 HTTP/1.1\r\nHost: shop:8080\r\nCookie: a=1; b=2\r\nX-Empty:\r\n"
      "Content-Length: 0\r\n\r\n";
  const RequestHead original = parse_request(text);
  const std::string written = upstream_request(original);
  const RequestHead copy = parse_request(written);
  EXPECT_EQ(copy.method, original.method);
  EXPECT_EQ(copy.target, original.target);
  EXPECT_EQ(copy.host, original.host);
  EXPECT_EQ(copy.body_kind, original.body_kind);
  EXPECT_EQ(copy.content_length, 0u);
  EXPECT_EQ(copy.headers.find("Cookie")->value, "a=1; b=2");
  EXPECT_EQ(copy.headers.find("X-Empty")->value, "");
}

TEST(WriteUpstreamRequest, ReturnsZeroWhenTheOutputIsTooSmall) {
  const RequestHead head = parse_request("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string full = upstream_request(head);
  std::vector<char> out(full.size());
  EXPECT_EQ(write_upstream_request(head, kContext, out), full.size());
  for (size_t size = 0; size < full.size(); ++size) {
    EXPECT_EQ(write_upstream_request(head, kContext, std::span<char>(out.data(), size)), 0u);
  }
}

TEST(WriteClientResponse, ForwardsFieldsReframesAndAddsExtraFields) {
  const ResponseHead head = parse_response(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12, 12\r\n"
      "Keep-Alive: timeout=5\r\nConnection: keep-alive\r\n\r\n");
  const Header cookie[] = {{"Set-Cookie", "ballast=s1; Path=/"}};
  EXPECT_EQ(client_response(head, true, cookie),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            "Connection: keep-alive\r\nSet-Cookie: ballast=s1; Path=/\r\n\r\n");
  EXPECT_EQ(client_response(head, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            "Connection: close\r\n\r\n");
}

// RFC 9112 §6.1: an HTTP/1.0 client cannot parse chunked; its body goes de-chunked, and the
// close is all that can delimit it.
TEST(WriteClientResponse, DechunkedLeavesTransferEncodingOutAndCloses) {
  const ResponseHead head =
      parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n");
  std::array<char, 512> out;
  const size_t written = write_client_response(head, ClientDelivery::dechunked, {}, {}, out);
  EXPECT_EQ(std::string(out.data(), written),
            "HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n");
}

TEST(WriteClientResponse, FramesEachKindOfResponse) {
  const struct {
    std::string_view upstream;
    bool request_was_head;
    std::string_view to_client;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false,
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"},
      // HEAD and 304 keep the length of the representation they describe.
      {"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true,
       "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nConnection: keep-alive\r\n\r\n"},
      {"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false,
       "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nConnection: keep-alive\r\n\r\n"},
      // No framing fields on a 204, none at all on a 1xx.
      {"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false,
       "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"},
      {"HTTP/1.1 100 Continue\r\n\r\n", false, "HTTP/1.1 100 Continue\r\n\r\n"},
      // A switch of protocols names the protocol and the Connection option it needs.
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
       "Sec-WebSocket-Accept: a\r\n\r\n",
       false,
       "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: a\r\nUpgrade: websocket\r\n"
       "Connection: upgrade\r\n\r\n"},
      // A body that ends at close forces close; a missing reason gets ours.
      {"HTTP/1.0 200\r\nServer: old\r\n\r\n", false,
       "HTTP/1.1 200 OK\r\nServer: old\r\nConnection: close\r\n\r\n"},
      {"HTTP/1.1 299\r\n\r\n", true, "HTTP/1.1 299 \r\nConnection: keep-alive\r\n\r\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.upstream));
    EXPECT_EQ(client_response(parse_response(c.upstream, c.request_was_head), true), c.to_client);
  }
}

TEST(WriteClientResponse, ReturnsZeroWhenTheOutputIsTooSmall) {
  const ResponseHead head = parse_response("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n");
  const std::string full = client_response(head, true);
  std::vector<char> out(full.size());
  EXPECT_EQ(write_client_response(head, ClientDelivery::keep_alive, {}, {}, out), full.size());
  EXPECT_EQ(write_client_response(head, ClientDelivery::keep_alive, {}, {},
                                  std::span<char>(out.data(), full.size() - 1)),
            0u);
}

}  // namespace
}  // namespace ballast::http
