#include "observe/server_stats.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

namespace ballast::observe {
namespace {

constexpr uint64_t kMsNs = 1'000'000;
constexpr uint64_t kSecondNs = 1'000 * kMsNs;

// The bucket one response of `duration_ns` lands in.
size_t bucket_of(uint64_t duration_ns) {
  ServerStats stats(1);
  stats.shard(0).record_response(200, duration_ns);
  const ServerTotals totals = stats.totals();
  for (size_t i = 0; i < kDurationBuckets; ++i) {
    if (totals.duration_buckets[i] != 0) {
      return i;
    }
  }
  return kDurationBuckets;
}

TEST(ServerStatsTest, AResponseAtABoundCountsInThatBucketAsLeIsInclusive) {
  for (size_t i = 0; i < kDurationBoundsSeconds.size(); ++i) {
    const auto bound_ns = static_cast<uint64_t>(std::llround(kDurationBoundsSeconds[i] * 1e9));
    EXPECT_EQ(bucket_of(bound_ns), i) << "at " << kDurationBoundsSeconds[i] << " s";
    EXPECT_EQ(bucket_of(bound_ns + 1), i + 1) << "just above " << kDurationBoundsSeconds[i] << " s";
  }
  EXPECT_EQ(bucket_of(0), 0u);
  EXPECT_EQ(bucket_of(1), 0u);
}

TEST(ServerStatsTest, AResponseAboveTheLastBoundCountsInInf) {
  EXPECT_EQ(bucket_of(10 * kSecondNs + 1), kDurationBuckets - 1);
  EXPECT_EQ(bucket_of(3600 * kSecondNs), kDurationBuckets - 1);
  EXPECT_EQ(bucket_of(UINT64_MAX), kDurationBuckets - 1);
}

TEST(ServerStatsTest, StatusesCountByClassAndAnythingOddIs5xx) {
  ServerStats stats(1);
  for (const uint16_t status :
       {100, 199, 200, 204, 299, 301, 404, 499, 500, 599, 0, 99, 600, 999}) {
    stats.shard(0).record_response(status, kMsNs);
  }
  const ServerTotals totals = stats.totals();
  EXPECT_EQ(totals.responses[0], 2u);  // 1xx
  EXPECT_EQ(totals.responses[1], 3u);  // 2xx
  EXPECT_EQ(totals.responses[2], 1u);  // 3xx
  EXPECT_EQ(totals.responses[3], 2u);  // 4xx
  EXPECT_EQ(totals.responses[4], 6u);  // 5xx, and 0, 99, 600, 999
  EXPECT_EQ(totals.response_count(), 14u);
  EXPECT_EQ(totals.duration_ns_sum, 14 * kMsNs);
}

TEST(ServerStatsTest, TotalsSumEveryShardAndEveryCounter) {
  ServerStats stats(3);
  for (uint32_t w = 0; w < 3; ++w) {
    ServerShard& shard = stats.shard(w);
    shard.record_response(200, (w + 1) * kMsNs);
    shard.failures[static_cast<size_t>(FailureKind::timeout)].add(w + 1);
    shard.retries.add(1);
    shard.bytes_received.add(100);
    shard.bytes_sent.add(10);
    shard.checks_passed.add(2);
    shard.checks_failed.add(1);
    shard.ejections.add(1);
    shard.breaker_openings.add(1);
  }
  const ServerTotals totals = stats.totals();
  EXPECT_EQ(totals.responses[1], 3u);
  EXPECT_EQ(totals.duration_ns_sum, 6 * kMsNs);
  EXPECT_EQ(totals.failures[static_cast<size_t>(FailureKind::timeout)], 6u);
  EXPECT_EQ(totals.failures[static_cast<size_t>(FailureKind::reset)], 0u);
  EXPECT_EQ(totals.retries, 3u);
  EXPECT_EQ(totals.bytes_received, 300u);
  EXPECT_EQ(totals.bytes_sent, 30u);
  EXPECT_EQ(totals.checks_passed, 6u);
  EXPECT_EQ(totals.checks_failed, 3u);
  EXPECT_EQ(totals.ejections, 3u);
  EXPECT_EQ(totals.breaker_openings, 3u);
}

TEST(ServerStatsTest, ZeroWorkersStillHaveOneShard) {
  ServerStats stats(0);
  EXPECT_EQ(stats.workers(), 1u);
  stats.shard(0).record_response(200, 1);
  EXPECT_EQ(stats.totals().response_count(), 1u);
}

// The threading rule: each worker writes only its own shard; a reader sums them while they
// write. Nothing is lost once the writers are done, and a reader never sees a total go down
// (each shard's counters only grow, and a reader reads each once).
TEST(ServerStatsTest, WorkersWritingTheirOwnShardsLoseNothingWhileAReaderSums) {
  constexpr uint32_t kWorkers = 4;
  constexpr uint64_t kPerWorker = 200'000;
  ServerStats server(kWorkers);
  ClusterStats cluster(kWorkers);
  std::atomic<uint32_t> writers_done{0};
  std::atomic<bool> went_down{false};
  std::atomic<uint64_t> reads{0};

  std::thread reader([&] {
    uint64_t last = 0;
    uint64_t last_local = 0;
    // At least a few reads even if the writers finish first.
    while (writers_done.load() < kWorkers || reads.load() < 3) {
      const uint64_t now = server.totals().response_count();
      const uint64_t local = cluster.local_responses()[4];
      if (now < last || local < last_local) {
        went_down = true;
      }
      last = now;
      last_local = local;
      reads.fetch_add(1);
    }
  });
  std::vector<std::thread> writers;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    writers.emplace_back([&, w] {
      ServerShard& shard = server.shard(w);
      ClusterShard& local = cluster.shard(w);
      for (uint64_t i = 0; i < kPerWorker; ++i) {
        shard.record_response(i % 2 == 0 ? 200 : 503, (i % 100) * kMsNs);
        shard.bytes_sent.add(3);
        local.local_responses[4].add();
        local.retries.add();
      }
      writers_done.fetch_add(1);
    });
  }
  for (std::thread& writer : writers) {
    writer.join();
  }
  reader.join();

