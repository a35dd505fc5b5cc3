// The fields of a 429 (edge/rate_limit_fields.h): Retry-After, RateLimit-Limit,
// RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy, for a limit's refusal.

#include "edge/rate_limit_fields.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ballast::edge {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSecond = 1'000 * kMs;

using Fields = std::vector<std::pair<std::string, std::string>>;

config::RateLimitConfig limit_of(uint64_t requests, uint64_t period_ms, uint64_t burst) {
  config::RateLimitConfig limit;
  limit.enabled = true;
  limit.requests = requests;
  limit.period_ms = period_ms;
  limit.burst = burst;
  return limit;
}

RateVerdict refusal(uint64_t retry_after_ns, uint64_t reset_ns) {
  return {.allowed = false, .retry_after_ns = retry_after_ns, .remaining = 0, .reset_ns = reset_ns};
}

Fields written(const config::RateLimitConfig& limit, const RateVerdict& verdict) {
  RateLimitFields fields;
  fields.write(limit, verdict);
  Fields copied;
  for (const http::Header& header : fields.fields()) {
    copied.emplace_back(header.name, header.value);
  }
  return copied;
}

std::string value_of(const Fields& fields, const std::string& name) {
  for (const auto& [field, value] : fields) {
    if (field == name) {
      return value;
    }
  }
  return "(absent)";
}

TEST(RateLimitFields, ARefusalHasTheFiveFields) {
  // 10/s with a burst of 5, refused at once after the burst: one interval to wait, five back.
  EXPECT_EQ(written(limit_of(10, 1'000, 5), refusal(100 * kMs, 500 * kMs)),
            (Fields{{"Retry-After", "1"},
                    {"RateLimit-Limit", "5"},
                    {"RateLimit-Remaining", "0"},
                    {"RateLimit-Reset", "1"},
                    {"RateLimit-Policy", "10;w=1;burst=5"}}));
}

TEST(RateLimitFields, RetryAfterIsWholeSecondsRoundedUpAndAtLeastOne) {
  const config::RateLimitConfig limit = limit_of(1, 60'000, 1);
  EXPECT_EQ(value_of(written(limit, refusal(0, kSecond)), "Retry-After"), "1");
  EXPECT_EQ(value_of(written(limit, refusal(1, kSecond)), "Retry-After"), "1");
  EXPECT_EQ(value_of(written(limit, refusal(kSecond, kSecond)), "Retry-After"), "1");
  EXPECT_EQ(value_of(written(limit, refusal(kSecond + 1, 2 * kSecond)), "Retry-After"), "2");
  EXPECT_EQ(value_of(written(limit, refusal(59'500 * kMs, 60 * kSecond)), "Retry-After"), "60");
}

TEST(RateLimitFields, ResetIsWholeSecondsRoundedUp) {
  const config::RateLimitConfig limit = limit_of(100, 1'000, 50);
  EXPECT_EQ(value_of(written(limit, refusal(10 * kMs, 2'500 * kMs)), "RateLimit-Reset"), "3");
  EXPECT_EQ(value_of(written(limit, refusal(10 * kMs, 4 * kSecond)), "RateLimit-Reset"), "4");
}

TEST(RateLimitFields, ThePolicyNamesRequestsWindowInSecondsAndBurst) {
  EXPECT_EQ(
      value_of(written(limit_of(600, 60'000, 20), refusal(kSecond, kSecond)), "RateLimit-Policy"),
      "600;w=60;burst=20");
  EXPECT_EQ(value_of(written(limit_of(100, 3'600'000, 100), refusal(kSecond, kSecond)),
                     "RateLimit-Policy"),
            "100;w=3600;burst=100");
  // A window under a second is written as one.
  EXPECT_EQ(value_of(written(limit_of(5, 500, 5), refusal(kMs, kMs)), "RateLimit-Policy"),
            "5;w=1;burst=5");
}

TEST(RateLimitFields, TheLimitIsTheBurst) {
  EXPECT_EQ(value_of(written(limit_of(10, 1'000, 40), refusal(kMs, kSecond)), "RateLimit-Limit"),
            "40");
}

// The largest a configuration allows (1e9 requests and burst, a 24h period) and a wait as long
// as the table can hold (2^48 us) all fit the fields' buffer.
TEST(RateLimitFields, TheLargestValuesAreWrittenWhole) {
  const uint64_t longest_ns = (uint64_t{1} << 48) * 1'000;
  EXPECT_EQ(
      written(limit_of(1'000'000'000, 86'400'000, 1'000'000'000), refusal(longest_ns, longest_ns)),
      (Fields{{"Retry-After", "281474977"},
              {"RateLimit-Limit", "1000000000"},
              {"RateLimit-Remaining", "0"},
              {"RateLimit-Reset", "281474977"},
              {"RateLimit-Policy", "1000000000;w=86400;burst=1000000000"}}));
}

TEST(RateLimitFields, AWriteReplacesThePreviousValues) {
  RateLimitFields fields;
  fields.write(limit_of(1'000, 1'000, 1'000), refusal(9 * kSecond, 9 * kSecond));
  fields.write(limit_of(2, 1'000, 1), refusal(kMs, kMs));
  ASSERT_EQ(fields.fields().size(), 5u);
  EXPECT_EQ(fields.fields()[0].value, "1");
  EXPECT_EQ(fields.fields()[1].value, "1");
  EXPECT_EQ(fields.fields()[4].value, "2;w=1;burst=1");
}

}  // namespace
}  // namespace ballast::edge
