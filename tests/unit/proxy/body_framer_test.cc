#include "proxy/body_framer.h"

#include <gtest/gtest.h>

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
}  // namespace ballast::proxy
