#include "observe/json.h"

#include <gtest/gtest.h>

#include <string>

namespace ballast::observe {
namespace {

TEST(AppendJsonString, QuotesAndEscapesByTheOneRule) {
  const struct {
    std::string_view in;
    std::string_view out;
  } cases[] = {
      {"plain", "\"plain\""},
      {"a\"b\\c", "\"a\\\"b\\\\c\""},
      {"\n\x01\x7f", "\"\\u000a\\u0001\\u007f\""},
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},  // well-formed UTF-8 passes
      {"\xc0\xaf", "\"\\u00c0\\u00af\""},  // an overlong form does not
      {"", "\"\""},
  };
  for (const auto& c : cases) {
    std::string out = "x";
    append_json_string(out, c.in);
    EXPECT_EQ(out, "x" + std::string(c.out)) << c.in;
  }
}

TEST(AppendJsonString, AgreesWithTheFixedBufferEscaper) {
  std::string text;
  for (int byte = 0; byte < 256; ++byte) {
    text += static_cast<char>(byte);
  }
  std::string appended;
  append_json_string(appended, text);
  char buffer[2048];
  const std::string escaped(buffer, escape_json(text, buffer, buffer + sizeof(buffer)));
  EXPECT_EQ(appended, "\"" + escaped + "\"");
}

TEST(JsonWriter, PlacesCommasAndKeys) {
  std::string out;
  JsonWriter json(out);
  json.begin_object();
  json.field("name", "a\"b");
  json.field("count", uint64_t{3});
  json.key("list");
  json.begin_array();
  json.number(uint64_t{1});
  json.boolean(true);
  json.null();
  json.end_array();
  json.end_object();
  EXPECT_EQ(out, R"({"name":"a\"b","count":3,"list":[1,true,null]})");
}

}  // namespace
}  // namespace ballast::observe
