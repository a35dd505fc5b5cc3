#include "admin/edge_status.h"

namespace ballast::admin {
namespace {

void write_rate_limits(observe::JsonWriter& json, const edge::RatePolicy& policy) {
  json.key("rate_limits");
  json.begin_array();
  for (const edge::CompiledLimit& limit : policy.limits()) {
    const config::RateLimitConfig& config = *limit.config;
    json.begin_object();
    json.field("name", config.name);
    json.field("listener", limit.listener);
    json.field("route", limit.route);
    json.field("key", edge::key_kind_name(config.key));
    if (!config.key_name.empty()) {
      json.field("key_name", config.key_name);
    }
    json.field("requests", config.requests);
    json.field("period_ms", config.period_ms);
    json.field("burst", config.burst);
    json.field("global", config.global);
    json.field("refused", limit.counters->total_refused());
    json.end_object();
  }
  json.end_array();
  json.key("rate_limit_store");
  const edge::RateSync* sync = policy.sync();
  if (sync == nullptr) {
    json.null();
    return;
  }
  json.begin_object();
  json.field("up", sync->store_up());
  json.field("exchanges_ok", sync->exchanges_ok());
  json.field("exchanges_failed", sync->exchanges_failed());
  json.field("batches_dropped", sync->batches_dropped());
  json.end_object();
}

void write_geo(observe::JsonWriter& json, const upstream::Generation& generation) {
  json.key("geo");
  json.begin_array();
  if (generation.geo_routes != nullptr) {
    const edge::GeoLocator& locator = *generation.geo;
    for (const edge::GeoRoute& route : generation.geo_routes->routes()) {
      json.begin_object();
      json.field("listener", route.listener);
      json.field("route", route.route);
      json.key("served_by_region");
      json.begin_object();
      for (uint32_t region = 0; region < locator.region_count(); ++region) {
        json.field(locator.region_name(region),
                   route.counters->total_served(static_cast<int32_t>(region)));
      }
      json.field("default", route.counters->total_served(-1));
      json.end_object();
      json.key("failed_over_from");
      json.begin_object();
      for (uint32_t region = 0; region < locator.region_count(); ++region) {
        json.field(locator.region_name(region), route.counters->total_failed_over(region));
      }
      json.end_object();
      json.end_object();
    }
  }
  json.end_array();
}

}  // namespace

void write_edge_status(observe::JsonWriter& json, const upstream::Generation& generation) {
  json.key("edge");
  json.begin_object();
  write_rate_limits(json, *generation.rate_policy);
  write_geo(json, generation);
  json.end_object();
}

}  // namespace ballast::admin
