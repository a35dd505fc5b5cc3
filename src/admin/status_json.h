#pragma once
// The state the admin API reports, and its JSON: whether each server may take traffic and why
// not, computed from the shared state exactly as the workers compute it; the /status and
// /status/history documents (shape in docs/admin.md); and the small JSON writer and reader they
// need (the reader is for `ballast status` and the tests).
//
// Threading: pure functions over the shared state, read with relaxed loads, so a report is a
// moment's view that may lag a change made while it is written; called on the admin thread.
// Cost: O(servers) per cluster, plus the output; allocation is fine here (never a worker's path).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/rate_sampler.h"
#include "discovery/source_status.h"
#include "observe/json.h"
#include "observe/protocol_stats.h"
#include "upstream/eligibility.h"
#include "upstream/generation.h"

namespace ballast::admin {

// Why a server takes no new requests: upstream::EligibilityReason's bits, whose names in the
// API are "failing health checks", "ejected", "breaker open", "disabled", "draining" and "not in
// active region".
using upstream::kBreakerOpen;
using upstream::kDisabled;
using upstream::kDraining;
using upstream::kEjected;
using upstream::kFailingChecks;
using upstream::kInactiveRegion;

// In the reasons' order of the enum.
std::vector<std::string_view> reason_names(uint8_t reasons);

// One word for a server's state, for the dashboard's colours and `ballast status`:
//   up        eligible
//   down      not eligible because of health checks, ejection or its breaker (red)
//   disabled, draining   set so by an operator, and otherwise fine
//   standby   only its region keeps it out
enum class Condition : uint8_t { up, down, disabled, draining, standby };
std::string_view condition_name(Condition condition) noexcept;

struct ServerVerdict {
  bool eligible = false;
  uint8_t reasons = 0;  // Reason bits that keep it out; 0 when eligible
  Condition condition = Condition::up;
};

struct ClusterVerdict {
  std::vector<ServerVerdict> servers;  // indexed like ClusterState::servers
  uint32_t active_region = 0;          // 0 = primary, k = regions.failover[k - 1]
  bool panic = false;                  // panic mode: health and ejection are being ignored
};

// The eligibility of every server of the cluster at now_ns (monotonic), by the rules of
// docs/resilience.md as WorkerCluster::recompute applies them: admin state, health checks,
// ejection, breaker, region, panic. In panic mode health and ejection keep no server out, so
// they are not listed as reasons then (the server's `health` still says so).
ClusterVerdict assess_cluster(const upstream::ClusterState& cluster, uint64_t now_ns);

// The breaker's state as the history codes it: 0 closed, 1 open, 2 half-open (the Prometheus
// circuit_breaker_state values), 3 no breaker.
uint8_t breaker_code(const upstream::ServerState& server) noexcept;

// What /status says about the process.
struct ProcessInfo {
  double uptime_seconds = 0;
  uint32_t workers = 0;
  observe::ProtocolTotals protocols{};
  std::vector<discovery::SourceReport> discovery{};  // one per DNS or etcd source
};

// The whole /status document.
std::string status_json(const upstream::Generation& generation, const RateSampler& sampler,
                        const ProcessInfo& process, uint64_t now_ns);

// One server's object, as it appears in /status (the answer to a POST on the server).
std::string server_json(const upstream::ClusterState& cluster, size_t server,
                        const RateSampler& sampler, uint64_t now_ns);

// The /status/history document: per server, its history points of rounds after since_round.
std::string history_json(const upstream::Generation& generation, const RateSampler& sampler,
                         uint64_t since_round);

// A reading of one server for the sampler, with its state and breaker codes.
ServerReading read_server(const upstream::ServerState& server, const ServerVerdict& verdict,
                          uint64_t now_ns);

// A parsed JSON value (RFC 8259), for reading /status back.
struct JsonValue {
  enum class Kind : uint8_t { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> items;                            // array
  std::vector<std::pair<std::string, JsonValue>> members;  // object, in order

  // The member called `name` of an object, or nullptr.
  const JsonValue* find(std::string_view name) const noexcept;
  // Conveniences that answer a default for a missing member or another kind.
  std::string_view string_or(std::string_view name, std::string_view fallback = {}) const noexcept;
  double number_or(std::string_view name, double fallback = 0) const noexcept;
  bool boolean_or(std::string_view name, bool fallback = false) const noexcept;
};

// Parses one JSON document (surrounding whitespace allowed); nullopt if it is not valid JSON or
// nests deeper than 64 levels.
std::optional<JsonValue> parse_json(std::string_view text);

}  // namespace ballast::admin
