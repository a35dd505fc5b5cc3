#include "admin/status_json.h"

#include <gtest/gtest.h>

#include "admin/rate_sampler.h"
#include "core/clock.h"

namespace ballast::admin {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

config::ServerConfig server(uint16_t port, std::string region = {}, bool backup = false) {
  config::ServerConfig spec;
  spec.host = "127.0.0.1";
  spec.port = port;
  spec.region = std::move(region);
  spec.backup = backup;
  return spec;
}

std::shared_ptr<const upstream::Generation> generation_of(config::ClusterConfig cluster) {
  auto config = std::make_shared<config::Config>();
  config->clusters.push_back(std::move(cluster));
  return upstream::build_generation(config, nullptr, 2);
}

config::ClusterConfig cluster_of(std::vector<config::ServerConfig> servers) {
  config::ClusterConfig cluster;
  cluster.name = "web";
  cluster.servers = std::move(servers);
  return cluster;
}

std::vector<std::string_view> reasons(const ServerVerdict& verdict) {
  return reason_names(verdict.reasons);
}

using Names = std::vector<std::string_view>;

TEST(Assess, AHealthyEnabledServerIsEligibleWithNoReason) {
  const auto generation = generation_of(cluster_of({server(9001), server(9002)}));
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  ASSERT_EQ(verdict.servers.size(), 2u);
  for (const ServerVerdict& server : verdict.servers) {
    EXPECT_TRUE(server.eligible);
    EXPECT_EQ(server.reasons, 0);
    EXPECT_EQ(server.condition, Condition::up);
  }
  EXPECT_FALSE(verdict.panic);
}

TEST(Assess, FailingHealthChecksKeepAServerOutAndMakeItDown) {
  config::ClusterConfig cluster = cluster_of({server(9001), server(9002)});
  cluster.health_check.enabled = true;
  cluster.health_check.start_healthy = true;
  const auto generation = generation_of(cluster);
  generation->clusters[0].servers[1]->passes_checks = false;
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  EXPECT_TRUE(verdict.servers[0].eligible);
  EXPECT_FALSE(verdict.servers[1].eligible);
  EXPECT_EQ(reasons(verdict.servers[1]), Names{"failing health checks"});
  EXPECT_EQ(verdict.servers[1].condition, Condition::down);
}

TEST(Assess, AnEjectedServerIsDownUntilItsEjectionEnds) {
  config::ClusterConfig cluster = cluster_of({server(9001), server(9002)});
  cluster.outlier_detection.enabled = true;
  cluster.outlier_detection.consecutive_failures = 1;
  cluster.outlier_detection.max_ejection_percent = 100;
  cluster.outlier_detection.base_ejection_time_ms = 30'000;
  const auto generation = generation_of(cluster);
  const uint64_t now_ns = 1000 * kSecond;
  const auto ejected = generation->clusters[0].health->outliers->record(
      0, health::TrafficResult::connect_failure, now_ns);
  ASSERT_TRUE(ejected.has_value());
  ASSERT_EQ(ejected->event, health::OutlierEvent::ejected);

  ClusterVerdict verdict = assess_cluster(generation->clusters[0], now_ns + kSecond);
  EXPECT_EQ(reasons(verdict.servers[0]), Names{"ejected"});
  EXPECT_EQ(verdict.servers[0].condition, Condition::down);
  EXPECT_TRUE(verdict.servers[1].eligible);

  verdict = assess_cluster(generation->clusters[0], now_ns + 31 * kSecond);
  EXPECT_TRUE(verdict.servers[0].eligible);
}

TEST(Assess, AnOpenBreakerKeepsAServerOutUntilItIsDueForAProbe) {
  config::ClusterConfig cluster = cluster_of({server(9001), server(9002)});
  cluster.circuit_breaker.enabled = true;
  cluster.circuit_breaker.timeout_ms = 5'000;
  const auto generation = generation_of(cluster);
  const uint64_t now_ns = 1000 * kSecond;
  const upstream::ServerState& target = *generation->clusters[0].servers[1];
  ASSERT_TRUE(target.breaker->trip(now_ns, health::TransitionReason::predicted_failure).happened());

  ClusterVerdict verdict = assess_cluster(generation->clusters[0], now_ns + kSecond);
  EXPECT_EQ(reasons(verdict.servers[1]), Names{"breaker open"});
  EXPECT_EQ(verdict.servers[1].condition, Condition::down);
  EXPECT_EQ(breaker_code(target), 1);
  EXPECT_EQ(breaker_code(*generation->clusters[0].servers[0]), 0);

  // Past the timeout the next request may probe it: eligible again, as the workers see it.
  verdict = assess_cluster(generation->clusters[0], now_ns + 6 * kSecond);
  EXPECT_TRUE(verdict.servers[1].eligible);
}

TEST(Assess, DisabledAndDrainingServersAreNamedSo) {
  const auto generation = generation_of(cluster_of({server(9001), server(9002), server(9003)}));
  generation->clusters[0].servers[0]->admin = upstream::AdminState::disabled;
  generation->clusters[0].servers[1]->admin = upstream::AdminState::draining;
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  EXPECT_EQ(reasons(verdict.servers[0]), Names{"disabled"});
  EXPECT_EQ(verdict.servers[0].condition, Condition::disabled);
  EXPECT_EQ(reasons(verdict.servers[1]), Names{"draining"});
  EXPECT_EQ(verdict.servers[1].condition, Condition::draining);
  EXPECT_TRUE(verdict.servers[2].eligible);
}

TEST(Assess, ADisabledServerThatAlsoFailsItsChecksIsDown) {
  config::ClusterConfig cluster = cluster_of({server(9001), server(9002)});
  cluster.health_check.enabled = true;
  cluster.health_check.start_healthy = true;
  const auto generation = generation_of(cluster);
  generation->clusters[0].servers[0]->admin = upstream::AdminState::disabled;
  generation->clusters[0].servers[0]->passes_checks = false;
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  EXPECT_EQ(reasons(verdict.servers[0]), (Names{"failing health checks", "disabled"}));
  EXPECT_EQ(verdict.servers[0].condition, Condition::down);
}

config::ClusterConfig two_regions() {
  config::ClusterConfig cluster =
      cluster_of({server(9001, "east"), server(9002, "east"), server(9003, "west")});
  cluster.regions = config::RegionsConfig{"east", {"west"}, 0.5};
  cluster.health_check.enabled = true;
  cluster.health_check.start_healthy = true;
  return cluster;
}

TEST(Assess, ServersOutsideTheActiveRegionStandBy) {
  const auto generation = generation_of(two_regions());
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  EXPECT_EQ(verdict.active_region, 0u);
  EXPECT_TRUE(verdict.servers[0].eligible);
  EXPECT_TRUE(verdict.servers[1].eligible);
  EXPECT_EQ(reasons(verdict.servers[2]), Names{"not in active region"});
  EXPECT_EQ(verdict.servers[2].condition, Condition::standby);
}

TEST(Assess, TheFailoverRegionServesWhenTooFewOfThePrimaryPass) {
  const auto generation = generation_of(two_regions());
  generation->clusters[0].servers[0]->passes_checks = false;
  generation->clusters[0].servers[1]->passes_checks = false;
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  EXPECT_EQ(verdict.active_region, 1u);
  EXPECT_EQ(reasons(verdict.servers[0]), (Names{"failing health checks", "not in active region"}));
  EXPECT_TRUE(verdict.servers[2].eligible);

  // Half of the primary is enough (min_healthy_fraction 0.5): it serves again.
  generation->clusters[0].servers[0]->passes_checks = true;
  const ClusterVerdict back = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  EXPECT_EQ(back.active_region, 0u);
  EXPECT_TRUE(back.servers[0].eligible);
  EXPECT_EQ(reasons(back.servers[1]), Names{"failing health checks"});
  EXPECT_EQ(back.servers[2].condition, Condition::standby);
}

TEST(Assess, ABackupServerIsNeverOutsideTheRegion) {
  config::ClusterConfig cluster = two_regions();
  cluster.servers.push_back(server(9004, "west", /*backup=*/true));
  const auto generation = generation_of(cluster);
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], core::monotonic_now_ns());
  EXPECT_TRUE(verdict.servers[3].eligible);
}

