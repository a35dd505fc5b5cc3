#include "observe/access_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "observe/json.h"
#include "observe/log.h"

namespace ballast::observe {
namespace {

using config::LogFormat;

constexpr uint64_t kNsPerSecond = 1'000'000'000;
// 2026-11-24T08:00:00Z
constexpr uint64_t kNovember24 = 1'795'507'200;

AccessRecord sample_record() {
  AccessRecord record;
  record.unix_ns = kNovember24 * kNsPerSecond + 123'456'789;
  record.client_ip = "10.0.0.7";
  record.method = "GET";
  record.path = "/v1/items?id=3";
  record.protocol = "HTTP/1.1";
  record.cluster = "api";
  record.route = "api-v1";
  record.server = "10.0.1.1:8080";
  record.status = 200;
  record.duration_ns = 1'234'567;
  record.bytes_received = 312;
  record.bytes_sent = 5120;
  record.attempts = 1;
  record.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  record.request_id = "f0e1d2c3b4a59687";
  return record;
}

std::string format(const AccessRecord& record, LogFormat format = LogFormat::json) {
  AccessLineFormatter formatter(format);
  char line[kMaxAccessLine];
  const size_t length = formatter.format(record, line);
  EXPECT_LE(length, kMaxAccessLine);
  return std::string(line, length);
}

// --- a tiny JSON checker: one object of string keys and string, number or literal values ---

class JsonChecker {
 public:
  explicit JsonChecker(std::string_view text) : text_(text) {}

  // The object's members (strings decoded, numbers and true as written); nullopt when `text` is not
  // exactly one JSON object followed by '\n'.
  std::optional<std::map<std::string, std::string>> object() {
    std::map<std::string, std::string> members;
    if (!eat('{')) {
      return std::nullopt;
    }
    if (!eat('}')) {
      do {
        std::string key;
        std::string value;
        if (!string(key) || !eat(':') || !value_of(value) || members.contains(key)) {
          return std::nullopt;
        }
        members[key] = value;
      } while (eat(','));
      if (!eat('}')) {
        return std::nullopt;
      }
    }
    if (!eat('\n') || at_ != text_.size()) {
      return std::nullopt;
    }
    return members;
  }

 private:
  bool eat(char c) {
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool value_of(std::string& value) {
    if (at_ < text_.size() && text_[at_] == '"') {
      return string(value);
    }
    if (text_.substr(at_).starts_with("true")) {
      at_ += 4;
      value = "true";
      return true;
    }
    const size_t start = at_;
    eat('-');
    size_t digits = 0;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
      ++at_;
      ++digits;
    }
    if (digits == 0 || (digits > 1 && text_[start] == '0')) {
      return false;
    }
    if (eat('.')) {
      size_t fraction = 0;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_]))) {
        ++at_;
        ++fraction;
      }
      if (fraction == 0) {
        return false;
      }
    }
    value = std::string(text_.substr(start, at_ - start));
    return true;
  }
  static int hex(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }
  bool string(std::string& out) {
    if (!eat('"')) {
      return false;
    }
    while (at_ < text_.size()) {
      const char c = text_[at_++];
      if (c == '"') {
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return false;  // raw control characters are not allowed in JSON strings
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= text_.size()) {
        return false;
      }
      const char escape = text_[at_++];
      switch (escape) {
        case '"':
        case '\\':
        case '/':
          out += escape;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (at_ + 4 > text_.size()) {
            return false;
          }
          int code = 0;
          for (int i = 0; i < 4; ++i) {
            const int digit = hex(text_[at_++]);
            if (digit < 0) {
              return false;
            }
            code = code * 16 + digit;
          }
          if (code > 0xff) {  // only \u00XX is used here; keep the checker small
            return false;
          }
          if (code >= 0x80) {  // U+0080..U+00FF as UTF-8
            out += static_cast<char>(0xc0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3f));
          } else {
            out += static_cast<char>(code);
          }
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  std::string_view text_;
  size_t at_ = 0;
};

// Decodes code points one by one: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    uint32_t code = 0;
    if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) {
        return false;
      }
      code = (code << 6) | (next & 0x3f);
    }
    const uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
    if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::map<std::string, std::string> parse(const std::string& line) {
  EXPECT_TRUE(valid_utf8(line)) << line;
  std::optional<std::map<std::string, std::string>> members = JsonChecker(line).object();
  EXPECT_TRUE(members.has_value()) << "not one JSON object: " << line;
  return members.value_or(std::map<std::string, std::string>{});
}

