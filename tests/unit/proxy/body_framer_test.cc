#include "proxy/body_framer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace ballast::proxy {
namespace {

TEST(BodyFramer, ContentLengthFramesExactlyTheBodyAndNoByteOfTheNextMessage) {
  BodyFramer framer;
  framer.start(http::BodyKind::content_length, 5);
  EXPECT_FALSE(framer.complete());
  ASSERT_TRUE(framer.frame("abc"));
  EXPECT_EQ(framer.ready_bytes(), 3u);
  framer.forwarded(3);
  ASSERT_TRUE(framer.frame("deGET / HTTP/1.1"));
  EXPECT_EQ(framer.ready_bytes(), 2u);
  EXPECT_TRUE(framer.complete());
  EXPECT_FALSE(framer.finished());
  framer.forwarded(2);
  EXPECT_TRUE(framer.finished());
}

TEST(BodyFramer, NoBodyAndEmptyBodyAreFinishedAtOnce) {
  BodyFramer framer;
  framer.start(http::BodyKind::none, 0);
  EXPECT_TRUE(framer.finished());
  framer.start(http::BodyKind::content_length, 0);
  EXPECT_TRUE(framer.finished());
}

TEST(BodyFramer, ChunkedFramesUpToTheEndOfTrailersAcrossSplits) {
  const std::string body = "4;ext=1\r\nWiki\r\n0\r\nTrailer: x\r\n\r\n";
  const std::string next = "GET /next HTTP/1.1\r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    BodyFramer framer;
    framer.start(http::BodyKind::chunked, 0);
    const std::string stream = body + next;
    ASSERT_TRUE(framer.frame(std::string_view(stream).substr(0, split)));
    const size_t first = framer.ready_bytes();
    ASSERT_TRUE(framer.frame(std::string_view(stream).substr(first)));
    EXPECT_EQ(framer.ready_bytes(), body.size()) << "split at " << split;
    EXPECT_TRUE(framer.complete());
  }
}

TEST(BodyFramer, BadChunkSizeIsAnError) {
  BodyFramer framer;
  framer.start(http::BodyKind::chunked, 0);
  EXPECT_FALSE(framer.frame("zz\r\n"));
  EXPECT_FALSE(framer.error_reason().empty());
}

TEST(BodyFramer, UntilCloseTakesEverythingAndNeverCompletes) {
  BodyFramer framer;
  framer.start(http::BodyKind::until_close, 0);
  ASSERT_TRUE(framer.frame("anything at all"));
  EXPECT_EQ(framer.ready_bytes(), 15u);
  EXPECT_FALSE(framer.complete());
  EXPECT_TRUE(framer.until_close());
}

}  // namespace
// What an HTTP/1.0 client receives from a chunked body, split anywhere: the payload alone, each
// stretch at the buffer's front once the framing before it is dropped.
std::string dechunk(std::string_view stream, size_t split, BodyFramer& framer) {
  std::string buffer;
  std::string delivered;
  std::string_view pending = stream;
  const auto feed = [&](size_t bytes) {
    buffer.append(pending.substr(0, bytes));
    pending.remove_prefix(std::min(bytes, pending.size()));
  };
  feed(split);
  for (int steps = 0; steps < 100 && !framer.finished(); ++steps) {
    EXPECT_TRUE(framer.frame(buffer));
    buffer.erase(0, framer.take_skipped());
    delivered.append(buffer.substr(0, framer.ready_bytes()));
    buffer.erase(0, framer.ready_bytes());
    framer.forwarded(framer.ready_bytes());
    feed(pending.size());
  }
  EXPECT_TRUE(framer.finished());
  EXPECT_EQ(buffer, "GET /next HTTP/1.1\r\n");  // not a byte of the next message
  return delivered;
}

TEST(BodyFramer, DechunkedDeliversOnlyThePayloadAcrossSplits) {
  const std::string stream =
      "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n"
      "GET /next HTTP/1.1\r\n";
  for (size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE(split);
    BodyFramer framer;
    framer.start(http::BodyKind::chunked, 0, BodyFramer::Coding::dechunked);
    EXPECT_EQ(dechunk(stream, split, framer), "Wikipedia in\r\n\r\nchunks.");
  }
}

TEST(BodyFramer, DechunkedWaitsForTheReadyPayloadToLeaveFirst) {
  BodyFramer framer;
  framer.start(http::BodyKind::chunked, 0, BodyFramer::Coding::dechunked);
  ASSERT_TRUE(framer.frame("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  EXPECT_EQ(framer.take_skipped(), 3u);
  EXPECT_EQ(framer.ready_bytes(), 3u);
  ASSERT_TRUE(framer.frame("abc\r\n2\r\nde\r\n0\r\n\r\n"));  // not forwarded yet
  EXPECT_EQ(framer.take_skipped(), 0u);
  EXPECT_EQ(framer.ready_bytes(), 3u);
}

TEST(BodyFramer, DechunkedReportsABadChunk) {
  BodyFramer framer;
  framer.start(http::BodyKind::chunked, 0, BodyFramer::Coding::dechunked);
  EXPECT_FALSE(framer.frame("zz\r\n"));
  EXPECT_FALSE(framer.error_reason().empty());
}

}  // namespace ballast::proxy
