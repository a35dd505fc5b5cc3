#include "http/chunked_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace ballast::http {
namespace {

// What a caller sees after feeding its input.
struct Decoded {
  size_t consumed = 0;
  bool done = false;
  bool error = false;
  std::string payload;
};

// Feeds `input` to the parser, calling decode() until it is used up, done or failed.
Decoded decode_in(ChunkedParser& parser, std::string_view input, Decoded decoded) {
  while (!input.empty() && !decoded.done && !decoded.error) {
    const ChunkResult result = parser.decode(input);
    EXPECT_LE(result.consumed, input.size());
    if (!result.data.empty()) {
      EXPECT_EQ(result.data.data() + result.data.size(), input.data() + result.consumed);
    }
    decoded.payload += result.data;
    decoded.consumed += result.consumed;
    decoded.done = result.done;
    decoded.error = result.error;
    if (result.consumed == 0) {
      break;
    }
    input.remove_prefix(result.consumed);
  }
  return decoded;
}

// Decodes `input` arriving in pieces of `piece` bytes.
Decoded decode(std::string_view input, size_t piece = std::string_view::npos) {
  ChunkedParser parser;
  Decoded decoded;
  for (size_t offset = 0; offset < input.size() && !decoded.done && !decoded.error;
       offset += std::min(piece, input.size())) {
    decoded = decode_in(parser, input.substr(offset, piece), decoded);
  }
  return decoded;
}

void expect_rejected(std::string_view input) {
  SCOPED_TRACE(std::string(input));
  ChunkedParser parser;
  const ChunkResult result = parser.consume(input);
  EXPECT_TRUE(result.error);
  EXPECT_FALSE(result.reason.empty());
  EXPECT_LT(result.consumed, input.size());
}

TEST(ChunkedParser, DecodesChunksUpToTheEndOfTheBody) {
  const std::string body = "5\r\nhello\r\nA\r\n, chunked!\r\n0\r\n\r\n";
  const Decoded decoded = decode(body + "GET /next HTTP/1.1\r\n");
  EXPECT_TRUE(decoded.done);
  EXPECT_FALSE(decoded.error);
  EXPECT_EQ(decoded.payload, "hello, chunked!");
  EXPECT_EQ(decoded.consumed, body.size());  // the next request is not ours
}

TEST(ChunkedParser, ConsumeTakesAllItCanInOneCall) {
  const std::string body = "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
  ChunkedParser parser;
  ChunkResult result = parser.consume(body + "NEXT");
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.consumed, body.size());
  EXPECT_TRUE(result.data.empty());
  ChunkedParser partial;
  result = partial.consume(body.substr(0, 15));  // into the second chunk's data
  EXPECT_FALSE(result.done);
  EXPECT_EQ(result.consumed, 15u);
  result = partial.consume(std::string_view(body).substr(15));
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.consumed, body.size() - 15);
}

TEST(ChunkedParser, DecodeReturnsOneStretchOfDataPerCall) {
  ChunkedParser parser;
  const std::string_view input = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  ChunkResult result = parser.decode(input);
  EXPECT_EQ(result.consumed, 6u);
  EXPECT_EQ(result.data, "abc");
  result = parser.decode(input.substr(6));
  EXPECT_EQ(result.consumed, 7u);
  EXPECT_EQ(result.data, "de");
  result = parser.decode(input.substr(13));
  EXPECT_TRUE(result.done);
  EXPECT_EQ(result.consumed, 7u);
  EXPECT_TRUE(result.data.empty());
}

TEST(ChunkedParser, AcceptsHexCaseLeadingZerosExtensionsAndTrailers) {
  const std::string body =
      "00000A;name\r\n0123456789\r\n"
      "b;a=1;b=\"quoted; \\\"value\\\"\"\r\nhello world\r\n"
      "1 ; x = y ;z\t;q=\"\"\r\nX\r\n"
      "Ff;ext=\"caf\xc3\xa9\"\r\n" +
      std::string(255, 'f') +
      "\r\n"
      "0;last\r\nExpires: never\r\nX-Checksum:\t abc \r\nX-Empty:\r\n\r\n";
  const Decoded decoded = decode(body);
  EXPECT_TRUE(decoded.done);
  EXPECT_FALSE(decoded.error);
  EXPECT_EQ(decoded.consumed, body.size());
  EXPECT_EQ(decoded.payload, "0123456789hello worldX" + std::string(255, 'f'));
}