std::string escaped(std::string_view value) {
  char out[256];
  return std::string(out, escape_json(value, out, out + sizeof(out)));
}

// --- the line -----------------------------------------------------------------------------

TEST(AccessLineTest, FormatsTheJsonLine) {
  EXPECT_EQ(
      format(sample_record()),
      "{\"ts\":\"2026-11-24T08:00:00.123Z\",\"type\":\"access\",\"client_ip\":\"10.0.0.7\","
      "\"method\":\"GET\",\"path\":\"/v1/items?id=3\",\"protocol\":\"HTTP/1.1\",\"status\":200,"
      "\"cluster\":\"api\",\"route\":\"api-v1\","
      "\"server\":\"10.0.1.1:8080\",\"duration_ms\":1.234,\"bytes_received\":312,"
      "\"bytes_sent\":5120,\"attempts\":1,"
      "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"request_id\":\"f0e1d2c3b4a59687\"}\n");
}

TEST(AccessLineTest, FormatsTheTextLine) {
  EXPECT_EQ(
      format(sample_record(), LogFormat::text),
      "10.0.0.7 - - [24/Nov/2026:08:00:00.123 +0000] \"GET /v1/items?id=3 HTTP/1.1\" 200 5120 "
      "cluster=api route=api-v1 server=10.0.1.1:8080 duration_ms=1.234 bytes_received=312 "
      "attempts=1 "
      "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 request_id=f0e1d2c3b4a59687\n");
}

TEST(AccessLineTest, AnAnswerFromBallastHasNoServerAndMayHaveNoTrace) {
  AccessRecord record = sample_record();
  record.server = "";
  record.trace_id = "";
  record.request_id = "";
  record.status = 503;
  record.attempts = 0;
  const std::map<std::string, std::string> members = parse(format(record));
  EXPECT_EQ(members.at("server"), "");
  EXPECT_EQ(members.at("trace_id"), "");
  EXPECT_EQ(members.at("status"), "503");
  EXPECT_EQ(members.at("attempts"), "0");
  const std::string text = format(record, LogFormat::text);
  EXPECT_NE(text.find(" 503 5120 cluster=api route=api-v1 server=- "), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with(" attempts=0 trace_id=- request_id=-\n")) << text;
}

TEST(AccessLineTest, CarriesEveryFieldTheIssueNames) {
  const std::map<std::string, std::string> members = parse(format(sample_record()));
  for (const char* key :
       {"ts", "type", "client_ip", "method", "path", "protocol", "status", "cluster", "route",
        "server", "duration_ms", "bytes_received", "bytes_sent", "attempts", "trace_id"}) {
    EXPECT_TRUE(members.contains(key)) << key;
  }
  EXPECT_EQ(members.size(), 16u);
  EXPECT_EQ(members.at("type"), "access");
}

TEST(AccessLineTest, ACutShortRequestBodyIsSaidOnlyWhenItHappened) {
  AccessRecord record = sample_record();
  EXPECT_FALSE(parse(format(record)).contains("request_body_cut_short"));
  record.request_body_cut_short = true;
  EXPECT_EQ(parse(format(record)).at("request_body_cut_short"), "true");
  EXPECT_TRUE(format(record, LogFormat::text).ends_with(" request_body_cut_short=true\n"));
}

TEST(AccessLineTest, AGrpcStatusIsSaidOnlyForAGrpcCall) {
  AccessRecord record = sample_record();
  EXPECT_FALSE(parse(format(record)).contains("grpc_status"));
  record.grpc_status = 14;
  record.request_body_cut_short = true;
  const auto members = parse(format(record));
  EXPECT_EQ(members.at("grpc_status"), "14");
  EXPECT_EQ(members.at("request_body_cut_short"), "true");
  EXPECT_TRUE(format(record, LogFormat::text).ends_with(" grpc_status=14\n"));
}