  EXPECT_FALSE(went_down.load());
  const ServerTotals totals = server.totals();
  EXPECT_EQ(totals.response_count(), kWorkers * kPerWorker);
  EXPECT_EQ(totals.responses[1], kWorkers * kPerWorker / 2);
  EXPECT_EQ(totals.responses[4], kWorkers * kPerWorker / 2);
  EXPECT_EQ(totals.bytes_sent, 3 * kWorkers * kPerWorker);
  EXPECT_EQ(cluster.local_responses()[4], kWorkers * kPerWorker);
  EXPECT_EQ(cluster.retries(), kWorkers * kPerWorker);
}

TEST(ServerStatsTest, NoResponsesMeansQuantileZero) {
  ServerStats stats(2);
  EXPECT_EQ(stats.totals().duration_quantile_seconds(0.5), 0.0);
  EXPECT_EQ(stats.totals().duration_quantile_seconds(0.99), 0.0);
}

// Samples of a distribution at evenly spaced probabilities (no randomness): sample k is the
// inverse CDF at (k + 0.5) / n.
template <typename InverseCdf>
ServerTotals distribution(size_t n, InverseCdf inverse_cdf_seconds) {
  ServerStats stats(2);
  for (size_t k = 0; k < n; ++k) {
    const double p = (static_cast<double>(k) + 0.5) / static_cast<double>(n);
    stats.shard(k % 2).record_response(200, static_cast<uint64_t>(inverse_cdf_seconds(p) * 1e9));
  }
  return stats.totals();
}

// Within a bucket the estimate assumes the responses spread evenly, so for a uniform
// distribution it is exact up to one sample's width, even across buckets.
TEST(ServerStatsTest, QuantilesOfAUniformDistributionAreExact) {
  const ServerTotals totals = distribution(10'000, [](double p) { return 0.010 * p; });
  for (const double q : {0.1, 0.25, 0.5, 0.75, 0.9, 0.99}) {
    EXPECT_NEAR(totals.duration_quantile_seconds(q), 0.010 * q, 0.010 / 10'000 + 1e-9) << q;
  }
  EXPECT_NEAR(totals.duration_quantile_seconds(1.0), 0.010, 1e-9);
  // Out of range asks for the ends.
  EXPECT_EQ(totals.duration_quantile_seconds(2.0), totals.duration_quantile_seconds(1.0));
  EXPECT_EQ(totals.duration_quantile_seconds(-1.0), totals.duration_quantile_seconds(0.0));
}

// For any distribution the estimate lies in the bucket holding the true quantile.
TEST(ServerStatsTest, QuantilesOfAnExponentialDistributionFallInTheRightBucket) {
  constexpr double kMeanSeconds = 0.050;
  const auto inverse_cdf = [](double p) { return -kMeanSeconds * std::log(1.0 - p); };
  const ServerTotals totals = distribution(100'000, inverse_cdf);
  for (const double q : {0.5, 0.9, 0.99, 0.999}) {
    const double truth = inverse_cdf(q);
    const double estimate = totals.duration_quantile_seconds(q);
    double lower = 0.0;
    double upper = kDurationBoundsSeconds.back();
    for (const double bound : kDurationBoundsSeconds) {
      if (bound < truth) {
        lower = bound;
      } else {
        upper = bound;
        break;
      }
    }
    EXPECT_GE(estimate, lower) << "q " << q << " truth " << truth;
    EXPECT_LE(estimate, upper) << "q " << q << " truth " << truth;
  }
  // p50: truly 34.7 ms, in (25 ms, 50 ms], which holds e^-0.5 - e^-1 of the mass with
  // 1 - e^-0.5 below it: 25 ms + 25 ms × (0.5 - 0.3935) / 0.2387 = 36.16 ms.
  EXPECT_NEAR(totals.duration_quantile_seconds(0.5), 0.03616, 0.0001);
}

TEST(ServerStatsTest, AllInOneBucketInterpolatesLinearlyAcrossIt) {
  ServerStats stats(1);
  for (int i = 0; i < 100; ++i) {
    stats.shard(0).record_response(200, 30 * kMsNs);  // (25 ms, 50 ms]
  }
  const ServerTotals totals = stats.totals();
  EXPECT_DOUBLE_EQ(totals.duration_quantile_seconds(0.5), 0.0375);
  EXPECT_DOUBLE_EQ(totals.duration_quantile_seconds(1.0), 0.050);
}

TEST(ServerStatsTest, AQuantileInInfIsTheHighestFiniteBoundAsPrometheusAnswers) {
  ServerStats stats(1);
  stats.shard(0).record_response(200, 1 * kMsNs);
  for (int i = 0; i < 9; ++i) {
    stats.shard(0).record_response(200, 60 * kSecondNs);
  }
  const ServerTotals totals = stats.totals();
  EXPECT_DOUBLE_EQ(totals.duration_quantile_seconds(0.5), kDurationBoundsSeconds.back());
  EXPECT_DOUBLE_EQ(totals.duration_quantile_seconds(0.99), kDurationBoundsSeconds.back());
  EXPECT_DOUBLE_EQ(totals.duration_quantile_seconds(0.1), 0.001);
}

}  // namespace
}  // namespace ballast::observe