TEST(Assess, PanicModeIgnoresHealthButNotTheBreakerOrTheOperator) {
  config::ClusterConfig cluster =
      cluster_of({server(9001), server(9002), server(9003), server(9004)});
  cluster.health_check.enabled = true;
  cluster.health_check.start_healthy = true;
  cluster.panic_threshold = 50;
  cluster.circuit_breaker.enabled = true;
  const auto generation = generation_of(cluster);
  const uint64_t now_ns = 1000 * kSecond;
  const auto& servers = generation->clusters[0].servers;
  servers[0]->passes_checks = false;
  servers[1]->passes_checks = false;
  servers[2]->passes_checks = false;  // 1 of 4 usable: below 50%
  servers[1]->admin = upstream::AdminState::disabled;
  ASSERT_TRUE(
      servers[2]->breaker->trip(now_ns, health::TransitionReason::predicted_failure).happened());
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], now_ns);
  EXPECT_TRUE(verdict.panic);
  EXPECT_TRUE(verdict.servers[0].eligible);
  EXPECT_EQ(reasons(verdict.servers[1]), Names{"disabled"});
  EXPECT_EQ(reasons(verdict.servers[2]), Names{"breaker open"});
  EXPECT_TRUE(verdict.servers[3].eligible);
}

ServerReading reading(uint64_t time_ns,
                      std::initializer_list<std::pair<size_t, uint64_t>> buckets) {
  ServerReading result;
  result.time_ns = time_ns;
  for (const auto& [bucket, count] : buckets) {
    result.duration_buckets[bucket] = count;
    result.responses += count;
  }
  return result;
}