TEST(AccessLineTest, FormatsTimestampsAcrossTheCalendar) {
  struct Case {
    uint64_t unix_ns;
    const char* json;
    const char* text;
  };
  const Case cases[] = {
      {0, "1970-01-01T00:00:00.000Z", "[01/Jan/1970:00:00:00.000 +0000]"},
      {951'868'799 * kNsPerSecond + 999'999'999, "2000-02-29T23:59:59.999Z",
       "[29/Feb/2000:23:59:59.999 +0000]"},
      {4'107'542'400 * kNsPerSecond + 7'000'000, "2100-03-01T00:00:00.007Z",
       "[01/Mar/2100:00:00:00.007 +0000]"},
      {kNovember24 * kNsPerSecond + 37 * 60 * kNsPerSecond + 5 * kNsPerSecond + 40'000'000,
       "2026-11-24T08:37:05.040Z", "[24/Nov/2026:08:37:05.040 +0000]"},
  };
  // One formatter for all, so its cached second is replaced each time.
  AccessLineFormatter json(LogFormat::json);
  AccessLineFormatter text(LogFormat::text);
  for (const Case& c : cases) {
    AccessRecord record = sample_record();
    record.unix_ns = c.unix_ns;
    char line[kMaxAccessLine];
    const std::string json_line(line, json.format(record, line));
    EXPECT_TRUE(json_line.starts_with(std::string("{\"ts\":\"") + c.json + "\"")) << json_line;
    const std::string text_line(line, text.format(record, line));
    EXPECT_NE(text_line.find(c.text), std::string::npos) << text_line;
  }
}

TEST(AccessLineTest, SwitchingTheFormatDropsTheCachedTime) {
  AccessLineFormatter formatter(LogFormat::json);
  char line[kMaxAccessLine];
  formatter.format(sample_record(), line);
  formatter.set_format(LogFormat::text);
  const std::string text(line, formatter.format(sample_record(), line));
  EXPECT_TRUE(text.starts_with("10.0.0.7 - - [24/Nov/2026:08:00:00.123 +0000]")) << text;
}

