#include "timeline.h"

namespace ballast::load {

void Tally::add(Outcome outcome, uint64_t latency_ns) noexcept {
  switch (outcome) {
    case Outcome::ok:
      ++ok;
      break;
    case Outcome::status_4xx:
      ++status_4xx;
      break;
    case Outcome::status_5xx:
      ++status_5xx;
      break;
    case Outcome::socket_error:
      ++socket_errors;
      return;  // no response: no latency
    case Outcome::timeout:
      ++timeouts;
      return;
  }
  latency.record_ns(latency_ns);
}

void Tally::merge(const Tally& other) noexcept {
  latency.merge(other.latency);
  ok += other.ok;
  status_4xx += other.status_4xx;
  status_5xx += other.status_5xx;
  socket_errors += other.socket_errors;
  timeouts += other.timeouts;
}

void Timeline::add(uint64_t since_start_ns, Outcome outcome, uint64_t latency_ns) {
  const uint64_t second = since_start_ns / 1'000'000'000;
  extend_to(second);
  seconds_[second].add(outcome, latency_ns);
}

void Timeline::extend_to(uint64_t second) {
  while (seconds_.size() <= second)
    seconds_.emplace_back();
}

Tally Timeline::total() const noexcept {
  Tally all;
  for (const Tally& second : seconds_)
    all.merge(second);
  return all;
}

bool Timeline::write_csv(std::FILE* out) const noexcept {
  bool ok = std::fputs("second,requests,errors,p50_ms,p90_ms,p99_ms,p999_ms,max_ms\n", out) >= 0;
  uint64_t index = 0;
  for (const Tally& second : seconds_) {
    const LatencyHistogram& latency = second.latency;
    const auto ms = [&](double q) { return static_cast<double>(latency.quantile_ns(q)) / 1e6; };
    ok = ok && std::fprintf(out, "%llu,%llu,%llu,%.3f,%.3f,%.3f,%.3f,%.3f\n",
                            static_cast<unsigned long long>(index++),
                            static_cast<unsigned long long>(second.requests()),
                            static_cast<unsigned long long>(second.errors()), ms(0.5), ms(0.9),
                            ms(0.99), ms(0.999), ms(1.0)) > 0;
  }
  return ok;
}

}  // namespace ballast::load
