#pragma once
// `ballast status`: asks a running ballast's admin API for GET /status and prints it as a table,
// one line per server: cluster, server, state (and why, when not eligible), weight, active
// connections, requests per second, p50 and p99 latency over the last 10 s, breaker state.
//
// Threading: a plain blocking client for the command line; nothing here runs inside the proxy.
// Each step (connect, send, receive) is bounded by kTimeoutMs.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace ballast::admin {

inline constexpr uint64_t kStatusTimeoutMs = 5'000;

// `admin_address`: "host:port", "[v6]:port", ":port" (127.0.0.1) or "host" (port 9091); an
// "http://" prefix and a trailing "/" are allowed. Prints the table to `out`; errors go to
// `err`. Returns 0 on success, 1 when the API could not be reached or answered badly.
int run_status_command(const std::string& admin_address, std::ostream& out, std::ostream& err);
// As above, errors to std::cerr.
int run_status_command(const std::string& admin_address, std::ostream& out);

// `ballast status --etcd`: every instance registered in the fleet under `fleet_prefix`
// (docs/fleet.md), each with its admin address and, from its admin API, its table. Returns 0
// when etcd answered and every instance did, 1 otherwise (the others are still printed).
int run_fleet_status_command(const std::vector<std::string>& etcd, const std::string& fleet_prefix,
                             std::ostream& out, std::ostream& err);

// The table for one /status document; false (and `error` set) when it is not one.
bool print_status_table(std::string_view status_json, std::ostream& out, std::string& error);

}  // namespace ballast::admin
