#include "latency_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>

#include "timeline.h"

namespace ballast::load {
namespace {

constexpr uint64_t kUs = 1000;
constexpr uint64_t kMs = 1000 * kUs;

// The histogram is 21 KiB: keep it off the test's stack.
std::unique_ptr<LatencyHistogram> make() {
  return std::make_unique<LatencyHistogram>();
}

void expect_within_one_percent(uint64_t actual, double expected) {
  EXPECT_LE(std::abs(static_cast<double>(actual) - expected), expected * 0.01)
      << "actual " << actual << " expected " << expected;
}

TEST(LatencyHistogram, EmptyHasNoValues) {
  const auto histogram = make();
  EXPECT_EQ(histogram->count(), 0u);
  EXPECT_EQ(histogram->quantile_ns(0.5), 0u);
  EXPECT_EQ(histogram->quantile_ns(1.0), 0u);
  EXPECT_EQ(histogram->max_ns(), 0u);
  EXPECT_EQ(histogram->min_ns(), 0u);
}

TEST(LatencyHistogram, UniformQuantilesWithinOnePercent) {
  const auto histogram = make();
  for (uint64_t us = 1; us <= 100'000; ++us)  // 1 µs .. 100 ms, evenly
    histogram->record_ns(us * kUs);
  EXPECT_EQ(histogram->count(), 100'000u);
  for (double q : {0.01, 0.1, 0.5, 0.9, 0.99, 0.999})
    expect_within_one_percent(histogram->quantile_ns(q), q * 100'000.0 * kUs);
}

TEST(LatencyHistogram, ExponentialQuantilesWithinOnePercent) {
  // Deterministic exponential spread (mean 3 ms) by inverse transform over even ranks.
  const auto histogram = make();
  constexpr int kValues = 200'000;
  for (int i = 0; i < kValues; ++i) {
    const double u = (i + 0.5) / kValues;
    histogram->record_ns(static_cast<uint64_t>(-std::log(1.0 - u) * 3.0 * kMs));
  }
  for (double q : {0.5, 0.9, 0.99, 0.999})
    expect_within_one_percent(histogram->quantile_ns(q), -std::log(1.0 - q) * 3.0 * kMs);
}

TEST(LatencyHistogram, SmallValuesResolveToTheMicrosecond) {
  const auto histogram = make();
  histogram->record_ns(37 * kUs);
  histogram->record_ns(39 * kUs);
  EXPECT_EQ(histogram->quantile_ns(0.5), 37 * kUs + 500);  // the midpoint of [37, 38) µs
  EXPECT_EQ(histogram->quantile_ns(0.0), 37 * kUs);        // clamped to the smallest recorded
  EXPECT_EQ(histogram->quantile_ns(1.0), 39 * kUs);
}

TEST(LatencyHistogram, MaxIsExact) {
  const auto histogram = make();
  histogram->record_ns(5 * kMs);
  histogram->record_ns(123'456'789);
  histogram->record_ns(7 * kMs);
  EXPECT_EQ(histogram->max_ns(), 123'456'789u);
  EXPECT_EQ(histogram->quantile_ns(1.0), 123'456'789u);
  EXPECT_LE(histogram->quantile_ns(0.99), histogram->max_ns());
  EXPECT_EQ(histogram->min_ns(), 5 * kMs);
}

TEST(LatencyHistogram, MergeAddsCountsAndKeepsExtremes) {
  const auto a = make();
  const auto b = make();
  for (int i = 0; i < 900; ++i)
    a->record_ns(1 * kMs);
  for (int i = 0; i < 100; ++i)
    b->record_ns(50 * kMs);
  b->record_ns(80 * kMs);
  a->merge(*b);
  EXPECT_EQ(a->count(), 1001u);
  expect_within_one_percent(a->quantile_ns(0.5), 1.0 * kMs);
  expect_within_one_percent(a->quantile_ns(0.95), 50.0 * kMs);
  EXPECT_EQ(a->max_ns(), 80 * kMs);
  EXPECT_EQ(a->min_ns(), 1 * kMs);
  const auto empty = make();
  a->merge(*empty);  // merging nothing changes nothing, the minimum included
  EXPECT_EQ(a->count(), 1001u);
  EXPECT_EQ(a->min_ns(), 1 * kMs);
}

TEST(LatencyHistogram, HugeValuesClampToTheHighestTracked) {
  const auto histogram = make();
  histogram->record_ns(UINT64_MAX);
  histogram->record_ns(1000 * 1000 * kMs);  // 1000 s
  EXPECT_EQ(histogram->count(), 2u);
  EXPECT_EQ(histogram->max_ns(), LatencyHistogram::kHighestNs);
  EXPECT_EQ(histogram->quantile_ns(0.5), LatencyHistogram::kHighestNs);
  EXPECT_GE(LatencyHistogram::kHighestNs, 100 * 1000 * kMs);  // at least 100 s resolved
}

TEST(LatencyHistogram, StaysSmallEnoughForOnePerSecond) {
  EXPECT_LE(sizeof(LatencyHistogram), 32u * 1024u);  // 1,000 seconds stay below 32 MiB
}

TEST(Timeline, CountsOutcomesPerSecondAndLatencyOnlyForAnswers) {
  Timeline timeline;
  timeline.add(100 * kMs, Outcome::ok, 2 * kMs);
  timeline.add(1500 * kMs, Outcome::status_5xx, 4 * kMs);
  timeline.add(1600 * kMs, Outcome::socket_error, 0);
  timeline.add(1700 * kMs, Outcome::timeout, 0);
  timeline.extend_to(3);
  const Tally total = timeline.total();
  EXPECT_EQ(total.requests(), 4u);
  EXPECT_EQ(total.errors(), 3u);
  EXPECT_EQ(total.latency.count(), 2u);  // socket errors and timeouts have no latency
  EXPECT_EQ(total.latency.max_ns(), 4 * kMs);
}

}  // namespace
}  // namespace ballast::load
