#include "http/header_rules.h"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "http/request_parser.h"
#include "http/request_target.h"
#include "http/response_parser.h"
#include "http/serializer.h"

namespace ballast::http {
namespace {

const TemplateValues kValues{"192.0.2.7", "r1",    "api",          "app.example",
                             "/a?b=1",    "https", "10.0.0.7:8080"};

ValueTemplate parsed(std::string_view text, bool response = false) {
  std::string error;
  const std::optional<ValueTemplate> value = ValueTemplate::parse(text, response, error);
  EXPECT_TRUE(value.has_value()) << error;
  return value.value_or(ValueTemplate{});
}

std::string rendered(const ValueTemplate& value) {
  std::string out(value.length(kValues), '\0');
  value.write(kValues, std::span<char>(out));
  return out;
}

std::string parse_error(std::string_view text, bool response = false) {
  std::string error;
  EXPECT_FALSE(ValueTemplate::parse(text, response, error).has_value()) << text;
  return error;
}

TEST(ValueTemplate, PutsTheRequestsValuesInPlaceOfItsVariables) {
  EXPECT_EQ(rendered(parsed("plain")), "plain");
  EXPECT_EQ(rendered(parsed("")), "");
  EXPECT_EQ(rendered(parsed("${client_ip}")), "192.0.2.7");
  EXPECT_EQ(rendered(parsed("${scheme}://${host}${path}")), "https://app.example/a?b=1");
  EXPECT_EQ(rendered(parsed("id=${request_id};route=${route}")), "id=r1;route=api");
  EXPECT_EQ(rendered(parsed("${server} ($route)", true)), "10.0.0.7:8080 ($route)");
  EXPECT_TRUE(parsed("a${host}").uses(TemplateVariable::host));
  EXPECT_FALSE(parsed("a${host}").uses(TemplateVariable::path));
}

TEST(ValueTemplate, RefusesWhatCouldSplitAHeadOrNameNothing) {
  EXPECT_EQ(parse_error("a\r\nX-Evil: 1"), "a value may not hold CR, LF or NUL");
  EXPECT_EQ(parse_error(std::string_view("a\0b", 3)), "a value may not hold CR, LF or NUL");
  EXPECT_EQ(parse_error("${client_ip"), "unclosed ${ in \"${client_ip\"");
  EXPECT_EQ(parse_error("${user}"),
            "unknown variable ${user}; known here: ${client_ip}, ${request_id}, ${route}, "
            "${scheme}, ${host}, ${path}");
  // A request's value cannot name the server (not chosen yet); a response's cannot name the
  // request's host or path (its head is gone by then).
  EXPECT_NE(parse_error("${server}"), "");
  EXPECT_EQ(parse_error("${path}", true),
            "unknown variable ${path}; known here: ${client_ip}, ${request_id}, ${route}, "
            "${scheme}, ${server}");
}

HeaderRules rules() {
  HeaderRules result;
  result.remove = {"x-debug"};
  result.set = {{"X-Env", parsed("prod")}};
  result.add = {{"X-Client", parsed("${client_ip}")}};
  return result;
}

TEST(HeaderRules, DropsTheFieldsItRemovesOrSetsWhateverTheirCase) {
  const HeaderRules changes = rules();
  EXPECT_TRUE(changes.drops("X-Debug"));
  EXPECT_TRUE(changes.drops("x-env"));
  EXPECT_FALSE(changes.drops("X-Client"));  // added beside the client's, not instead
  EXPECT_FALSE(changes.drops("X-Other"));
  EXPECT_TRUE(HeaderRules{}.empty());
  EXPECT_FALSE(changes.empty());
}

TEST(HeaderRules, ARequestHeadCarriesThemAndTheRewrittenTarget) {
  RequestHead head;
  RequestHeadParser parser;
  ASSERT_EQ(parser
                .parse("GET /api/items?x=1 HTTP/1.1\r\nHost: app\r\nX-Debug: 1\r\nx-env: dev\r\n"
                       "X-Client: proxy\r\n\r\n",
                       head)
                .status,
            ParseResult::complete);
  const HeaderRules changes = rules();
  ForwardContext context;
  context.client_ip = "192.0.2.7";
  context.scheme = "http";
  context.port = "80";
  context.edits = {&changes, kValues};
  context.rewrite_from = "/api/";
  context.rewrite_to = "/v2/";
  std::array<char, 4096> out;
  const size_t written = write_upstream_request(head, context, out);
  ASSERT_GT(written, 0u);
  const std::string sent(out.data(), written);
  EXPECT_TRUE(sent.starts_with("GET /v2/items?x=1 HTTP/1.1\r\nHost: app\r\nX-Client: proxy\r\n"))
      << sent;
  EXPECT_EQ(sent.find("X-Debug"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("dev"), std::string::npos) << sent;
  EXPECT_NE(sent.find("X-Env: prod\r\nX-Client: 192.0.2.7\r\n"), std::string::npos) << sent;
  // The bound serializer.h states holds with the rules' bytes added.
  std::array<char, 4096> tight;
  const size_t bound = head.head_bytes + kSerializeSlackBytes + 3 * 9 + 2 + 4 * 3 +
                       edits_length(context.edits) + context.rewrite_to.size();
  EXPECT_EQ(write_upstream_request(head, context, std::span<char>(tight.data(), bound)), written);
}

TEST(HeaderRules, AFinalResponseCarriesThemAnInterimOneDoesNot) {
  const HeaderRules changes = rules();
  const HeadEdits edits{&changes, kValues};
  ResponseHead head;
  ResponseHeadParser parser;
  ASSERT_EQ(parser
                .parse("HTTP/1.1 200 OK\r\nX-Debug: 1\r\nX-Env: dev\r\nContent-Length: 0\r\n\r\n",
                       false, head)
                .status,
            ParseResult::complete);
  std::array<char, 4096> out;
  size_t written = write_client_response(head, ClientDelivery::keep_alive, {}, edits, out);
  EXPECT_EQ(std::string(out.data(), written),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\nX-Env: prod\r\n"
            "X-Client: 192.0.2.7\r\n\r\n");
  ResponseHead interim;
  ResponseHeadParser interim_parser;
  ASSERT_EQ(
      interim_parser.parse("HTTP/1.1 103 Early Hints\r\nX-Debug: 1\r\n\r\n", false, interim).status,
      ParseResult::complete);
  written = write_client_response(interim, ClientDelivery::keep_alive, {}, edits, out);
  EXPECT_EQ(std::string(out.data(), written), "HTTP/1.1 103 Early Hints\r\nX-Debug: 1\r\n\r\n");
}

TEST(HeaderRules, ASetHostIsTheOnlyHostEvenForAnAbsoluteFormTarget) {
  RequestHead head;
  RequestHeadParser parser;
  std::string text = "GET http://app.example/x HTTP/1.1\r\nHost: other\r\n\r\n";
  ASSERT_EQ(parser.parse(text, head).status, ParseResult::complete);
  // As the session does before routing: the authority becomes the request's host.
  std::string target(head.target);
  head.target = target;
  ASSERT_EQ(normalize_request_target(std::span<char>(target.data(), target.size()), head).status,
            0);
  ASSERT_TRUE(head.host_from_target);
  HeaderRules changes;
  changes.set = {{"Host", parsed("backend.internal")}};
  ForwardContext context;
  context.client_ip = "192.0.2.7";
  context.scheme = "http";
  context.port = "80";
  context.edits = {&changes, kValues};
  std::array<char, 4096> out;
  const std::string sent(out.data(), write_upstream_request(head, context, out));
  EXPECT_EQ(sent.find("\r\nHost: "), sent.rfind("\r\nHost: ")) << sent;  // one Host line
  EXPECT_NE(sent.find("\r\nHost: backend.internal\r\n"), std::string::npos) << sent;
}

}  // namespace
}  // namespace ballast::http
