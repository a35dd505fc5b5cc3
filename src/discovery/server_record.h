#pragma once
// One server's record as etcd discovery stores it: the JSON value of one key under a cluster's
// prefix, {"host": "10.0.0.5", "port": 8080, "weight": 2, "region": "eu", "backup": false}
// (host, an IP address, and port required; weight 1-1,000,000, default 1; region and backup
// optional).
//
// Threading: pure functions.

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"

namespace ballast::discovery {

// The server a record describes, or nullopt with `error` saying why (not JSON, a field missing or
// out of range). Never throws: a record is untrusted input.
std::optional<config::ServerConfig> parse_server_record(std::string_view json, std::string& error);

// The record for `server` (the inverse of parse_server_record).
std::string server_record(const config::ServerConfig& server);

}  // namespace ballast::discovery
