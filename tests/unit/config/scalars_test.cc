#include "config/scalars.h"

#include <gtest/gtest.h>

namespace ballast::config {
namespace {

TEST(Duration, ReadsEachUnit) {
  EXPECT_EQ(parse_duration_ms("250ms").value, 250u);
  EXPECT_EQ(parse_duration_ms("5s").value, 5'000u);
  EXPECT_EQ(parse_duration_ms("2m").value, 120'000u);
  EXPECT_EQ(parse_duration_ms("1h").value, 3'600'000u);
  EXPECT_EQ(parse_duration_ms("0s").value, 0u);
  EXPECT_EQ(parse_duration_ms("168h").value, kMaxDurationMs);
}

TEST(Duration, RefusesBareNumbersAndJunk) {
  EXPECT_EQ(parse_duration_ms("30").error,
            "expected a duration such as 250ms, 5s, 2m or 1h, got 30 (a bare number has no unit)");
  EXPECT_EQ(parse_duration_ms("5 s").error,
            "unknown unit in \"5 s\"; expected a duration such as 250ms, 5s, 2m or 1h");
  for (const char* junk : {"", "s", "-5s", "+5s", "1.5s", "5S", "5sec", "1d", "5s5s", "0x10s"}) {
    EXPECT_FALSE(parse_duration_ms(junk).value) << junk;
  }
}

TEST(Duration, RefusesMoreThanAWeekWithoutOverflowing) {
  EXPECT_FALSE(parse_duration_ms("169h").value);
  EXPECT_FALSE(parse_duration_ms("604800001ms").value);
  EXPECT_EQ(parse_duration_ms("99999999999999999999999h").error,
            "99999999999999999999999h is too long; the longest duration is 168h");
  EXPECT_FALSE(parse_duration_ms("18446744073709551615s").value);
}

TEST(Duration, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(250), "250ms");
  EXPECT_EQ(format_duration(1'500), "1500ms");
  EXPECT_EQ(format_duration(30'000), "30s");
  EXPECT_EQ(format_duration(90'000), "90s");
  EXPECT_EQ(format_duration(300'000), "5m");
  EXPECT_EQ(format_duration(7'200'000), "2h");
}

TEST(Decimal, DigitsOnlyAndWithinUint64) {
  EXPECT_EQ(parse_decimal("0"), 0u);
  EXPECT_EQ(parse_decimal("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_decimal("18446744073709551616"));
  EXPECT_FALSE(parse_decimal("-1"));
  EXPECT_FALSE(parse_decimal("+1"));
  EXPECT_FALSE(parse_decimal(""));
  EXPECT_FALSE(parse_decimal("1 "));
}

TEST(Endpoint, ReadsTheThreeShapes) {
  const Parsed<Endpoint> v4 = parse_endpoint("10.0.0.1:80");
  ASSERT_TRUE(v4.value);
  EXPECT_EQ(v4.value->host, "10.0.0.1");
  EXPECT_EQ(v4.value->port, 80);
  const Parsed<Endpoint> v6 = parse_endpoint("[::1]:8443");
  ASSERT_TRUE(v6.value);
  EXPECT_EQ(v6.value->host, "::1");
  EXPECT_EQ(v6.value->port, 8443);
  const Parsed<Endpoint> any = parse_endpoint(":8080");
  ASSERT_TRUE(any.value);
  EXPECT_EQ(any.value->host, "0.0.0.0");
  EXPECT_EQ(any.value->port, 8080);
  const Parsed<Endpoint> name = parse_endpoint("localhost:65535");
  ASSERT_TRUE(name.value);
  EXPECT_EQ(name.value->host, "localhost");
}

TEST(Endpoint, RefusesWhatCannotBeBound) {
  EXPECT_EQ(parse_endpoint("8080").error, "expected HOST:PORT, [IPv6]:PORT or :PORT, got \"8080\"");
  EXPECT_EQ(parse_endpoint("::1:80").error,
            "put an IPv6 address in brackets, as in [::1]:8080; got \"::1:80\"");
  EXPECT_EQ(parse_endpoint(":0").error, "the port in \":0\" must be between 1 and 65535");
  EXPECT_EQ(parse_endpoint("[nope]:80").error, "\"nope\" is not an IPv6 address");
  for (const char* bad :
       {":65536", ":", "a:", "a:-1", "a:http", "[::1:80", "[::1]80", "a b:80", "[]:80", "*:80"}) {
    EXPECT_FALSE(parse_endpoint(bad).value) << bad;
  }
}

TEST(Endpoint, FormatsBackToWhatItReads) {
  EXPECT_EQ(format_endpoint(Endpoint{"::1", 80}), "[::1]:80");
  EXPECT_EQ(format_endpoint(Endpoint{"10.0.0.1", 8080}), "10.0.0.1:8080");
}

TEST(Endpoint, OverlapIsSamePortOnSameOrWildcardHost) {
  EXPECT_TRUE(endpoints_overlap({"0.0.0.0", 80}, {"127.0.0.1", 80}));
  EXPECT_TRUE(endpoints_overlap({"10.0.0.1", 80}, {"::", 80}));
  EXPECT_TRUE(endpoints_overlap({"LocalHost", 80}, {"localhost", 80}));
  EXPECT_FALSE(endpoints_overlap({"10.0.0.1", 80}, {"10.0.0.2", 80}));
  EXPECT_FALSE(endpoints_overlap({"0.0.0.0", 80}, {"0.0.0.0", 81}));
}

TEST(StatusRange, OneCodeOrARange) {
  const Parsed<StatusRange> range = parse_status_range("200-399");
  ASSERT_TRUE(range.value);
  EXPECT_EQ(range.value->min, 200);
  EXPECT_EQ(range.value->max, 399);
  const Parsed<StatusRange> single = parse_status_range("204");
  ASSERT_TRUE(single.value);
  EXPECT_EQ(single.value->min, 204);
  EXPECT_EQ(single.value->max, 204);
  for (const char* bad : {"99", "600", "399-200", "200-", "-200", "2xx", "200-399-400", ""}) {
    EXPECT_FALSE(parse_status_range(bad).value) << bad;
  }
}

TEST(Names, HostsTokensPathsAndNames) {
  for (const char* host :
       {"a", "backend1.example.com", "example.com.", "my_service", "10.0.0.1", "::1", "fe80::1"}) {
    EXPECT_TRUE(is_host(host)) << host;
  }
  for (const char* host : {"", ".", "a..b", ".a", "a b", "a:80", "[::1]", "a/b", "*.example.com"}) {
    EXPECT_FALSE(is_host(host)) << host;
  }
  EXPECT_FALSE(is_host(std::string(64, 'a')));
  EXPECT_TRUE(is_host(std::string(63, 'a')));

  EXPECT_TRUE(is_http_token("X-User-Id"));
  EXPECT_FALSE(is_http_token("X User"));
  EXPECT_FALSE(is_http_token("a:b"));
  EXPECT_FALSE(is_http_token(""));

  EXPECT_TRUE(is_request_path("/health?full=1"));
  EXPECT_FALSE(is_request_path("health"));
  EXPECT_FALSE(is_request_path("/a b"));
  EXPECT_FALSE(is_request_path("/a\r\nHost: evil"));

  EXPECT_TRUE(is_name("api-v2_east"));
  EXPECT_FALSE(is_name("api.v2"));
  EXPECT_FALSE(is_name(std::string(65, 'a')));
}

TEST(Excerpt, CutsLongValuesAndEscapesControlCharacters) {
  EXPECT_EQ(quoted_excerpt("abc"), "\"abc\"");
  EXPECT_EQ(quoted_excerpt(std::string(100, 'x')), "\"" + std::string(40, 'x') + "...\"");
  EXPECT_EQ(excerpt("a\nb\x1b[31m\x7f"), "a\\x0ab\\x1b[31m\\x7f");
  EXPECT_EQ(excerpt("h\xc3\xa9"), "h\xc3\xa9");  // UTF-8 is left alone
  EXPECT_EQ(excerpt("abcdef", 3), "abc...");
}

TEST(Lowercase, AsciiLettersOnly) {
  EXPECT_EQ(lowercase("Api.EXAMPLE-1.com\xc3\x89"), "api.example-1.com\xc3\x89");
}

}  // namespace
}  // namespace ballast::config
