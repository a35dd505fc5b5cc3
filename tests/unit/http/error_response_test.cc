#include "http/error_response.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "http/request_parser.h"
#include "http/response_parser.h"

namespace ballast::http {
namespace {

std::string error_response(uint16_t status, std::string_view message,
                           std::span<const Header> extra = {}) {
  std::array<char, 1024> out;
  const size_t written = write_error_response(status, message, extra, out);
  EXPECT_GT(written, 0u);
  return std::string(out.data(), written);
}

TEST(WriteErrorResponse, WritesACompleteResponseThatCloses) {
  EXPECT_EQ(error_response(400, ""),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
            "Connection: close\r\n\r\nBad Request\n");
  const Header retry[] = {{"Retry-After", "5"}};
  EXPECT_EQ(error_response(503, "no server available", retry),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n"
            "Connection: close\r\nRetry-After: 5\r\n\r\nno server available\n");
}

TEST(WriteErrorResponse, ParsesBackWithItsBodyLength) {
  const std::string text = error_response(431, "request head too large");
  ResponseHead head;
  ResponseHeadParser parser;
  ASSERT_EQ(parser.parse(text, false, head).status, ParseResult::complete);
  EXPECT_EQ(head.status, 431);
  EXPECT_EQ(head.reason, "Request Header Fields Too Large");
  EXPECT_FALSE(head.keep_alive);
  EXPECT_EQ(head.head_bytes + head.content_length, text.size());
}

TEST(WriteErrorResponse, ReturnsZeroWhenTheOutputIsTooSmall) {
  const std::string full = error_response(502, "");
  std::array<char, 1024> out;
  EXPECT_EQ(write_error_response(502, "", {}, std::span<char>(out.data(), full.size())),
            full.size());
  EXPECT_EQ(write_error_response(502, "", {}, std::span<char>(out.data(), full.size() - 1)), 0u);
}

TEST(WriteEmptyResponse, SaysContentLengthZeroAndCloses) {
  std::array<char, 256> out;
  const Header allow[] = {{"Allow", "GET, OPTIONS"}};
  const size_t written = write_empty_response(200, allow, out);
  EXPECT_EQ(std::string(out.data(), written),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\nAllow: GET, "
            "OPTIONS\r\n\r\n");
  EXPECT_EQ(write_empty_response(200, allow, std::span<char>(out.data(), written - 1)), 0u);
}

TEST(WriteTraceResponse, ReflectsTheRequestLessItsCredentials) {
  const std::string text =
      "TRACE /t HTTP/1.1\r\nHost: a\r\nCookie: c=1\r\nX-A:b\r\nauthorization: x\r\n"
      "Proxy-Authorization: y\r\nMax-Forwards: 0\r\n\r\n";
  RequestHead request;
  RequestHeadParser parser;
  ASSERT_EQ(parser.parse(text, request).status, ParseResult::complete);
  std::string out(request.head_bytes + kTraceResponseSlackBytes, '\0');
  const size_t written = write_trace_response(request, out);
  const std::string body = "TRACE /t HTTP/1.1\r\nHost: a\r\nX-A: b\r\nMax-Forwards: 0\r\n\r\n";
  EXPECT_EQ(out.substr(0, written),
            "HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

TEST(WriteTraceResponse, FitsTheBoundWithTheMostFieldsAndNoSpaces) {
  std::string text = "TRACE / HTTP/1.1\r\nHost:a\r\n";
  for (uint32_t i = 1; i < kMaxHeaders; ++i) {
    text += "X:y\r\n";
  }
  text += "\r\n";
  RequestHead request;
  RequestHeadParser parser;
  ASSERT_EQ(parser.parse(text, request).status, ParseResult::complete);
  std::string out(request.head_bytes + kTraceResponseSlackBytes, '\0');
  EXPECT_GT(write_trace_response(request, out), 0u);
}

TEST(ReasonPhrase, KnowsTheCodesBallastSends) {
  EXPECT_EQ(reason_phrase(400), "Bad Request");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");  // RFC 9110's name
  EXPECT_EQ(reason_phrase(501), "Not Implemented");
  EXPECT_EQ(reason_phrase(504), "Gateway Timeout");
  EXPECT_EQ(reason_phrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(reason_phrase(299), "");
}

}  // namespace
}  // namespace ballast::http
