#include "discovery/server_record.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace ballast::discovery {
namespace {

config::ServerConfig make_server(std::string host, uint16_t port, uint32_t weight = 1,
                                 bool backup = false, std::string region = "") {
  config::ServerConfig server;
  server.host = std::move(host);
  server.port = port;
  server.weight = weight;
  server.backup = backup;
  server.region = std::move(region);
  return server;
}

// The record, or a test failure naming the error.
config::ServerConfig parse(std::string_view json) {
  std::string error;
  const std::optional<config::ServerConfig> server = parse_server_record(json, error);
  EXPECT_TRUE(server.has_value()) << json << ": " << error;
  return server.value_or(config::ServerConfig{});
}

// The error a refused record gets.
std::string refusal(std::string_view json) {
  std::string error;
  const std::optional<config::ServerConfig> server = parse_server_record(json, error);
  EXPECT_FALSE(server.has_value()) << json;
  EXPECT_FALSE(error.empty()) << json;
  return error;
}

TEST(ServerRecord, ReadsEveryField) {
  const config::ServerConfig server =
      parse(R"({"host": "10.0.0.5", "port": 8080, "weight": 2, "region": "eu-west_1",
                "backup": true})");
  EXPECT_EQ(server.host, "10.0.0.5");
  EXPECT_EQ(server.port, 8080);
  EXPECT_EQ(server.weight, 2u);
  EXPECT_EQ(server.region, "eu-west_1");
  EXPECT_TRUE(server.backup);
  EXPECT_EQ(server.max_connections, 0u);
}

TEST(ServerRecord, HostAndPortAloneTakeTheDefaults) {
  const config::ServerConfig server = parse(R"({"host": "10.0.0.7", "port": 1})");
  EXPECT_EQ(server, make_server("10.0.0.7", 1));
  EXPECT_EQ(server.weight, 1u);
  EXPECT_FALSE(server.backup);
  EXPECT_EQ(server.region, "");
}

TEST(ServerRecord, TakesIpv6AndTheRangesEnds) {
  EXPECT_EQ(parse(R"({"host": "fd00::5", "port": 65535})").port, 65535);
  EXPECT_EQ(parse(R"({"host": "10.0.0.1", "port": 80, "weight": 1000000})").weight, 1'000'000u);
}

TEST(ServerRecord, IgnoresFieldsItDoesNotKnow) {
  const config::ServerConfig server = parse(
      R"({"host": "10.0.0.1", "port": 80, "zone": {"nested": [1, 2]}, "max_connections": 5})");
  EXPECT_EQ(server.host, "10.0.0.1");
  EXPECT_EQ(server.max_connections, 0u);  // not a record's to set
}

TEST(ServerRecord, RefusesWhatIsNotARecord) {
  for (const char* json :
       {"", "not json", "[]", "\"host\"", "null", "{\"host\": \"10.0.0.1\", \"port\": 80",
        "{\"host\": \"10.0.0.1\", \"port\": 80} trailing"}) {
    refusal(json);
  }
}

TEST(ServerRecord, RefusesABadHost) {
  for (const char* json : {
           R"({"port": 80})", R"({"host": "", "port": 80})", R"({"host": 10, "port": 80})",
           R"({"host": null, "port": 80})", R"({"host": "a b", "port": 80})",
           R"({"host": "h\r\nX-Evil: 1", "port": 80})", R"({"host": "10.0.0.5:80", "port": 80})",
           R"({"host": "[::1]", "port": 80})",
           R"({"host": "web-1.internal", "port": 80})",  // a name: DNS discovery's business
       }) {
    EXPECT_NE(refusal(json).find("\"host\""), std::string::npos) << json;
  }
  // 254 characters in labels of at most 63.
  const std::string long_host = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                std::string(63, 'c') + "." + std::string(62, 'd');
  EXPECT_NE(refusal(R"({"host": ")" + long_host + R"(", "port": 80})").find("\"host\""),
            std::string::npos);
}

