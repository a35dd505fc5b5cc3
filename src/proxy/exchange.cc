#include "proxy/exchange.h"

#include <algorithm>
#include <cstring>

#include "core/hash.h"
#include "observe/log.h"
#include "proxy/router.h"
#include "proxy/server_failure_log.h"

namespace ballast::proxy {
namespace {

using config::LogLevel;

uint8_t retry_flag(config::RetryOn on) noexcept {
  return static_cast<uint8_t>(on);
}

// The value of cookie `name` in the request's Cookie header ("a=1; b=2"), or empty.
std::string_view cookie_value(const http::HeaderFields& headers, std::string_view name) noexcept {
  const http::Header* cookie = headers.find("Cookie");
  std::string_view rest = cookie == nullptr ? std::string_view{} : cookie->value;
  while (!rest.empty()) {
    const size_t end = rest.find(';');
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') {
      pair.remove_prefix(1);
    }
    if (pair.size() > name.size() && pair.starts_with(name) && pair[name.size()] == '=') {
      return pair.substr(name.size() + 1);
    }
  }
  return {};
}

// A request id of 32 hex digits (128 random bits), as nginx's $request_id.
size_t write_request_id(core::Random& random, std::span<char> out) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t length = 0;
  for (int word = 0; word < 2; ++word) {
    uint64_t bits = random.next();
    for (int digit = 0; digit < 16; ++digit, bits >>= 4) {
      out[length++] = kHex[bits & 0xF];
    }
  }
  return length;
}

// A peer's request id is kept only if it is a short run of visible characters: it goes into
// logs and spans as it is.
bool is_usable_request_id(std::string_view id, size_t max_bytes) noexcept {
  if (id.empty() || id.size() > max_bytes) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7F && c != '"'; });
}

// The retry budget exists to stop retries multiplying the load on a struggling fleet. A
// connection that could not be made did no work anywhere, so its retry adds no load: it is left
// out of the budget. Without that, a dead server that least connections keeps choosing (it never
// has a request in flight) would exhaust the budget and turn most requests into 502s.
bool in_retry_budget(Failure failure) noexcept {
  return failure != Failure::connect_failure;
}

void fill_request_fields(observe::SpanRecord& span, std::string_view method,
                         std::string_view target, std::string_view cluster,
                         std::string_view request_id) noexcept {
  span.name.assign(method);
  span.method.assign(method);
  span.path.assign(target.substr(0, target.find('?')));
  span.cluster.assign(cluster);
  span.request_id.assign(request_id);
}

}  // namespace

std::string_view failure_name(Failure failure) noexcept {
  switch (failure) {
    case Failure::connect_failure:
      return "connect_failure";
    case Failure::reset:
      return "reset";
    case Failure::timeout:
      return "timeout";
    case Failure::server_error:
      return "5xx";
    case Failure::bad_response:
      return "bad_response";
  }
  return "bad_response";
}

AttemptEnd attempt_end_of(Failure failure) noexcept {
  switch (failure) {
    case Failure::connect_failure:
      return AttemptEnd::connect_failure;
    case Failure::timeout:
      return AttemptEnd::timeout;
    case Failure::server_error:
      return AttemptEnd::server_error;
    case Failure::reset:
    case Failure::bad_response:
      return AttemptEnd::reset;
  }
  return AttemptEnd::reset;
}

