#include "admin/rate_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ballast::admin {

ServerReading reading_of(const observe::ServerTotals& totals, uint64_t time_ns) noexcept {
  ServerReading reading;
  reading.time_ns = time_ns;
  reading.responses = totals.response_count();
  reading.duration_buckets = totals.duration_buckets;
  return reading;
}

WindowStats window_between(const ServerReading& older, const ServerReading& newer) noexcept {
  WindowStats stats;
  if (newer.time_ns <= older.time_ns) {
    return stats;
  }
  // A counter below its earlier value has restarted (its server's stats were replaced): count
  // it from zero, as Prometheus's rate() treats a counter reset.
  const bool restarted = newer.responses < older.responses;
  observe::ServerTotals delta;
  for (size_t i = 0; i < observe::kDurationBuckets; ++i) {
    const uint64_t before = restarted ? 0 : older.duration_buckets[i];
    delta.duration_buckets[i] =
        newer.duration_buckets[i] >= before ? newer.duration_buckets[i] - before : 0;
  }
  stats.responses = delta.response_count();
  const double seconds = static_cast<double>(newer.time_ns - older.time_ns) / 1e9;
  stats.requests_per_second = static_cast<double>(stats.responses) / seconds;
  stats.p50_seconds = delta.duration_quantile_seconds(0.5);
  stats.p99_seconds = delta.duration_quantile_seconds(0.99);
  return stats;
}

namespace {

// Latency codes: 0 is "none"; code c ≥ 1 stands for 2^((c - 1) / kCodeSteps) µs.
constexpr double kCodeSteps = 2048;  // per doubling
constexpr uint16_t kMaxCode = std::numeric_limits<uint16_t>::max();

uint16_t latency_code(float ms) noexcept {
  const double microseconds = static_cast<double>(ms) * 1e3;
  if (!(microseconds >= 1.0)) {  // also NaN
    return microseconds > 0 ? 1 : 0;
  }
  const double code = std::round(std::log2(microseconds) * kCodeSteps) + 1;
  return code >= kMaxCode ? kMaxCode : static_cast<uint16_t>(code);
}

float latency_ms(uint16_t code) noexcept {
  return code == 0 ? 0.0f : static_cast<float>(std::exp2((code - 1) / kCodeSteps) / 1e3);
}

}  // namespace

RateSampler::StoredPoint RateSampler::pack(const HistoryPoint& point) noexcept {
  StoredPoint stored;
  stored.requests_per_second = point.requests_per_second;
  stored.p50_code = latency_code(point.p50_ms);
  stored.p99_code = latency_code(point.p99_ms);
  stored.active = static_cast<uint16_t>(std::min<uint32_t>(point.active, kMaxCode));
  stored.state = point.state;
  stored.breaker = point.breaker;
  return stored;
}

HistoryPoint RateSampler::unpack(const StoredPoint& stored) noexcept {
  HistoryPoint point;
  point.requests_per_second = stored.requests_per_second;
  point.p50_ms = latency_ms(stored.p50_code);
  point.p99_ms = latency_ms(stored.p99_code);
  point.active = stored.active;
  point.state = stored.state;
  point.breaker = stored.breaker;
  return point;
}

std::string RateSampler::key_of(std::string_view cluster, std::string_view server) {
  // A newline appears in neither name (config.md: names are letters, digits, '-' and '_';
  // servers are host:port), so the pair maps to one key.
  std::string key;
  key.reserve(cluster.size() + 1 + server.size());
  key.append(cluster).append(1, '\n').append(server);
  return key;
}

const RateSampler::Series* RateSampler::find(std::string_view cluster,
                                             std::string_view server) const noexcept {
  try {
    const auto found = series_.find(key_of(cluster, server));
    return found == series_.end() ? nullptr : &found->second;
  } catch (...) {
    return nullptr;  // out of memory building the key: no history is a fine answer
  }
}

void RateSampler::begin_round() noexcept {
  ++rounds_;
}

void RateSampler::record(std::string_view cluster, std::string_view server, const void* identity,
                         const ServerReading& reading) {
  Series& series = series_[key_of(cluster, server)];
  if (series.identity != identity) {
    series = Series{};
    series.identity = identity;
  }
  series.last_round = rounds_;

  // The point's window ends at this reading and starts at the oldest kept one in reach.
  const ServerReading* start = window_start(series, reading.time_ns);
  const WindowStats stats = start != nullptr ? window_between(*start, reading) : WindowStats{};
  HistoryPoint point;
  point.requests_per_second = static_cast<float>(stats.requests_per_second);
  point.p50_ms = static_cast<float>(stats.p50_seconds * 1e3);
  point.p99_ms = static_cast<float>(stats.p99_seconds * 1e3);
  point.active = reading.active;
  point.state = reading.state;
  point.breaker = reading.breaker;
  if (series.points.size() < kHistoryPoints) {
    series.points.reserve(kHistoryPoints);  // exactly: growth by doubling would hold 512
    series.points.push_back(pack(point));
    series.points_next = series.points.size() % kHistoryPoints;
  } else {
    series.points[series.points_next] = pack(point);
    series.points_next = (series.points_next + 1) % kHistoryPoints;
  }

  series.readings[series.readings_next] = reading;
  series.readings_next = (series.readings_next + 1) % kReadings;
  series.readings_count = std::min(series.readings_count + 1, kReadings);
}

void RateSampler::end_round() {
  std::erase_if(series_, [this](const auto& entry) { return entry.second.last_round != rounds_; });
}

const ServerReading* RateSampler::window_start(const Series& series, uint64_t now_ns) noexcept {
  const uint64_t reach_ns = kWindowNs + kIntervalNs / 2;
  // From the oldest kept reading to the newest: the first one within reach.
  for (size_t age = series.readings_count; age > 0; --age) {
    const size_t index = (series.readings_next + kReadings - age) % kReadings;
    const ServerReading& reading = series.readings[index];
    if (reading.time_ns < now_ns && now_ns - reading.time_ns <= reach_ns) {
      return &reading;
    }
  }
  return nullptr;
}

WindowStats RateSampler::window(std::string_view cluster, std::string_view server,
                                const void* identity, const ServerReading& now) const noexcept {
  const Series* series = find(cluster, server);
  if (series == nullptr || series->identity != identity) {
    return {};
  }
  const ServerReading* start = window_start(*series, now.time_ns);
  return start != nullptr ? window_between(*start, now) : WindowStats{};
}

std::vector<HistoryPoint> RateSampler::history(std::string_view cluster, std::string_view server,
                                               uint64_t since_round) const {
  std::vector<HistoryPoint> points;
  const Series* series = find(cluster, server);
  if (series == nullptr) {
    return points;
  }
  const size_t kept = series->points.size();
  const uint64_t wanted = since_round >= rounds_ ? 0 : rounds_ - since_round;
  const size_t count = static_cast<size_t>(std::min<uint64_t>(wanted, kept));
  points.reserve(count);
  // The newest point sits just before points_next (a full ring) or at the end (still filling).
  const size_t newest_end = kept < kHistoryPoints ? kept : series->points_next;
  for (size_t i = count; i > 0; --i) {
    points.push_back(unpack(series->points[(newest_end + kept - i) % kept]));
  }
  return points;
}

}  // namespace ballast::admin
