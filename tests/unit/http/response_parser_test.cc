#include "http/response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace ballast::http {
namespace {

struct Parsed {
  ParseResult result;
  ResponseHead head;
};

Parsed parse(std::string_view text, bool request_was_head = false, Limits limits = {}) {
  Parsed parsed;
  ResponseHeadParser parser(limits);
  parsed.result = parser.parse(text, request_was_head, parsed.head);
  return parsed;
}

void expect_rejected(std::string_view text, Limits limits = {}) {
  SCOPED_TRACE(std::string(text));
  const Parsed parsed = parse(text, false, limits);
  EXPECT_EQ(parsed.result.status, ParseResult::error);
  EXPECT_EQ(parsed.result.error_status, 502);
  EXPECT_FALSE(parsed.result.reason.empty());
}

TEST(ResponseHeadParser, ParsesAContentLengthResponse) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n<html>";
  const Parsed parsed = parse(text);
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  const ResponseHead& head = parsed.head;
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.reason, "OK");
  EXPECT_EQ(head.version_minor, 1);
  ASSERT_EQ(head.headers.count, 2u);
  EXPECT_EQ(head.headers.lines[0].value, "text/html");
  EXPECT_EQ(head.body_kind, BodyKind::content_length);
  EXPECT_TRUE(head.has_content_length);
  EXPECT_EQ(head.content_length, 1234u);
  EXPECT_FALSE(head.chunked);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_EQ(head.head_bytes, text.size() - 6);
}

TEST(ResponseHeadParser, ReadsReasonPhrases) {
  EXPECT_EQ(parse("HTTP/1.1 404 Not Found\r\n\r\n").head.reason, "Not Found");
  EXPECT_EQ(parse("HTTP/1.1 200 \r\n\r\n").head.reason, "");
  EXPECT_EQ(parse("HTTP/1.1 200\r\n\r\n").head.reason, "");
  EXPECT_EQ(parse("HTTP/1.1 599 very\tcustom  \xe2\x9c\x93\r\n\r\n").head.reason,
            "very\tcustom  \xe2\x9c\x93");
}

TEST(ResponseHeadParser, FramesTheBody) {
  const struct {
    std::string_view text;
    bool request_was_head;
    BodyKind body_kind;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, BodyKind::chunked},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, BodyKind::content_length},
      {"HTTP/1.1 200 OK\r\n\r\n", false, BodyKind::until_close},
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true, BodyKind::none},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true, BodyKind::none},
      {"HTTP/1.1 200 OK\r\n\r\n", true, BodyKind::none},
      {"HTTP/1.1 100 Continue\r\n\r\n", false, BodyKind::none},
      {"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", false, BodyKind::none},
      {"HTTP/1.1 204 No Content\r\n\r\n", false, BodyKind::none},
      {"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", false, BodyKind::none},
      {"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", false, BodyKind::content_length},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.text));
    const Parsed parsed = parse(c.text, c.request_was_head);
    ASSERT_EQ(parsed.result.status, ParseResult::complete) << parsed.result.reason;
    EXPECT_EQ(parsed.head.body_kind, c.body_kind);
  }
}

TEST(ResponseHeadParser, KeepsDeclaredLengthWhenNoBodyFollows) {
  const Parsed head_response = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true);
  EXPECT_TRUE(head_response.head.has_content_length);
  EXPECT_EQ(head_response.head.content_length, 10u);
  const Parsed not_modified = parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n");
  EXPECT_TRUE(not_modified.head.has_content_length);
  EXPECT_EQ(not_modified.head.content_length, 7u);
}