TEST(AccessLineTest, FormatsDurationsInMillisecondsWithMicroseconds) {
  const std::pair<uint64_t, const char*> cases[] = {{0, "0.000"},
                                                    {999, "0.000"},
                                                    {1'000, "0.001"},
                                                    {1'234'567, "1.234"},
                                                    {12'000'000'000, "12000.000"},
                                                    {50'010'000, "50.010"}};
  for (const auto& [ns, text] : cases) {
    AccessRecord record = sample_record();
    record.duration_ns = ns;
    EXPECT_EQ(parse(format(record)).at("duration_ms"), text);
  }
}

TEST(AccessLineTest, LargeNumbersAreWrittenWhole) {
  AccessRecord record = sample_record();
  record.bytes_received = UINT64_MAX;
  record.bytes_sent = UINT64_MAX - 1;
  record.attempts = UINT32_MAX;
  record.status = 65535;
  const std::map<std::string, std::string> members = parse(format(record));
  EXPECT_EQ(members.at("bytes_received"), "18446744073709551615");
  EXPECT_EQ(members.at("bytes_sent"), "18446744073709551614");
  EXPECT_EQ(members.at("attempts"), "4294967295");
  EXPECT_EQ(members.at("status"), "65535");
}

// --- escaping ------------------------------------------------------------------------------

TEST(EscapeJsonTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(escaped("plain /path?a=1&b=2"), "plain /path?a=1&b=2");
  EXPECT_EQ(escaped("say \"hi\""), "say \\\"hi\\\"");
  EXPECT_EQ(escaped("a\\b"), "a\\\\b");
  EXPECT_EQ(escaped("line\nnext\ttab\r"), "line\\u000anext\\u0009tab\\u000d");
  EXPECT_EQ(escaped(std::string_view("nul\0x", 5)), "nul\\u0000x");
  EXPECT_EQ(escaped("\x1f\x7f"), "\\u001f\\u007f");
}

TEST(EscapeJsonTest, PassesWellFormedUtf8) {
  EXPECT_EQ(escaped("caf\xc3\xa9"), "caf\xc3\xa9");            // é
  EXPECT_EQ(escaped("\xe2\x82\xac"), "\xe2\x82\xac");          // €
  EXPECT_EQ(escaped("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");  // 😀
  EXPECT_EQ(escaped("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");  // U+10FFFF
  EXPECT_EQ(escaped("\xed\x9f\xbf"), "\xed\x9f\xbf");          // U+D7FF
}

TEST(EscapeJsonTest, EscapesEachByteOutsideWellFormedUtf8) {
  EXPECT_EQ(escaped("\xff"), "\\u00ff");
  EXPECT_EQ(escaped("\x80"), "\\u0080");                        // a lone continuation byte
  EXPECT_EQ(escaped("\xc0\xaf"), "\\u00c0\\u00af");             // overlong '/'
  EXPECT_EQ(escaped("\xe0\x80\xaf"), "\\u00e0\\u0080\\u00af");  // overlong, three bytes
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\\u00ed\\u00a0\\u0080");  // a surrogate
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\\u00f4\\u0090\\u0080\\u0080");  // above U+10FFFF
  EXPECT_EQ(escaped("ok\xe2\x82"), "ok\\u00e2\\u0082");                    // cut short at the end
  EXPECT_EQ(escaped("\xc3"
                    "A"),
            "\\u00c3A");  // a lead byte, then ASCII
}

// The escaper looks at eight bytes at a time; a byte needing care must be found at every
// position of a word, and a plain byte at the edges of the ranges must not be escaped.
TEST(EscapeJsonTest, FindsASpecialByteAtEveryPosition) {
  const std::pair<char, std::string> cases[] = {
      {'"', "\\\""},       {'\\', "\\\\"},      {'\x01', "\\u0001"}, {'\x1f', "\\u001f"},
      {'\x7f', "\\u007f"}, {'\x80', "\\u0080"}, {'\xff', "\\u00ff"}, {'\0', "\\u0000"},
      {' ', " "},          {'~', "~"},          {'!', "!"},          {'[', "["},
      {']', "]"},          {'#', "#"}};
  for (size_t position = 0; position < 41; ++position) {
    for (const auto& [byte, expected] : cases) {
      std::string text(41, 'a');
      text[position] = byte;
      char out[512];
      const std::string got(out, escape_json(text, out, out + sizeof(out)));
      EXPECT_EQ(got, std::string(position, 'a') + expected + std::string(40 - position, 'a'))
          << "byte " << static_cast<int>(static_cast<unsigned char>(byte)) << " at " << position;
    }
  }
}

TEST(EscapeJsonTest, NeverCutsAnEscape) {
  char out[8];
  size_t consumed = 0;
  // "\u0001" is 6 bytes: one fits in 8, the second does not.
  char* end = escape_json("\x01\x01", out, out + 8, &consumed);
  EXPECT_EQ(std::string(out, end), "\\u0001");
  EXPECT_EQ(consumed, 1u);
  end = escape_json("ab\xe2\x82\xac", out, out + 4, &consumed);  // € needs 3 more than "ab"
  EXPECT_EQ(std::string(out, end), "ab");
  EXPECT_EQ(consumed, 2u);
}

TEST(AccessLineTest, EscapesEveryStringField) {
  AccessRecord record = sample_record();
  record.path = "/a\"b\\c\n\xff";
  record.method = "G\tT";
  record.cluster = "c\"l";
  record.server = "s\x01";
  record.client_ip = "1.2.3.4\r";
  record.trace_id = "\x80";
  const std::string line = format(record);
  EXPECT_NE(line.find("\"path\":\"/a\\\"b\\\\c\\u000a\\u00ff\""), std::string::npos) << line;
  const std::map<std::string, std::string> members = parse(line);
  EXPECT_EQ(members.at("path"), "/a\"b\\c\n\xc3\xbf");  // \u00ff read back as U+00FF
  EXPECT_EQ(members.at("method"), "G\tT");
  EXPECT_EQ(members.at("cluster"), "c\"l");
  EXPECT_EQ(members.at("server"), "s\x01");
  EXPECT_EQ(members.at("client_ip"), "1.2.3.4\r");
  const std::string text = format(record, LogFormat::text);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_NE(text.find("\"G\\u0009T /a\\\"b\\\\c\\u000a\\u00ff HTTP/1.1\""), std::string::npos)
      << text;
}

TEST(AccessLineTest, AnyBytesMakeOneValidJsonLine) {
  core::Random random(42);
  for (int round = 0; round < 2'000; ++round) {
    std::string path(random.below(300), '\0');
    for (char& c : path) {
      c = static_cast<char>(random.below(256));
    }
    AccessRecord record = sample_record();
    record.path = path;
    record.method = std::string_view(path).substr(0, std::min<size_t>(path.size(), 7));
    const std::map<std::string, std::string> members = parse(format(record));
    EXPECT_EQ(members.size(), 16u);
    if (::testing::Test::HasFailure()) {
      break;
    }
  }
}

TEST(AccessLineTest, ALongPathIsCutAtItsBound) {
  AccessRecord record = sample_record();
  const std::string plain(10'000, 'a');
  record.path = plain;
  std::map<std::string, std::string> members = parse(format(record));
  EXPECT_EQ(members.at("path"), std::string(kMaxLoggedPath, 'a'));
  EXPECT_EQ(members.at("trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");

  const std::string controls(10'000, '\x01');  // six bytes each once escaped
  record.path = controls;
  const std::string line = format(record);
  members = parse(line);
  EXPECT_EQ(members.at("path").size(), kMaxLoggedPath / 6);
  EXPECT_LE(line.size(), kMaxAccessLine);
}

TEST(AccessLineTest, EveryFieldAtItsBoundStillFitsTheLine) {
  AccessRecord record = sample_record();
  const std::string huge(10'000, '\x02');
  const std::string trace_id(64, 'f');
  record.client_ip = record.method = record.path = record.protocol = huge;
  record.cluster = record.server = huge;
  record.trace_id = trace_id;
  record.bytes_received = record.bytes_sent = record.duration_ns = UINT64_MAX;
  record.attempts = UINT32_MAX;
  record.tls_version = record.tls_cipher = record.sni = huge;
  record.request_body_cut_short = true;
  for (const LogFormat format_kind : {LogFormat::json, LogFormat::text}) {
    const std::string line = format(record, format_kind);
    EXPECT_LE(line.size(), kMaxAccessLine);
    // The last fields are whole: no bound but their own cut anything.
    EXPECT_NE(line.find(std::string(64, 'f')), std::string::npos);
    EXPECT_NE(line.find("request_body_cut_short"), std::string::npos);
    if (format_kind == LogFormat::json) {
      parse(line);
    }
  }
}

// --- the access log through a writer -------------------------------------------------------

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

class AccessLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("ballast_access_log_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }
  std::string path(const std::string& name) const { return (directory_ / name).string(); }

  // Records `requests` lines with sampling `share` and returns how many the log kept
  // (written + dropped: a drop is a line the sampler chose).
  uint64_t sampled(double share, uint64_t requests) {
    config::LoggingConfig logging;
    logging.access_log_sample = share;
    uint64_t dropped = 0;
    {
      LogWriter writer(1, path("sample.log"));
      AccessLog log(writer.queue(0), logging, 7);
      const AccessRecord record = sample_record();
      for (uint64_t i = 0; i < requests; ++i) {
        log.record(record);
        if (i % 64 == 0) {
          log.flush();
        }
      }
      log.flush();
      writer.drain();
      dropped = writer.dropped_lines();
    }
    const uint64_t kept = count_lines(read_all(path("sample.log"))) + dropped;
    std::filesystem::remove(path("sample.log"));
    return kept;
  }

  std::filesystem::path directory_;
};

TEST_F(AccessLogTest, WritesTheFormattedLineThroughTheWorkersQueue) {
  config::LoggingConfig logging;
  {
    LogWriter writer(2, path("access.log"));
    AccessLog log(writer.queue(1), logging, 1);
    EXPECT_TRUE(log.enabled());
    log.record(sample_record());
  }  // the AccessLog's destructor flushes; the writer's writes it out
  EXPECT_EQ(read_all(path("access.log")), format(sample_record()));
}

TEST_F(AccessLogTest, FlushHandsOverWhatWasRecorded) {
  config::LoggingConfig logging;
  logging.format = LogFormat::text;
  LogWriter writer(1, path("access.log"));
  AccessLog log(writer.queue(0), logging, 1);
  log.record(sample_record());
  log.record(sample_record());
  writer.drain();
  EXPECT_EQ(read_all(path("access.log")), "");  // still in the worker's buffer
  log.flush();
  writer.drain();
  const std::string line = format(sample_record(), LogFormat::text);
  EXPECT_EQ(read_all(path("access.log")), line + line);
}

TEST_F(AccessLogTest, OffMeansNoLines) {
  config::LoggingConfig logging;
  logging.access_log = false;
  LogWriter writer(1, path("access.log"));
  AccessLog log(writer.queue(0), logging, 1);
  EXPECT_FALSE(log.enabled());
  log.record(sample_record());
  log.flush();
  writer.drain();
  EXPECT_EQ(read_all(path("access.log")), "");

  logging.access_log = true;  // a reload turns it on
  log.configure(logging);
  log.record(sample_record());
  log.flush();
  writer.drain();
  EXPECT_EQ(read_all(path("access.log")), format(sample_record()));
}

TEST_F(AccessLogTest, SamplingKeepsTheConfiguredShare) {
  constexpr uint64_t kRequests = 40'000;
  EXPECT_EQ(sampled(1.0, kRequests), kRequests);
  EXPECT_EQ(sampled(0.0, kRequests), 0u);
  // Binomial(40'000, p): the standard deviation is at most 100, so ±600 is six of them.
  for (const double share : {0.01, 0.25, 0.5}) {
    const double expected = share * kRequests;
    const double kept = static_cast<double>(sampled(share, kRequests));
    EXPECT_NEAR(kept, expected, 600.0) << "share " << share;
  }
}

TEST_F(AccessLogTest, RecordStaysFastWhileTheOutputIsBlocked) {
  ASSERT_EQ(mkfifo(path("pipe").c_str(), 0600), 0);
  const int reader = open(path("pipe").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  std::thread reading;
  {
    LogWriter writer(1, path("pipe"), {.buffer_bytes = 16 * 1024, .buffers_per_worker = 2});
    AccessLog log(writer.queue(0), config::LoggingConfig{}, 1);
    const AccessRecord record = sample_record();
    // Fill the pipe and the queue until lines are being dropped.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (writer.dropped_lines() == 0 && std::chrono::steady_clock::now() < deadline) {
      log.record(record);
      log.flush();
    }
    ASSERT_GT(writer.dropped_lines(), 0u);
    const uint64_t before = writer.dropped_lines();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 100'000; ++i) {
      log.record(record);
      if (i % 100 == 0) {
        log.flush();
      }
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(writer.dropped_lines() - before, 99'000u);
    // ~1 µs per record even on a slow sanitizer build; a blocked record() never returns.
    EXPECT_LT(elapsed, std::chrono::seconds(2));
    // Let the writer finish: read the pipe until the writer closes it.
    fcntl(reader, F_SETFL, fcntl(reader, F_GETFL) & ~O_NONBLOCK);
    reading = std::thread([reader] {
      char buffer[4096];
      while (read(reader, buffer, sizeof(buffer)) > 0) {
      }
    });
    log.flush();
    writer.drain();
  }  // the writer closes its end: the reading thread sees EOF
  reading.join();
  close(reader);
}

}  // namespace
}  // namespace ballast::observe