TEST(ChunkedParser, SplitAtEveryByteBoundaryGivesTheSameResult) {
  const std::string body =
      "4;ext=\"v\\\\\"\r\nWiki\r\n6 ;e\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n"
      "0\r\nTrailer-A: 1\r\nTrailer-B: two words\r\n\r\n";
  const Decoded whole = decode(body);
  ASSERT_TRUE(whole.done);
  EXPECT_EQ(whole.payload, "Wikipedia in \r\n\r\nchunks.");
  for (size_t split = 0; split <= body.size(); ++split) {
    SCOPED_TRACE(split);
    // Forwarding: each piece is taken whole until the body ends.
    ChunkedParser forwarding;
    const ChunkResult first = forwarding.consume(std::string_view(body).substr(0, split));
    ASSERT_FALSE(first.error);
    ASSERT_EQ(first.consumed, split);
    const ChunkResult second = forwarding.consume(std::string_view(body).substr(split));
    EXPECT_TRUE(second.done);
    EXPECT_EQ(second.consumed, body.size() - split);
    // Decoding: the same payload whatever the split.
    ChunkedParser decoding;
    Decoded decoded = decode_in(decoding, std::string_view(body).substr(0, split), {});
    ASSERT_EQ(decoded.consumed, split);
    decoded = decode_in(decoding, std::string_view(body).substr(split), decoded);
    EXPECT_TRUE(decoded.done);
    EXPECT_EQ(decoded.payload, whole.payload);
    EXPECT_EQ(decoded.consumed, body.size());
  }
  const Decoded byte_by_byte = decode(body, 1);
  EXPECT_TRUE(byte_by_byte.done);
  EXPECT_EQ(byte_by_byte.payload, whole.payload);
}

TEST(ChunkedParser, RejectsBadChunkSizes) {
  for (const char* body : {"\r\n", "g\r\n", "-1\r\n", "+1\r\n", "0x5\r\n", " 5\r\n", "5 \r\n",
                           "5\t\r\n", "5\n", "5\rX", ";ext\r\n", "1 2\r\n"}) {
    expect_rejected(body);
  }
}

TEST(ChunkedParser, RejectsSizesAbove64Bits) {
  ChunkedParser parser;
  EXPECT_FALSE(parser.consume("FFFFFFFFFFFFFFFF\r\nab").error);  // 2^64 - 1 is a size
  expect_rejected("10000000000000000\r\n");                      // 2^64 is not
  expect_rejected("000000000000000000000000000000000000000FFFFFFFFFFFFFFFF0\r\n");
}

TEST(ChunkedParser, RejectsBadExtensions) {
  for (const char* body :
       {"5;\r\n", "5;=v\r\n", "5;a=\r\n", "5;a b\r\n", "5;a=b c\r\n", "5;a=\"open\r\n",
        "5;a=\"x\"y\r\n", "5;a=\"\x01\"\r\n", "5;a=\"\\\x01\"\r\n", "5;a=(b)\r\n", "5;a\x7f\r\n",
        "5;a ;\r\n", "5;a=b \r\n"}) {
    expect_rejected(body);
  }
}

TEST(ChunkedParser, RejectsDataWithoutItsCrlf) {
  expect_rejected("5\r\nhelloX\r\n0\r\n\r\n");
  expect_rejected("5\r\nhello\n0\r\n\r\n");
  expect_rejected("5\r\nhello\rX");
  expect_rejected("5\r\nhel\r\n0\r\n\r\n");
}

TEST(ChunkedParser, RejectsBadTrailers) {
  for (const char* trailers : {" folded: x\r\n\r\n", "\tx: y\r\n\r\n", "No-Colon\r\n\r\n",
                               "Space : x\r\n\r\n", ": x\r\n\r\n",
                               "X: a\x01"
                               "b\r\n\r\n",
                               "X: a\r\r\n\r\n", "X: a\n\r\n", "\n", "\rX"}) {
    expect_rejected("0\r\n" + std::string(trailers));
  }
}

TEST(ChunkedParser, BoundsChunkSizeLinesAndTrailers) {
  const std::string long_extension = "5;e=" + std::string(ChunkedParser::kMaxChunkLineBytes, 'v');
  expect_rejected(long_extension + "\r\nhello\r\n0\r\n\r\n");
  expect_rejected(std::string(ChunkedParser::kMaxChunkLineBytes + 1, '0') + "5\r\n");
  const std::string fits =
      "5;e=" + std::string(ChunkedParser::kMaxChunkLineBytes - 6, 'v') + "\r\n";
  EXPECT_FALSE(decode(fits + "hello\r\n").error);
  std::string trailers = "0\r\n";
  while (trailers.size() < ChunkedParser::kMaxTrailerBytes + 16) {
    trailers += "X-Pad: " + std::string(90, 'p') + "\r\n";
  }
  expect_rejected(trailers + "\r\n");
}

TEST(ChunkedParser, RepeatsItsOutcomeUntilReset) {
  ChunkedParser parser;
  EXPECT_TRUE(parser.consume("0\r\n\r\n").done);
  EXPECT_TRUE(parser.done());
  ChunkResult again = parser.consume("5\r\nhello");
  EXPECT_TRUE(again.done);
  EXPECT_EQ(again.consumed, 0u);
  parser.reset();
  EXPECT_FALSE(parser.done());
  EXPECT_TRUE(parser.consume("x").error);
  again = parser.consume("0\r\n\r\n");
  EXPECT_TRUE(again.error);
  EXPECT_EQ(again.consumed, 0u);
}

}  // namespace
}  // namespace ballast::http
