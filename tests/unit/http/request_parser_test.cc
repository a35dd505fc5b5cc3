#include "http/request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace ballast::http {
namespace {

struct Parsed {
  ParseResult result;
  RequestHead head;
};

Parsed parse(std::string_view text, Limits limits = {}) {
  Parsed parsed;
  RequestHeadParser parser(limits);
  parsed.result = parser.parse(text, parsed.head);
  return parsed;
}

// Parses `text` and expects a rejection with `status`.
void expect_rejected(std::string_view text, uint16_t status, Limits limits = {}) {
  SCOPED_TRACE(std::string(text));
  const Parsed parsed = parse(text, limits);
  EXPECT_EQ(parsed.result.status, ParseResult::error);
  EXPECT_EQ(parsed.result.error_status, status);
  EXPECT_FALSE(parsed.result.reason.empty());
}

void expect_complete(std::string_view text) {
  SCOPED_TRACE(std::string(text));
  EXPECT_EQ(parse(text).result.status, ParseResult::complete) << parse(text).result.reason;
}

// A request with these field lines (each ending in CRLF) after an HTTP/1.1 request line.
std::string with_fields(std::string_view fields) {
  return "POST /upload HTTP/1.1\r\nHost: example.com\r\n" + std::string(fields) + "\r\n";
}

TEST(RequestHeadParser, ParsesASimpleGet) {
  const std::string text =
      "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent:  curl/8.0 \t\r\n"
      "Accept: */*\r\n\r\n";
  const Parsed parsed = parse(text);
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  const RequestHead& head = parsed.head;
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html?q=1");
  EXPECT_EQ(head.version_minor, 1);
  ASSERT_EQ(head.headers.count, 3u);
  EXPECT_EQ(head.headers.lines[0].name, "Host");
  EXPECT_EQ(head.headers.lines[0].value, "example.com");
  EXPECT_EQ(head.headers.lines[1].name, "User-Agent");
  EXPECT_EQ(head.headers.lines[1].value, "curl/8.0");  // optional whitespace trimmed
  EXPECT_EQ(head.headers.lines[2].value, "*/*");
  EXPECT_TRUE(head.has_host);
  EXPECT_EQ(head.host, "example.com");
  EXPECT_EQ(head.body_kind, BodyKind::none);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_EQ(head.skipped_bytes, 0u);
  EXPECT_EQ(head.head_bytes, text.size());
}

TEST(RequestHeadParser, ViewsPointIntoTheCallersBuffer) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const Parsed parsed = parse(text);
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  EXPECT_EQ(parsed.head.method.data(), text.data());
  EXPECT_EQ(parsed.head.host.data(), text.data() + 22);
}

TEST(RequestHeadParser, AcceptsEmptyValuesObsTextAndInnerTabs) {
  const Parsed parsed = parse(
      "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Text: caf\xc3\xa9\tna\xefve\r\n\r\n");
  ASSERT_EQ(parsed.result.status, ParseResult::complete) << parsed.result.reason;
  EXPECT_EQ(parsed.head.target, "/caf\xc3\xa9");
  EXPECT_EQ(parsed.head.headers.lines[1].value, "");
  EXPECT_EQ(parsed.head.headers.lines[2].value, "caf\xc3\xa9\tna\xefve");
}

