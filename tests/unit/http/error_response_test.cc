#include "http/error_response.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

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
