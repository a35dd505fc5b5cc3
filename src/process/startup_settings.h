#pragma once
// The settings a running process reads only at start-up: a reload applies everything else and
// names these when they changed, for the operator to apply them with a binary upgrade
// (SIGUSR2), which starts a process that reads them afresh without closing a listening socket.
// Each is fixed for a reason: the worker count sizes every per-worker shard and the sockets'
// SO_REUSEPORT groups; the admin API and metrics sockets are the ones a reload is asked on; the
// connection limit and io_uring shape each worker's loop; the span exporter, log output and
// fleet registration are threads started with the process.

#include <string>
#include <vector>

#include "config/config.h"

namespace ballast::process {

// "workers: 2 -> 4", one entry per start-up setting `next` changes from `running`.
std::vector<std::string> changed_startup_settings(const config::Config& running,
                                                  const config::Config& next);

}  // namespace ballast::process
