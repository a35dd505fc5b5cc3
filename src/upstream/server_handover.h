#pragma once
// The servers' state a binary upgrade carries from the running process to its successor, as
// lines of text (process/upgrade_channel.h): per server, whether it passes its health checks,
// when its slow start began, what the admin API set, and an open breaker's end. Counters and a
// closed breaker's window start again in the new process.
//
// CLOCK_MONOTONIC is the host's, the same in both processes, so instants travel as they are.

#include <cstdint>
#include <string>
#include <vector>

#include "upstream/generation.h"

namespace ballast::upstream {

// One line per server of every cluster of `generation` (read through atomics: any thread).
std::vector<std::string> describe_server_states(const Generation& generation, uint64_t now_ns);

// Puts the described states on the servers of `generation` that have the same cluster and
// host:port — before any worker serves it. Lines that name no such server, or that do not parse,
// are skipped. Returns how many servers took a state.
size_t resume_server_states(const Generation& generation, const std::vector<std::string>& lines);

}  // namespace ballast::upstream