bool is_idempotent(std::string_view method) noexcept {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

void Exchange::begin(uint64_t now_ns) noexcept {
  cluster_ = nullptr;
  route_ = nullptr;
  refused_by_ = nullptr;
  geo_routed_ = false;
  started_ns_ = now_ns;
  finished_ = false;
  reached_server_ = false;
  body_streamed_ = false;
  response_started_ = false;
  excluded_ = {};
  attempts_made_ = 0;
  attempt_status_ = 0;
  grpc_status_ = -1;
  request_id_length_ = 0;
  method_ = target_ = {};
  trace_.sampled = false;
  traced_ = false;
}

Exchange::Routed Exchange::route(WorkerGeneration& generation,
                                 const config::ListenerConfig& listener,
                                 const http::RequestHead& request) noexcept {
  route_ = find_route(listener, request.host, request.target);
  if (!within_rate_limits(generation, listener, request)) {
    set_request_id(request);
    return Routed::limited;
  }
  if (route_ != nullptr && route_->redirect.enabled) {
    set_request_id(request);
    return Routed::redirect;
  }
  size_t index = route_ == nullptr ? generation.clusters.size()
                                   : generation.shared->cluster_index(route_->cluster);
  if (route_ != nullptr && !route_->geo_clusters.empty()) {
    const std::vector<config::ListenerConfig>& listeners = generation.shared->config->listeners;
    index = geo_cluster(generation, static_cast<size_t>(&listener - listeners.data()),
                        static_cast<size_t>(route_ - listener.routes.data()), request, index);
  }
  if (index >= generation.clusters.size()) {
    return Routed::none;
  }
  routed_ = generation.clusters[index];
  cluster_ = routed_.get();
  replayable_ = is_idempotent(request.method) || cluster_->config().retry.non_idempotent ||
                request.headers.find("Idempotency-Key") != nullptr;
  set_hash_key(request);
  set_affinity(request);
  set_request_id(request);
  if (telemetry_.tracing()) {
    begin_trace(request);
  }
  return Routed::cluster;
}

// The client the edge policies judge: the connection's (or its PROXY header's), or, from a
// trusted proxy, the last address of its X-Forwarded-For — the client that proxy saw (nginx's
// real_ip without recursion).
std::string_view Exchange::policy_client_ip(const http::RequestHead& request) const noexcept {
  const http::Header* forwarded =
      client_.trusted ? request.headers.find("X-Forwarded-For") : nullptr;
  if (forwarded == nullptr) {
    return client_.ip;
  }
  std::string_view last = forwarded->value.substr(forwarded->value.rfind(',') + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) {
    last.remove_prefix(1);
  }
  return last.empty() ? client_.ip : last;
}

edge::GeoDecision Exchange::locate_client(const upstream::Generation& generation,
                                          const http::RequestHead& request) noexcept {
  const edge::GeoLocator& locator = *generation.geo;
  const std::string_view ip = policy_client_ip(request);
  if (ip.data() == client_.ip.data() && client_.address != nullptr) {
    if (placed_in_ != generation.number) {
      placed_ = locator.locate(*client_.address);
      placed_in_ = generation.number;
    }
    return placed_;
  }
  core::SocketAddress parsed;
  return core::parse_ip(ip, parsed) ? locator.locate(parsed) : edge::GeoDecision{};
}

// Geographic routing: the cluster of the client's region if it can serve, else of the next
// nearest region that can (else the nearest's, which will say why it cannot); the route's own
// cluster for a client of no known region.
size_t Exchange::geo_cluster(WorkerGeneration& generation, size_t listener, size_t route,
                             const http::RequestHead& request, size_t fallback) noexcept {
  const upstream::Generation& shared = *generation.shared;
  const edge::GeoRoute* plan = shared.geo_routes->route(listener, route);
  const edge::GeoDecision decision = locate_client(shared, request);
  geo_routed_ = true;
  geo_locator_ = shared.geo.get();
  geo_by_ = decision.by;
  geo_region_ = -1;
  if (decision.region < 0) {
    plan->counters->served(telemetry_.worker, -1);
    return fallback;
  }
  const std::vector<edge::GeoChoice>& choices = plan->by_region[decision.region];
  const edge::GeoChoice* chosen = &choices.front();
  for (const edge::GeoChoice& choice : choices) {
    if (generation.clusters[choice.cluster]->can_serve(started_ns_)) {
      chosen = &choice;
      break;
    }
  }
  if (chosen->region != static_cast<uint32_t>(decision.region)) {
    plan->counters->failed_over(telemetry_.worker, static_cast<uint32_t>(decision.region));
  }
  geo_region_ = static_cast<int32_t>(chosen->region);
  plan->counters->served(telemetry_.worker, geo_region_);
  return chosen->cluster;
}

// The listener's limit, then the route's (a request no route matches still counts against its
// listener's).
bool Exchange::within_rate_limits(WorkerGeneration& generation,
                                  const config::ListenerConfig& listener,
                                  const http::RequestHead& request) noexcept {
  const upstream::Generation& shared = *generation.shared;
  const edge::RatePolicy& policy = *shared.rate_policy;
  if (policy.empty()) {
    return true;
  }
  const auto index = static_cast<size_t>(&listener - shared.config->listeners.data());
  if (!passes(policy, policy.listener_limit(index), generation, request)) {
    return false;
  }
  return route_ == nullptr ||
         passes(policy,
                policy.route_limit(index, static_cast<size_t>(route_ - listener.routes.data())),
                generation, request);
}

bool Exchange::passes(const edge::RatePolicy& policy, const edge::CompiledLimit* limit,
                      WorkerGeneration& generation, const http::RequestHead& request) noexcept {
  if (limit == nullptr) {
    return true;
  }
  const config::RateLimitConfig& config = *limit->config;
  std::string_view key;
  switch (config.key) {
    case config::RateKeyKind::client_ip:
      key = policy_client_ip(request);
      break;
    case config::RateKeyKind::header: {
      const http::Header* header = request.headers.find(config.key_name);
      key = header == nullptr ? std::string_view{} : header->value;
      break;
    }
    case config::RateKeyKind::cookie:
      key = cookie_value(request.headers, config.key_name);
      break;
    case config::RateKeyKind::route:
      key = route_ == nullptr ? std::string_view{} : std::string_view(route_->name);
      break;
  }
  if (key.empty()) {
    return true;  // no key, nothing to count it against (as nginx's limit_req)
  }
  const uint64_t hash = core::hash64(key, limit->seed);
  const edge::RateVerdict verdict = policy.table().check(hash, limit->limit, started_ns_);
  if (limit->global_index != UINT32_MAX && generation.rate_batch != nullptr) {
    generation.rate_batch->record(limit->global_index, hash, verdict.allowed);
  }
  if (verdict.allowed) {
    return true;
  }
  limit->counters->refused(telemetry_.worker);
  refused_by_ = limit;
  rate_fields_.write(config, verdict);
  return false;
}

void Exchange::redirect_location(const http::RequestHead& request, std::string_view scheme,
                                 std::string& out) const {
  const http::TemplateValues values{
      client_.ip, request_id(), route_->name, request.host, request.target, scheme, {}};
  const http::ValueTemplate& location = route_->redirect.location;
  out.resize(location.length(values));
  location.write(values, std::span<char>(out));
}

void Exchange::edit_upstream_request(const http::RequestHead& request, std::string_view scheme,
                                     http::ForwardContext& forward) const noexcept {
  if (!route_->request_headers.empty()) {
    forward.edits = {
        &route_->request_headers,
        {client_.ip, request_id(), route_->name, request.host, request.target, scheme, {}}};
  }
  if (!route_->rewrite_prefix.empty()) {
    forward.rewrite_from = route_->path_prefix;
    forward.rewrite_to = route_->rewrite_prefix;
  }
}

http::HeadEdits Exchange::response_edits(std::string_view scheme) const noexcept {
  if (route_ == nullptr || route_->response_headers.empty()) {
    return {};
  }
  const std::string_view server = attempt_.server == balance::kNoServer
                                      ? std::string_view{}
                                      : cluster_->server(attempt_.server).name;
  return {&route_->response_headers,
          {client_.ip, request_id(), route_->name, {}, {}, scheme, server}};
}

bool Exchange::admit(uint64_t now_ns) noexcept {
  ++cluster_->retry_budget().active_requests;
  holds_budget_ = true;
  if (!cluster_->health().limits->requests.try_add()) {
    if (cluster_->should_log(now_ns)) {
      observe::log_event(LogLevel::warn, "cluster at max_requests",
                         {{"cluster", cluster_->config().name}, {"client", client_.ip}});
    }
    return false;
  }
  holds_request_limit_ = true;
  return true;
}

void Exchange::set_affinity(const http::RequestHead& request) noexcept {
  const config::SessionAffinityConfig& affinity = cluster_->config().session_affinity;
  affinity_server_ =
      affinity.enabled && affinity.method == config::AffinityMethod::cookie
          ? cluster_->server_by_affinity_id(cookie_value(request.headers, affinity.cookie_name))
          : balance::kNoServer;
}

std::string_view Exchange::affinity_cookie() const noexcept {
  const config::SessionAffinityConfig& affinity = cluster_->config().session_affinity;
  const bool set = affinity.enabled && affinity.method == config::AffinityMethod::cookie &&
                   attempt_.server != affinity_server_;
  return set ? cluster_->affinity_cookie(attempt_.server) : std::string_view{};
}

void Exchange::set_hash_key(const http::RequestHead& request) noexcept {
  const config::ClusterConfig& cluster = cluster_->config();
  std::string_view key = client_.ip;
  if (cluster.algorithm != balance::Algorithm::ip_hash) {
    switch (cluster.hash_key.on) {
      case config::HashOn::client_ip:
        break;
      case config::HashOn::path:
        key = request.target.substr(0, request.target.find('?'));
        break;
      case config::HashOn::header: {
        const http::Header* header = request.headers.find(cluster.hash_key.name);
        key = header == nullptr ? std::string_view{} : header->value;
        break;
      }
      case config::HashOn::cookie:
        key = cookie_value(request.headers, cluster.hash_key.name);
        break;
    }
  }
  hash_key_length_ = std::min(key.size(), hash_key_.size());
  std::memcpy(hash_key_.data(), key.data(), hash_key_length_);
}

// X-Request-Id: a trusted peer's is kept, so one id follows the request through every hop;
// anyone else's is replaced, so a client cannot forge the id a server logs.
void Exchange::set_request_id(const http::RequestHead& request) noexcept {
  const http::Header* given = client_.trusted ? request.headers.find("X-Request-Id") : nullptr;
  if (given != nullptr && is_usable_request_id(given->value, request_id_.size())) {
    request_id_length_ = given->value.copy(request_id_.data(), request_id_.size());
    return;
  }
  request_id_length_ = write_request_id(telemetry_.random, request_id_);
}

// W3C Trace Context: continues the caller's trace (or starts one) and decides sampling; the
// first attempt's span is the parent the server sees.
void Exchange::begin_trace(const http::RequestHead& request) noexcept {
  const http::Header* parent = request.headers.find("traceparent");
  const http::Header* state = request.headers.find("tracestate");
  trace_ = observe::begin_request_trace(parent == nullptr ? "" : parent->value,
                                        state == nullptr ? "" : state->value,
                                        telemetry_.sample_rate, telemetry_.random);
  trace_.tracestate = {};  // a view into the head, gone by the time spans are written
  traced_ = true;
  attempt_span_ = observe::new_span_id(telemetry_.random);
  observe::format_traceparent(trace_.trace_id, attempt_span_, trace_.sampled, traceparent_);
}

std::string_view Exchange::traceparent() const noexcept {
  return telemetry_.tracing() ? std::string_view(traceparent_.data(), traceparent_.size())
                              : std::string_view{};
}

balance::ServerIndex Exchange::start_attempt(uint64_t now_ns) noexcept {
  balance::PickContext ctx;
  ctx.now_ns = now_ns;
  ctx.hash_key = {hash_key_.data(), hash_key_length_};
  ctx.excluded = excluded_;
  const balance::ServerIndex preferred =
      affinity_server_ != balance::kNoServer ? affinity_server_ : preferred_server_;
  preferred_server_ = balance::kNoServer;
  if (cluster_->start_attempt(ctx, preferred, attempt_) == balance::kNoServer) {
    if (attempt_is_retry_) {
      give_back_retry();  // every server left has been tried, or refuses
    } else if (cluster_->should_log(now_ns)) {
      observe::log_event(LogLevel::warn, "no server available",
                         {{"cluster", cluster_->config().name}, {"client", client_.ip}});
    }
    return balance::kNoServer;
  }
  ++attempts_made_;
  attempt_status_ = 0;
  if (attempt_is_retry_) {
    cluster_->stats(attempt_.server).retries.add();
  }
  if (attempts_made_ > 1 && telemetry_.tracing()) {
    // A retry is a new span: the traceparent names it as the server's parent.
    attempt_span_ = observe::new_span_id(telemetry_.random);
    observe::write_hex(attempt_span_.bytes, traceparent_.data() + kTraceparentSpanOffset);
  }
  return attempt_.server;
}

bool Exchange::hold_pending() noexcept {
  if (!attempt_.pending) {
    if (!cluster_->health().limits->pending.try_add()) {
      return false;
    }
    attempt_.pending = true;
  }
  return true;
}

void Exchange::connected() noexcept {
  if (attempt_.pending) {
    cluster_->health().limits->pending.remove();
    attempt_.pending = false;
  }
}

void Exchange::cancel_attempt(uint64_t now_ns) noexcept {
  end_attempt(AttemptEnd::cancelled, now_ns);
  if (cluster_->should_log(now_ns)) {
    observe::log_event(LogLevel::warn, "cluster at max_pending_requests",
                       {{"cluster", cluster_->config().name}, {"client", client_.ip}});
  }
}

bool Exchange::may_retry(Failure failure) const noexcept {
  const config::RetryConfig& retry = cluster_->config().retry;
  uint8_t needed = 0;
  switch (failure) {
    case Failure::connect_failure:
      needed = retry_flag(config::RetryOn::connect_failure);
      break;
    case Failure::timeout:
      needed = retry_flag(config::RetryOn::timeout);
      break;
    case Failure::reset:
    case Failure::server_error:
      needed = retry_flag(config::RetryOn::server_error);
      break;
    case Failure::bad_response:
      return false;
  }
  return attempts_made_ < retry.attempts && (retry.on & needed) != 0 && may_send_again() &&
         !body_streamed_ && !response_started_ &&
         (!in_retry_budget(failure) || cluster_->retry_budget().allows_retry(retry)) &&
         cluster_->health().limits->retries.has_room();
}

// A retry counts against the cluster's max_retries and, unless it retries a connect failure,
// this worker's retry budget.
bool Exchange::take_retry(Failure failure) noexcept {
  if (!cluster_->health().limits->retries.try_add()) {
    return false;
  }
  retry_in_budget_ = in_retry_budget(failure);
  if (retry_in_budget_) {
    ++cluster_->retry_budget().active_retries;
  }
  cluster_->cluster_stats().retries.add();
  attempt_is_retry_ = true;
  return true;
}

void Exchange::give_back_retry() noexcept {
  if (retry_in_budget_) {
    --cluster_->retry_budget().active_retries;
  }
  cluster_->health().limits->retries.remove();
  attempt_is_retry_ = false;
  retry_in_budget_ = false;
}

bool Exchange::attempt_failed(Failure failure, uint64_t now_ns) noexcept {
  const balance::ServerIndex server = attempt_.server;
  end_attempt(attempt_end_of(failure), now_ns);
  last_failure_ = failure;
  if (may_retry(failure) && take_retry(failure)) {
    excluded_.add(server);
    return true;
  }
  return false;
}

FailureAnswer Exchange::failure_answer() const noexcept {
  return last_failure_ == Failure::timeout ? FailureAnswer{504, "upstream timed out"}
                                           : FailureAnswer{502, "upstream failed"};
}

FailureAnswer Exchange::no_server_answer() const noexcept {
  return attempts_made_ > 0 ? failure_answer() : FailureAnswer{503, "no server available"};
}

void Exchange::log_attempt_failure(std::string_view message, std::string_view failure,
                                   std::string_view detail, uint64_t now_ns) const noexcept {
  log_server_failure(cluster_->server(attempt_.server),
                     {message, cluster_->config().name, failure, detail}, now_ns);
}

bool Exchange::retry_after_status(uint16_t status) noexcept {
  attempt_status_ = status;  // the attempt's span reports it either way
  return status >= 500 && may_retry(Failure::server_error);
}

void Exchange::answered(uint16_t status, uint64_t now_ns) noexcept {
  attempt_status_ = status;
  cluster_->judge_attempt(attempt_, status >= 500 ? AttemptEnd::server_error : AttemptEnd::success,
                          now_ns);
}

void Exchange::answered_grpc(uint16_t status, uint32_t grpc_status, uint64_t now_ns) noexcept {
  attempt_status_ = status;
  grpc_status_ = static_cast<int32_t>(std::min<uint32_t>(grpc_status, 999));
  const bool failed = status >= 500 || cluster_->config().grpc.is_failure(grpc_status);
  cluster_->judge_attempt(attempt_, failed ? AttemptEnd::server_error : AttemptEnd::success,
                          now_ns);
}

void Exchange::end_attempt(AttemptEnd end, uint64_t now_ns) noexcept {
  if (attempt_.server == balance::kNoServer) {
    return;
  }
  if (trace_.sampled && telemetry_.tracing()) {
    submit_attempt_span(end, now_ns);
  }
  cluster_->finish_attempt(attempt_, end, now_ns);
  if (attempt_is_retry_) {
    give_back_retry();
  }
}

void Exchange::finish(const Outcome& outcome, uint64_t now_ns) noexcept {
  if (finished_) {
    return;
  }
  finished_ = true;
  if (telemetry_.protocols != nullptr) {
    telemetry_.protocols->count_request(protocol_);
  }
  if (trace_.sampled && telemetry_.tracing()) {
    submit_request_span(outcome, now_ns);
  }
  if (telemetry_.access_log != nullptr && telemetry_.access_log->enabled()) {
    log_access(outcome, now_ns);
  }
  if (cluster_ != nullptr) {
    if (outcome.request_body_cut_short) {
      cluster_->cluster_stats().request_bodies_cut_short.add();
    }
    if (outcome.server == balance::kNoServer) {
      cluster_->cluster_stats().local_responses[observe::status_class_index(outcome.status)].add();
    } else {
      cluster_->stats(outcome.server).record_response(outcome.status, now_ns - started_ns_);
    }
  }
  release_request();
}

void Exchange::release_request() noexcept {
  if (holds_budget_) {
    --cluster_->retry_budget().active_requests;
    holds_budget_ = false;
  }
  if (holds_request_limit_) {
    cluster_->health().limits->requests.remove();
    holds_request_limit_ = false;
  }
}

void Exchange::log_access(const Outcome& outcome, uint64_t now_ns) noexcept {
  std::array<char, observe::kTraceIdHexBytes> trace_hex;
  const bool traced = traced_;
  if (traced) {
    observe::write_hex(trace_.trace_id.bytes, trace_hex.data());
  }
  observe::AccessRecord record;
  record.unix_ns = telemetry_.unix_ns(started_ns_);
  record.client_ip = client_.ip;
  record.method = method_;
  record.path = target_;
  record.protocol = observe::protocol_name(protocol_);
  record.cluster = cluster_ == nullptr ? std::string_view{} : cluster_->config().name;
  record.route = route_ == nullptr ? std::string_view{} : std::string_view(route_->name);
  record.rate_limit =
      refused_by_ == nullptr ? std::string_view{} : std::string_view(refused_by_->config->name);
  if (geo_routed_) {
    record.region = geo_region_ < 0 ? std::string_view("default")
                                    : geo_locator_->region_name(static_cast<uint32_t>(geo_region_));
    record.region_by = edge::source_name(geo_by_);
  }
  record.server = outcome.server == balance::kNoServer ? std::string_view{}
                                                       : cluster_->server(outcome.server).name;
  record.status = outcome.status;
  record.duration_ns = now_ns - started_ns_;
  record.bytes_received = outcome.bytes_received;
  record.bytes_sent = outcome.bytes_sent;
  record.attempts = attempts_made_;
  record.trace_id = traced ? std::string_view(trace_hex.data(), trace_hex.size()) : "";
  record.request_id = request_id();
  record.tls_version = client_.tls_version;
  record.tls_cipher = client_.tls_cipher;
  record.sni = client_.sni;
  record.request_body_cut_short = outcome.request_body_cut_short;
  record.grpc_status = grpc_status_;
  telemetry_.access_log->record(record);
}

void Exchange::submit_attempt_span(AttemptEnd end, uint64_t now_ns) noexcept {
  observe::SpanRecord span;
  span.trace_id = trace_.trace_id;
  span.span_id = attempt_span_;
  span.parent_span_id = trace_.span_id;
  span.kind = observe::SpanKind::client;
  span.start_unix_ns = telemetry_.unix_ns(attempt_.started_ns);
  span.end_unix_ns = telemetry_.unix_ns(now_ns);
  span.http_status_code = attempt_status_;
  span.status = end == AttemptEnd::success && attempt_status_ < 400 ? observe::SpanStatus::ok
                                                                    : observe::SpanStatus::error;
  span.attempt = static_cast<uint16_t>(attempts_made_);
  span.retry = attempts_made_ > 1;
  fill_request_fields(span, method_, target_, cluster_->config().name, request_id());
  span.server_address.assign(cluster_->server(attempt_.server).name);
  telemetry_.spans->submit(telemetry_.worker, span);
}

void Exchange::submit_request_span(const Outcome& outcome, uint64_t now_ns) noexcept {
  observe::SpanRecord span;
  span.trace_id = trace_.trace_id;
  span.span_id = trace_.span_id;
  span.parent_span_id = trace_.parent_span_id;
  span.kind = observe::SpanKind::server;
  span.start_unix_ns = telemetry_.unix_ns(started_ns_);
  span.end_unix_ns = telemetry_.unix_ns(now_ns);
  span.http_status_code = outcome.status;
  span.status = outcome.status >= 500 ? observe::SpanStatus::error : observe::SpanStatus::unset;
  fill_request_fields(span, method_, target_,
                      cluster_ == nullptr ? std::string_view{} : cluster_->config().name,
                      request_id());
  if (outcome.server != balance::kNoServer) {
    span.server_address.assign(cluster_->server(outcome.server).name);
  }
  telemetry_.spans->submit(telemetry_.worker, span);
}

}  // namespace ballast::proxy