TEST(Window, RateAndPercentilesComeFromTheDifferenceBetweenReadings) {
  // 100 earlier responses in the 1-2.5 ms bucket must not count; 100 new ones in 2.5-5 ms do.
  const ServerReading older = reading(10 * kSecond, {{1, 100}});
  const ServerReading newer = reading(20 * kSecond, {{1, 100}, {2, 100}});
  const WindowStats stats = window_between(older, newer);
  EXPECT_EQ(stats.responses, 100u);
  EXPECT_DOUBLE_EQ(stats.requests_per_second, 10.0);
  EXPECT_NEAR(stats.p50_seconds, 0.0025 + 0.0025 * 0.5, 1e-12);
  EXPECT_NEAR(stats.p99_seconds, 0.0025 + 0.0025 * 0.99, 1e-12);
}

TEST(Window, PercentilesSplitAcrossBuckets) {
  // 90 fast (under 1 ms), 10 slow (0.5-1 s): p50 is fast, p99 is slow.
  const ServerReading older = reading(0, {});
  const ServerReading newer = reading(5 * kSecond, {{0, 90}, {9, 10}});
  const WindowStats stats = window_between(older, newer);
  EXPECT_DOUBLE_EQ(stats.requests_per_second, 20.0);
  EXPECT_LT(stats.p50_seconds, 0.001);
  EXPECT_GT(stats.p99_seconds, 0.5);
  EXPECT_LE(stats.p99_seconds, 1.0);
}

TEST(Window, EmptyOrBackwardIntervalsGiveZeros) {
  const ServerReading same = reading(5 * kSecond, {{3, 10}});
  EXPECT_EQ(window_between(same, same).requests_per_second, 0.0);
  const WindowStats none = window_between(reading(0, {}), reading(kSecond, {}));
  EXPECT_EQ(none.requests_per_second, 0.0);
  EXPECT_EQ(none.p99_seconds, 0.0);
  // Counters that went down restarted: the newer reading is all new.
  const WindowStats restarted = window_between(reading(0, {{3, 50}}), reading(kSecond, {{3, 5}}));
  EXPECT_EQ(restarted.responses, 5u);
}

