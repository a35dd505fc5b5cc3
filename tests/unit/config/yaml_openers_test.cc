#include "config/yaml_openers.h"

#include <gtest/gtest.h>

namespace ballast::config {
namespace {

TEST(FindUnclosed, FindsTheOpenerAndTheEnd) {
  const std::optional<Unclosed> open = find_unclosed("a: [1, 2,\n  3\nb: 4\n");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->opener, '[');
  EXPECT_EQ(open->from.line, 1);
  EXPECT_EQ(open->from.column, 4);
  EXPECT_EQ(open->end.line, 3);
}

TEST(FindUnclosed, ReportsTheInnermostOpenConstruct) {
  const std::optional<Unclosed> open = find_unclosed("a: [{x: 1}, {y: 2\n");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->opener, '{');
  EXPECT_EQ(open->from.column, 13);
}

TEST(FindUnclosed, FollowsQuotesAndComments) {
  EXPECT_FALSE(find_unclosed("a: \"[not a bracket\"\nb: 'it''s [fine'  # a [ comment\n"));
  EXPECT_FALSE(find_unclosed("a: don't [x]\n"));  // an apostrophe inside a plain scalar
  const std::optional<Unclosed> quote = find_unclosed("a: 1\nb: \"open\nc: 2\n");
  ASSERT_TRUE(quote);
  EXPECT_EQ(quote->opener, '"');
  EXPECT_EQ(quote->from.line, 2);
  EXPECT_EQ(quote->from.column, 4);
}

TEST(FindUnclosed, ClosedTextHasNothingOpen) {
  EXPECT_FALSE(find_unclosed(""));
  EXPECT_FALSE(find_unclosed("a: {b: [1, 2], c: \"x\\\"y\"}\n"));
}

}  // namespace
}  // namespace ballast::config