TEST(ResponseHeadParser, KeepAliveFollowsVersionConnectionAndFraming) {
  const struct {
    std::string_view text;
    bool keep_alive;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\n\r\n", false},  // the body ends only when the connection does
      {"HTTP/1.1 204 No Content\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.text));
    const Parsed parsed = parse(c.text);
    ASSERT_EQ(parsed.result.status, ParseResult::complete);
    EXPECT_EQ(parsed.head.keep_alive, c.keep_alive);
  }
}

TEST(ResponseHeadParser, ParsesAFinalResponseAfterAnInterimOne) {
  const std::string buffer =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
  ResponseHeadParser parser;
  ResponseHead head;
  ASSERT_EQ(parser.parse(buffer, false, head).status, ParseResult::complete);
  EXPECT_EQ(head.status, 100);
  const std::string_view rest = std::string_view(buffer).substr(head.head_bytes);
  parser.reset();
  ASSERT_EQ(parser.parse(rest, false, head).status, ParseResult::complete);
  EXPECT_EQ(head.status, 201);
  EXPECT_EQ(rest.substr(head.head_bytes), "ok");
}

TEST(ResponseHeadParser, MarksFieldsNotToForward) {
  const Parsed parsed = parse(
      "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nX-Internal: 1\r\nKeep-Alive: "
      "timeout=5\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\nSet-Cookie: a=1\r\n\r\n");
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  const HeaderFields& fields = parsed.head.headers;
  ASSERT_EQ(fields.count, 6u);
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_FALSE(fields.forwarded(i)) << fields.lines[i].name;
  }
  EXPECT_TRUE(fields.forwarded(5));
}

TEST(ResponseHeadParser, RejectsBadStatusLines) {
  for (const char* line :
       {"HTTP/2 200 OK", "HTTP/1.2 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 20x OK",
        "HTTP/1.1 099 Low", "HTTP/1.1 600 High", "HTTP/1.1  200 OK", "HTTP/1.1", "HTTP/1.1 ",
        "http/1.1 200 OK", "ICY 200 OK", "HTTP/1.1 200 O\x01K", "HTTP/1.1 200OK",
        "HTTP/1.1 200 OK\rX"}) {
    expect_rejected(std::string(line) + "\r\n\r\n");
  }
}

TEST(ResponseHeadParser, RejectsAmbiguousFraming) {
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n");
  expect_rejected("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST(ResponseHeadParser, RejectsMalformedFieldLines) {
  expect_rejected("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\r\nX-A: 1\r2\r\n\r\n");
  expect_rejected("HTTP/1.1 200 OK\nX-A: 1\r\n\r\n");
  expect_rejected("\r\nHTTP/1.1 200 OK\r\n\r\n");  // no leading empty lines in a response
}

TEST(ResponseHeadParser, EnforcesLimits) {
  expect_rejected("HTTP/1.1 200 OK\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n",
                  {.max_head_bytes = 64, .max_headers = 100});
  expect_rejected("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                  {.max_head_bytes = 1024, .max_headers = 2});
}

TEST(ResponseHeadParser, ByteByByteEqualsOneShot) {
  for (const char* sample :
       {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: x-a\r\nX-A: 1\r\n\r\n",
        "HTTP/1.0 304 Not Modified\r\nContent-Length: 12\r\nETag: \"abc\"\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"}) {
    const std::string text = sample;
    SCOPED_TRACE(text);
    const Parsed one_shot = parse(text);
    ResponseHeadParser parser;
    ResponseHead head;
    ParseResult result;
    std::string buffer;
    for (size_t fed = 1; fed <= text.size(); ++fed) {
      buffer = text.substr(0, fed);
      result = parser.parse(buffer, false, head);
      if (result.status != ParseResult::incomplete) {
        EXPECT_EQ(fed, text.size());
        break;
      }
    }
    ASSERT_EQ(result.status, one_shot.result.status);
    EXPECT_EQ(result.reason, one_shot.result.reason);
    if (result.status == ParseResult::complete) {
      EXPECT_EQ(head.status, one_shot.head.status);
      EXPECT_EQ(head.body_kind, one_shot.head.body_kind);
      EXPECT_EQ(head.content_length, one_shot.head.content_length);
      EXPECT_EQ(head.keep_alive, one_shot.head.keep_alive);
      EXPECT_EQ(head.head_bytes, one_shot.head.head_bytes);
      EXPECT_EQ(head.headers.count, one_shot.head.headers.count);
      EXPECT_EQ(head.headers.not_forwarded, one_shot.head.headers.not_forwarded);
    }
  }
}

}  // namespace
}  // namespace ballast::http