TEST(Sampler, TheWindowStartsAboutTenSecondsBack) {
  RateSampler sampler;
  int marker = 0;
  // One reading a second for 30 s, 10 responses a second in bucket 4 (10-25 ms).
  for (uint64_t t = 1; t <= 30; ++t) {
    sampler.begin_round();
    sampler.record("web", "a", &marker, reading(t * kSecond, {{4, t * 10}}));
    sampler.end_round();
  }
  // A fresh reading 0.5 s after the last one, with 5 more responses: the window starts at the
  // reading of t=20 (10.5 s back, the oldest within reach); t=19 is 11.5 s back.
  const WindowStats stats =
      sampler.window("web", "a", &marker, reading(30 * kSecond + kSecond / 2, {{4, 305}}));
  EXPECT_EQ(stats.responses, 305u - 200u);
  EXPECT_NEAR(stats.requests_per_second, 105.0 / 10.5, 1e-9);
  // 0.6 s after the last one, t=20 is out of reach: t=21 starts it.
  const WindowStats later =
      sampler.window("web", "a", &marker, reading(30 * kSecond + 600'000'000, {{4, 306}}));
  EXPECT_EQ(later.responses, 306u - 210u);
  EXPECT_GT(stats.p50_seconds, 0.010);
  EXPECT_LT(stats.p50_seconds, 0.025);
}

TEST(Sampler, HistoryKeepsFiveMinutesOfPointsAndAnswersSinceARound) {
  RateSampler sampler;
  int marker = 0;
  for (uint64_t t = 1; t <= 400; ++t) {
    sampler.begin_round();
    ServerReading r = reading(t * kSecond, {{0, t * 2}});
    r.active = static_cast<uint32_t>(t);
    r.state = t % 2 == 0 ? 1 : 0;
    sampler.record("web", "a", &marker, r);
    sampler.end_round();
  }
  EXPECT_EQ(sampler.rounds(), 400u);
  const std::vector<HistoryPoint> all = sampler.history("web", "a");
  ASSERT_EQ(all.size(), RateSampler::kHistoryPoints);
  EXPECT_EQ(all.front().active, 101u);  // oldest kept
  EXPECT_EQ(all.back().active, 400u);
  EXPECT_NEAR(all.back().requests_per_second, 2.0, 1e-6);
  EXPECT_EQ(all.back().state, 1);  // t=400: even
  EXPECT_EQ(all.front().state, 0);

  const std::vector<HistoryPoint> recent = sampler.history("web", "a", 397);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].active, 398u);
  EXPECT_EQ(recent[2].active, 400u);
  EXPECT_TRUE(sampler.history("web", "a", 400).empty());
  EXPECT_TRUE(sampler.history("web", "nobody").empty());
}