TEST(RequestHeadParser, AcceptsEveryTargetForm) {
  expect_complete("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  expect_complete("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  expect_complete("GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n");
  expect_complete("M-SEARCH * HTTP/1.1\r\nHost: [2001:db8::1]:1900\r\n\r\n");
}

TEST(RequestHeadParser, FindsFieldsCaseInsensitively) {
  const Parsed parsed = parse("GET / HTTP/1.1\r\nHost: a\r\nCookie: x=1\r\ncookie: y=2\r\n\r\n");
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  const Header* cookie = parsed.head.headers.find("COOKIE");
  ASSERT_NE(cookie, nullptr);
  EXPECT_EQ(cookie->value, "x=1");
  EXPECT_EQ(parsed.head.headers.find("Missing"), nullptr);
}

TEST(RequestHeadParser, SkipsEmptyLinesBeforeTheRequestLine) {
  const std::string text = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const Parsed parsed = parse(text);
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  EXPECT_EQ(parsed.head.skipped_bytes, 4u);
  EXPECT_EQ(parsed.head.head_bytes, text.size());
  EXPECT_EQ(parsed.head.method, "GET");
  expect_rejected("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT_EQ(parse("\r\n\r\n").result.status, ParseResult::incomplete);
}

// ---- Persistence and Expect ----

TEST(RequestHeadParser, KeepAliveFollowsVersionAndConnection) {
  const struct {
    std::string_view text;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: x-keep-alive\r\n\r\n", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.text));
    const Parsed parsed = parse(c.text);
    ASSERT_EQ(parsed.result.status, ParseResult::complete);
    EXPECT_EQ(parsed.head.keep_alive, c.keep_alive);
  }
}

TEST(RequestHeadParser, ExpectContinueOnlyOnHttp11) {
  EXPECT_TRUE(
      parse(with_fields("Expect: 100-Continue\r\nContent-Length: 1\r\n")).head.expect_continue);
  EXPECT_FALSE(parse(with_fields("Expect: something-else\r\n")).head.expect_continue);
  EXPECT_FALSE(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").head.expect_continue);
}

// ---- Framing ----

TEST(RequestHeadParser, ContentLengthFramesTheBody) {
  Parsed parsed = parse(with_fields("Content-Length: 42\r\n"));
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  EXPECT_EQ(parsed.head.body_kind, BodyKind::content_length);
  EXPECT_EQ(parsed.head.content_length, 42u);
  // Zero is still a Content-Length: the serializer must pass it on (a POST needs it).
  parsed = parse(with_fields("Content-Length: 0\r\n"));
  EXPECT_EQ(parsed.head.body_kind, BodyKind::content_length);
  EXPECT_EQ(parsed.head.content_length, 0u);
  parsed = parse(with_fields("Content-Length: 18446744073709551615\r\n"));
  EXPECT_EQ(parsed.head.content_length, UINT64_MAX);
}

TEST(RequestHeadParser, IdenticalContentLengthsAreOne) {
  for (const char* fields :
       {"Content-Length: 5\r\nContent-Length: 5\r\n", "Content-Length: 5, 5\r\n",
        "Content-Length: 005\r\nContent-Length: 5\r\n"}) {
    const Parsed parsed = parse(with_fields(fields));
    ASSERT_EQ(parsed.result.status, ParseResult::complete) << fields;
    EXPECT_EQ(parsed.head.content_length, 5u);
  }
}

TEST(RequestHeadParser, ChunkedFramesTheBody) {
  for (const char* fields : {"Transfer-Encoding: chunked\r\n", "transfer-encoding: CHUNKED\r\n",
                             "Transfer-Encoding: ,chunked,\r\n"}) {
    const Parsed parsed = parse(with_fields(fields));
    ASSERT_EQ(parsed.result.status, ParseResult::complete) << fields;
    EXPECT_EQ(parsed.head.body_kind, BodyKind::chunked);
  }
}

TEST(RequestHeadParser, RejectsAmbiguousContentLength) {
  expect_rejected(with_fields("Content-Length: 5\r\nContent-Length: 6\r\n"), 400);
  expect_rejected(with_fields("Content-Length: 5, 6\r\n"), 400);
  for (const char* value : {"abc", "-1", "+5", "5 5", "0x5", "5.0", "", ",", "1e3"}) {
    expect_rejected(with_fields("Content-Length: " + std::string(value) + "\r\n"), 400);
  }
  expect_rejected(with_fields("Content-Length: 18446744073709551616\r\n"), 400);
  expect_rejected(with_fields("Content-Length: 99999999999999999999999\r\n"), 400);
}

TEST(RequestHeadParser, RejectsContentLengthWithTransferEncoding) {
  expect_rejected(with_fields("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400);
  expect_rejected(with_fields("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400);
}

TEST(RequestHeadParser, RejectsTransferEncodingOtherThanAFinalChunked) {
  // RFC 9112 §6.3: chunked missing or not last leaves the length unknown, 400.
  expect_rejected(with_fields("Transfer-Encoding: gzip\r\n"), 400);
  expect_rejected(with_fields("Transfer-Encoding: identity\r\n"), 400);
  expect_rejected(with_fields("Transfer-Encoding: chunked, gzip\r\n"), 400);
  expect_rejected(with_fields("Transfer-Encoding:\r\n"), 400);
  // RFC 9112 §7: chunked at most once.
  expect_rejected(with_fields("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400);
  // A coding we cannot forward (we re-frame the body as plain chunked): 501, as nginx answers.
  expect_rejected(with_fields("Transfer-Encoding: gzip, chunked\r\n"), 501);
  expect_rejected(with_fields("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 501);
  expect_rejected(with_fields("Transfer-Encoding: chunked;q=1\r\n"), 400);
  // RFC 9112 §6.1: HTTP/1.0 has no Transfer-Encoding; its framing is faulty.
  expect_rejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400);
}

// ---- Field-line syntax ----

TEST(RequestHeadParser, RejectsObsFold) {
  expect_rejected(with_fields("X-A: one\r\n  two\r\n"), 400);
  expect_rejected(with_fields("X-A: one\r\n\ttwo\r\n"), 400);
  // Whitespace between the request line and the first field line (RFC 9112 §2.2).
  expect_rejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);
}

TEST(RequestHeadParser, RejectsBareCr) {
  expect_rejected(with_fields("X-A: one\rtwo\r\n"), 400);
  expect_rejected(with_fields("X-A: one\r\r\n"), 400);
  expect_rejected(with_fields("\rX-A: one\r\n"), 400);
  expect_rejected("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 400);
}

TEST(RequestHeadParser, RejectsBareLf) {
  expect_rejected("GET / HTTP/1.1\nHost: a\n\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
  // Rejected at once, not after waiting for a CRLF CRLF that may never come.
  const Parsed parsed = parse("GET / HTTP/1.1\nHost");
  EXPECT_EQ(parsed.result.status, ParseResult::error);
}

TEST(RequestHeadParser, RejectsInvalidFieldNames) {
  expect_rejected(with_fields("Bad Name: x\r\n"), 400);
  expect_rejected(with_fields("Bad(Name): x\r\n"), 400);
  expect_rejected(with_fields("B\xc3\xa4"
                              "d: x\r\n"),
                  400);
  expect_rejected(with_fields(": x\r\n"), 400);
  expect_rejected(with_fields("NoColon\r\n"), 400);
  expect_rejected(with_fields("Content-Length : 5\r\n"), 400);
  expect_rejected(with_fields("Content-Length\t: 5\r\n"), 400);
}

TEST(RequestHeadParser, RejectsControlCharactersInValues) {
  expect_rejected(with_fields(std::string("X-A: a\0b\r\n", 10)), 400);
  expect_rejected(with_fields("X-A: a\x01"
                              "b\r\n"),
                  400);
  expect_rejected(with_fields("X-A: a\x1f"
                              "b\r\n"),
                  400);
  expect_rejected(with_fields("X-A: a\x7f"
                              "b\r\n"),
                  400);
  // A long value, so the control character falls past the eight-byte fast path.
  expect_rejected(
      with_fields("X-A: " + std::string(37, 'v') + "\x0b" + std::string(20, 'v') + "\r\n"), 400);
}

// ---- Request line ----

TEST(RequestHeadParser, RejectsBadRequestLines) {
  for (const char* line :
       {"G(ET / HTTP/1.1", "GET\t/ HTTP/1.1", " GET / HTTP/1.1", "GET  / HTTP/1.1",
        "GET / HTTP/1.1 ", "GET /a b HTTP/1.1", "GET /\x01 HTTP/1.1", "GET /\x7f HTTP/1.1", "GET /",
        "GET / ", "GET", "/ HTTP/1.1", "GET / HTTPS/1.1", "GET / http/1.1", "GET / HTTP/1.10",
        "GET / HTTP/11"}) {
    expect_rejected(std::string(line) + "\r\nHost: a\r\n\r\n", 400);
  }
}

TEST(RequestHeadParser, RejectsOtherVersionsWith505) {
  for (const char* version : {"HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.1"}) {
    expect_rejected("GET / " + std::string(version) + "\r\nHost: a\r\n\r\n", 505);
  }
}

// ---- Host ----

TEST(RequestHeadParser, Http11NeedsExactlyOneValidHost) {
  expect_rejected("GET / HTTP/1.1\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400);
  expect_rejected("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
  // Empty is valid: a target without an authority (RFC 9112 §3.2).
  expect_complete("GET / HTTP/1.1\r\nHost:\r\n\r\n");
  const Parsed parsed = parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(parsed.result.status, ParseResult::complete);
  EXPECT_FALSE(parsed.head.has_host);
}

// ---- Limits ----

TEST(RequestHeadParser, HeadAtTheByteLimitIsAccepted) {
  const std::string text = with_fields("X-Pad: " + std::string(100, 'p') + "\r\n");
  const Limits limits{.max_head_bytes = text.size(), .max_headers = 100};
  EXPECT_EQ(parse(text, limits).result.status, ParseResult::complete);
  expect_rejected(text, 431, {.max_head_bytes = text.size() - 1, .max_headers = 100});
}

TEST(RequestHeadParser, OversizedHeadIsRejectedWithoutWaitingForItsEnd) {
  const Limits limits{.max_head_bytes = 1024, .max_headers = 100};
  RequestHeadParser parser(limits);
  RequestHead head;
  std::string text = "GET / HTTP/1.1\r\nX-Pad: ";
  text.append(1023 - text.size(), 'p');
  EXPECT_EQ(parser.parse(text, head).status, ParseResult::incomplete);
  text.push_back('p');  // 1024 bytes and no end in sight: the head cannot fit
  const ParseResult result = parser.parse(text, head);
  EXPECT_EQ(result.status, ParseResult::error);
  EXPECT_EQ(result.error_status, 431);
}

TEST(RequestHeadParser, LimitsTheNumberOfFields) {
  std::string fields;
  for (int i = 0; i < 9; ++i) {
    fields += "X-" + std::to_string(i) + ": v\r\n";
  }
  const Limits ten{.max_head_bytes = 64 * 1024, .max_headers = 10};  // with Host, 10 lines
  EXPECT_EQ(parse(with_fields(fields), ten).result.status, ParseResult::complete);
  expect_rejected(with_fields(fields + "X-Last: v\r\n"), 431, ten);
}

TEST(RequestHeadParser, FieldLimitNeverExceedsTheInlineArray) {
  std::string fields;
  for (uint32_t i = 0; i < kMaxHeaders; ++i) {
    fields += "X-" + std::to_string(i) + ": v\r\n";
  }
  expect_rejected(with_fields(fields), 431, {.max_head_bytes = 64 * 1024, .max_headers = 1000});
}

// ---- Hop-by-hop ----

TEST(RequestHeadParser, MarksFieldsNotToForward) {
  const Parsed parsed = parse(
      "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Private, Host\r\nX-Private: 1\r\n"
      "Keep-Alive: 5\r\nTE: trailers\r\nUpgrade: websocket\r\nProxy-Authorization: x\r\n"
      "Content-Length: 0\r\nAccept: */*\r\nTrailer: X-Sum\r\n\r\n");
  ASSERT_EQ(parsed.result.status, ParseResult::complete) << parsed.result.reason;
  const HeaderFields& fields = parsed.head.headers;
  std::string forwarded;
  for (uint32_t i = 0; i < fields.count; ++i) {
    if (fields.forwarded(i)) {
      forwarded += std::string(fields.lines[i].name) + ";";
    }
  }
  // Host stays though Connection names it: no client may strip it.
  EXPECT_EQ(forwarded, "Host;Accept;Trailer;");
}

TEST(RequestHeadParser, BoundsConnectionOptions) {
  std::string options = "a0";
  for (int i = 1; i < 16; ++i) {
    options += ", a" + std::to_string(i);
  }
  expect_complete(with_fields("Connection: " + options + "\r\n"));
  expect_rejected(with_fields("Connection: " + options + ", one-more\r\n"), 400);
}

// ---- Incremental and pipelined input ----

// Samples covering every part of the grammar, for the incremental tests.
const char* const kSamples[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "\r\nPOST /form HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 11\r\nExpect: "
    "100-continue\r\nX-Empty: \r\n\r\n",
    "PUT /x HTTP/1.0\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\nX-B:\t tabbed \t\r\n\r\n",
    "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
};

void expect_same_head(const RequestHead& a, const RequestHead& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.version_minor, b.version_minor);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.body_kind, b.body_kind);
  EXPECT_EQ(a.content_length, b.content_length);
  EXPECT_EQ(a.keep_alive, b.keep_alive);
  EXPECT_EQ(a.expect_continue, b.expect_continue);
  EXPECT_EQ(a.skipped_bytes, b.skipped_bytes);
  EXPECT_EQ(a.head_bytes, b.head_bytes);
  ASSERT_EQ(a.headers.count, b.headers.count);
  EXPECT_EQ(a.headers.not_forwarded, b.headers.not_forwarded);
  for (uint32_t i = 0; i < a.headers.count; ++i) {
    EXPECT_EQ(a.headers.lines[i].name, b.headers.lines[i].name);
    EXPECT_EQ(a.headers.lines[i].value, b.headers.lines[i].value);
  }
}

TEST(RequestHeadParser, ByteByByteEqualsOneShot) {
  for (const char* sample : kSamples) {
    const std::string text = sample;
    SCOPED_TRACE(text);
    const Parsed one_shot = parse(text);
    RequestHeadParser parser;
    RequestHead head;
    ParseResult result;
    // Each call gets a fresh copy of the prefix, so the parser cannot keep pointers between calls.
    std::string buffer;
    size_t fed = 0;
    while (fed < text.size()) {
      buffer = text.substr(0, ++fed);
      result = parser.parse(buffer, head);
      if (result.status != ParseResult::incomplete) {
        break;
      }
    }
    EXPECT_EQ(result.status, one_shot.result.status);
    EXPECT_EQ(result.error_status, one_shot.result.error_status);
    EXPECT_EQ(result.reason, one_shot.result.reason);
    if (result.status == ParseResult::complete) {
      EXPECT_EQ(fed, text.size());  // complete exactly when the last byte arrives
      const Parsed reparsed = parse(buffer);
      expect_same_head(head, reparsed.head);
      expect_same_head(head, one_shot.head);
    }
  }
}

TEST(RequestHeadParser, RepeatsItsAnswerUntilReset) {
  RequestHeadParser parser;
  RequestHead head;
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next";
  EXPECT_EQ(parser.parse(text, head).status, ParseResult::complete);
  const std::string more = text + " HTTP/1.1\r\n";
  EXPECT_EQ(parser.parse(more, head).status, ParseResult::complete);
  EXPECT_EQ(head.target, "/");
  RequestHeadParser failing;
  EXPECT_EQ(failing.parse("GET / HTTP/1.1\n", head).status, ParseResult::error);
  EXPECT_EQ(failing.parse("GET / HTTP/1.1\n\r\n", head).status, ParseResult::error);
  failing.reset();
  EXPECT_EQ(failing.parse("GET / HTTP/1.0\r\n\r\n", head).status, ParseResult::complete);
}

TEST(RequestHeadParser, ParsesPipelinedRequestsInOneBuffer) {
  const std::string buffer =
      "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  RequestHeadParser parser;
  RequestHead head;
  std::string_view rest = buffer;
  std::string targets;
  while (!rest.empty()) {
    parser.reset();
    ASSERT_EQ(parser.parse(rest, head).status, ParseResult::complete);
    targets += std::string(head.target) + " ";
    rest.remove_prefix(head.head_bytes);
    if (head.body_kind == BodyKind::content_length) {
      EXPECT_EQ(rest.substr(0, head.content_length), "hello");
      rest.remove_prefix(head.content_length);
    }
  }
  EXPECT_EQ(targets, "/a /b /c ");
  EXPECT_FALSE(head.keep_alive);
}

}  // namespace
}  // namespace ballast::http