TEST(ServerRecord, RefusesABadPortOrWeight) {
  for (const char* json : {
           R"({"host": "10.0.0.1"})",
           R"({"host": "10.0.0.1", "port": 0})",
           R"({"host": "10.0.0.1", "port": 65536})",
           R"({"host": "10.0.0.1", "port": -80})",
           R"({"host": "10.0.0.1", "port": "80"})",
           R"({"host": "10.0.0.1", "port": 80.0})",
           R"({"host": "10.0.0.1", "port": true})",
           R"({"host": "10.0.0.1", "port": 18446744073709551696})",
       }) {
    EXPECT_NE(refusal(json).find("\"port\""), std::string::npos) << json;
  }
  for (const char* json : {
           R"({"host": "10.0.0.1", "port": 80, "weight": 0})",
           R"({"host": "10.0.0.1", "port": 80, "weight": 1000001})",
           R"({"host": "10.0.0.1", "port": 80, "weight": "2"})",
           R"({"host": "10.0.0.1", "port": 80, "weight": null})",
           R"({"host": "10.0.0.1", "port": 80, "weight": 99999999999999999999999})",
       }) {
    EXPECT_NE(refusal(json).find("\"weight\""), std::string::npos) << json;
  }
}

TEST(ServerRecord, RefusesABadRegionOrBackup) {
  for (const char* json : {
           R"({"host": "10.0.0.1", "port": 80, "region": ""})",
           R"({"host": "10.0.0.1", "port": 80, "region": "eu west"})",
           R"({"host": "10.0.0.1", "port": 80, "region": "eu.west"})",
           R"({"host": "10.0.0.1", "port": 80, "region": 1})",
       }) {
    EXPECT_NE(refusal(json).find("\"region\""), std::string::npos) << json;
  }
  EXPECT_NE(
      refusal(R"({"host": "10.0.0.1", "port": 80, "region": ")" + std::string(65, 'a') + "\"}")
          .find("\"region\""),
      std::string::npos);
  EXPECT_NE(refusal(R"({"host": "10.0.0.1", "port": 80, "backup": "yes"})").find("\"backup\""),
            std::string::npos);
  EXPECT_NE(refusal(R"({"host": "10.0.0.1", "port": 80, "backup": 1})").find("\"backup\""),
            std::string::npos);
}

TEST(ServerRecord, SurvivesHostileInput) {
  refusal(std::string(1'000'000, '['));
  refusal(R"({"host": "10.0.0.1", "port": 1e400})");
  refusal(std::string(60'000, '[') + std::string(60'000, ']'));
  refusal(R"({"host": "10.0.0.1", "port": 80, "pad": ")" + std::string(70'000, 'x') + "\"}");
  constexpr char kRawNul[] = "{\"host\": \"h\0\", \"port\": 80}";
  refusal(std::string(kRawNul, sizeof(kRawNul) - 1));
  refusal(R"({"host": "h\u0000", "port": 80})");
  refusal("{\"host\": \"\xff\xfe\", \"port\": 80}");
}

TEST(ServerRecord, WritesTheFieldsInTheDocumentedOrder) {
  EXPECT_EQ(server_record(make_server("10.0.0.5", 8080, 2, true, "eu")),
            R"({"host":"10.0.0.5","port":8080,"weight":2,"region":"eu","backup":true})");
  EXPECT_EQ(server_record(make_server("fd00::5", 80)),
            R"({"host":"fd00::5","port":80,"weight":1})");
}

TEST(ServerRecord, WritingThenReadingGivesTheServerBack) {
  const config::ServerConfig servers[] = {
      make_server("10.0.0.5", 8080),
      make_server("192.0.2.1", 443, 1'000'000, true),
      make_server("::1", 9000, 3, false, "us-east"),
  };
  for (const config::ServerConfig& server : servers) {
    EXPECT_EQ(parse(server_record(server)), server);
  }
}

}  // namespace
}  // namespace ballast::discovery