TEST(Sampler, HistoryPointsArePackedWithoutLosingWhatTheDashboardShows) {
  // Points are stored in 12 bytes (latencies as logarithmic codes): what comes back must match
  // the window's figures to 0.1%, and an in-flight count beyond 16 bits saturates.
  RateSampler sampler;
  int marker = 0;
  ServerReading last;
  for (uint64_t t = 1; t <= 12; ++t) {
    sampler.begin_round();
    last = reading(t * kSecond, {{1, t * 40}, {3, t * 9}, {6, t}});
    last.active = 100'000;
    sampler.record("web", "a", &marker, last);
    sampler.end_round();
  }
  const HistoryPoint point = sampler.history("web", "a").back();
  const WindowStats window = sampler.window("web", "a", &marker, last);
  EXPECT_NEAR(point.p50_ms, window.p50_seconds * 1e3, window.p50_seconds * 1e3 * 1e-3);
  EXPECT_NEAR(point.p99_ms, window.p99_seconds * 1e3, window.p99_seconds * 1e3 * 1e-3);
  EXPECT_GT(point.p99_ms, point.p50_ms);
  EXPECT_EQ(point.active, 65'535u);
  EXPECT_EQ(sampler.history("web", "a").front().p50_ms, 0.0f);  // no window yet: none
}

TEST(Sampler, ANewStatsObjectOrAMissedRoundStartsTheSeriesAgain) {
  RateSampler sampler;
  int first = 0;
  int second = 0;
  for (uint64_t t = 1; t <= 5; ++t) {
    sampler.begin_round();
    sampler.record("web", "a", &first, reading(t * kSecond, {{0, t * 100}}));
    sampler.record("web", "b", &first, reading(t * kSecond, {{0, t}}));
    sampler.end_round();
  }
  EXPECT_EQ(sampler.history("web", "a").size(), 5u);
  // A fresh reading against another stats object: no window, and the next round restarts.
  EXPECT_EQ(sampler.window("web", "a", &second, reading(6 * kSecond, {{0, 1}})).responses, 0u);
  sampler.begin_round();
  sampler.record("web", "a", &second, reading(6 * kSecond, {{0, 1}}));
  sampler.end_round();  // "b" was not recorded: gone
  EXPECT_EQ(sampler.history("web", "a").size(), 1u);
  EXPECT_TRUE(sampler.history("web", "b").empty());
}

TEST(Json, WriterOutputParsesBackWithEscapes) {
  std::string out;
  observe::JsonWriter json(out);
  json.begin_object();
  json.field("text", "quote \" backslash \\ newline \n tab \t bell \x07");
  json.field("count", uint64_t{18446744073709551615ULL});
  json.field("ratio", 0.125);
  json.field("bad", 1.0 / 0.0);
  json.field("yes", true);
  json.key("nothing");
  json.null();
  json.key("list");
  json.begin_array();
  json.number(uint64_t{1});
  json.begin_object();
  json.end_object();
  json.begin_array();
  json.end_array();
  json.end_array();
  json.end_object();

  const std::optional<JsonValue> parsed = parse_json(out);
  ASSERT_TRUE(parsed.has_value()) << out;
  EXPECT_EQ(parsed->string_or("text"), "quote \" backslash \\ newline \n tab \t bell \x07");
  EXPECT_DOUBLE_EQ(parsed->number_or("ratio"), 0.125);
  EXPECT_DOUBLE_EQ(parsed->number_or("bad", -1), 0.0);
  EXPECT_TRUE(parsed->boolean_or("yes"));
  ASSERT_NE(parsed->find("nothing"), nullptr);
  EXPECT_EQ(parsed->find("nothing")->kind, JsonValue::Kind::null);
  ASSERT_EQ(parsed->find("list")->items.size(), 3u);
}

TEST(Json, ReaderRejectsWhatIsNotJson) {
  for (const std::string_view bad :
       {"", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "01", "1.", "-", "\"\\x\"", "\"a\nb\"", "tru",
        "[1] 2", "{\"a\":1,}", "\"\\ud800\"", "nul"}) {
    EXPECT_FALSE(parse_json(bad).has_value()) << bad;
  }
  std::string deep(200, '[');
  deep.append(200, ']');
  EXPECT_FALSE(parse_json(deep).has_value());
}

TEST(Json, ReaderAcceptsWhatIsJson) {
  const auto value = parse_json(R"( {"a": [1, -2.5e3, true, false, null, "\u00e9\ud83d\ude00"]} )");
  ASSERT_TRUE(value.has_value());
  const JsonValue& list = *value->find("a");
  ASSERT_EQ(list.items.size(), 6u);
  EXPECT_DOUBLE_EQ(list.items[1].number, -2500);
  EXPECT_EQ(list.items[5].string, "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(StatusJson, EveryServerWithItsReasonsAndCounters) {
  config::ClusterConfig cluster = cluster_of({server(9001), server(9002)});
  cluster.health_check.enabled = true;
  cluster.health_check.start_healthy = true;
  cluster.circuit_breaker.enabled = true;
  const auto generation = generation_of(cluster);
  const auto& servers = generation->clusters[0].servers;
  servers[1]->passes_checks = false;
  servers[0]->active_attempts = 3;
  servers[0]->stats->shard(0).record_response(200, 2'000'000);
  servers[0]->stats->shard(1).record_response(503, 2'000'000);

  RateSampler sampler;
  const std::string text =
      status_json(*generation, sampler, ProcessInfo{12.5, 2}, core::monotonic_now_ns());
  const std::optional<JsonValue> status = parse_json(text);
  ASSERT_TRUE(status.has_value()) << text;
  EXPECT_DOUBLE_EQ(status->find("process")->number_or("generation"), 1);
  EXPECT_DOUBLE_EQ(status->find("process")->number_or("workers"), 2);
  EXPECT_DOUBLE_EQ(status->find("process")->number_or("uptime_seconds"), 12.5);
  const JsonValue& web = status->find("clusters")->items.at(0);
  EXPECT_EQ(web.string_or("name"), "web");
  EXPECT_DOUBLE_EQ(web.number_or("eligible_servers"), 1);
  const JsonValue& first = web.find("servers")->items.at(0);
  const JsonValue& second = web.find("servers")->items.at(1);
  EXPECT_EQ(first.string_or("name"), "127.0.0.1:9001");
  EXPECT_TRUE(first.boolean_or("eligible"));
  EXPECT_EQ(first.string_or("state"), "up");
  EXPECT_EQ(first.string_or("health"), "healthy");
  EXPECT_DOUBLE_EQ(first.number_or("active_connections"), 3);
  EXPECT_DOUBLE_EQ(first.number_or("requests_total"), 2);
  EXPECT_DOUBLE_EQ(first.find("responses")->number_or("2xx"), 1);
  EXPECT_DOUBLE_EQ(first.find("responses")->number_or("5xx"), 1);
  EXPECT_EQ(first.find("breaker")->string_or("state"), "closed");
  EXPECT_FALSE(second.boolean_or("eligible", true));
  EXPECT_EQ(second.string_or("state"), "down");
  EXPECT_EQ(second.string_or("health"), "unhealthy");
  ASSERT_EQ(second.find("reasons")->items.size(), 1u);
  EXPECT_EQ(second.find("reasons")->items[0].string, "failing health checks");

  const std::optional<JsonValue> one =
      parse_json(server_json(generation->clusters[0], 1, sampler, core::monotonic_now_ns()));
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->string_or("name"), "127.0.0.1:9002");
}

TEST(StatusJson, ClientsSayRequestsByProtocolAndHttp2StreamsPerConnection) {
  const auto generation = generation_of(cluster_of({server(9001)}));
  RateSampler sampler;
  ProcessInfo process{1.0, 1};
  process.protocols = {.requests = {1, 20, 7}, .http2_connections = 2, .http2_streams = 5};
  const std::optional<JsonValue> status =
      parse_json(status_json(*generation, sampler, process, core::monotonic_now_ns()));
  ASSERT_TRUE(status.has_value());
  const JsonValue& clients = *status->find("clients");
  EXPECT_DOUBLE_EQ(clients.find("requests_by_protocol")->number_or("HTTP/1.0"), 1);
  EXPECT_DOUBLE_EQ(clients.find("requests_by_protocol")->number_or("HTTP/1.1"), 20);
  EXPECT_DOUBLE_EQ(clients.find("requests_by_protocol")->number_or("HTTP/2"), 7);
  EXPECT_DOUBLE_EQ(clients.find("http2")->number_or("connections"), 2);
  EXPECT_DOUBLE_EQ(clients.find("http2")->number_or("streams"), 5);
  EXPECT_DOUBLE_EQ(clients.find("http2")->number_or("streams_per_connection"), 2.5);
}

TEST(StatusJson, HistoryListsEveryServerAndItsPoints) {
  const auto generation = generation_of(cluster_of({server(9001), server(9002)}));
  RateSampler sampler;
  const ClusterVerdict verdict = assess_cluster(generation->clusters[0], 0);
  for (uint64_t t = 1; t <= 3; ++t) {
    sampler.begin_round();
    for (size_t i = 0; i < 2; ++i) {
      const auto& server = *generation->clusters[0].servers[i];
      sampler.record("web", server.name, server.stats.get(),
                     read_server(server, verdict.servers[i], t * kSecond));
    }
    sampler.end_round();
  }
  const std::optional<JsonValue> history = parse_json(history_json(*generation, sampler, 1));
  ASSERT_TRUE(history.has_value());
  EXPECT_DOUBLE_EQ(history->number_or("round"), 3);
  const JsonValue& servers = *history->find("clusters")->items.at(0).find("servers");
  ASSERT_EQ(servers.items.size(), 2u);
  EXPECT_EQ(servers.items[1].string_or("name"), "127.0.0.1:9002");
  EXPECT_EQ(servers.items[1].find("state")->items.size(), 2u);         // rounds 2 and 3
  EXPECT_EQ(servers.items[1].find("breaker")->items.at(0).number, 3);  // no breaker
}

}  // namespace
}  // namespace ballast::admin
