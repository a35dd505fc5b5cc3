#pragma once
// The log line about a server failing an attempt (a connect failure, a reset, a timeout, a bad
// or cut-off response), throttled per server: at most one a second from all workers together,
// with `count` saying how many failures it stands for (observe/log_throttle.h).
//
// Threading: any worker; takes no lock unless it writes the line.

#include <cstdint>
#include <string_view>

#include "upstream/server_state.h"

namespace ballast::proxy {

struct ServerFailure {
  std::string_view message;  // "upstream attempt failed", "server closed mid-response", ...
  std::string_view cluster;
  std::string_view failure;  // the kind, as retry.on and metrics name it; may be empty
  std::string_view detail;   // may be empty
};

void log_server_failure(upstream::ServerState& server, const ServerFailure& what,
                        uint64_t now_ns) noexcept;

}  // namespace ballast::proxy
