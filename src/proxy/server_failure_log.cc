#include "proxy/server_failure_log.h"

#include <cstdio>

#include "observe/log.h"

namespace ballast::proxy {

void log_server_failure(upstream::ServerState& server, const ServerFailure& what,
                        uint64_t now_ns) noexcept {
  const uint64_t count = server.failure_log.admit(now_ns);
  if (count == 0) {
    return;
  }
  char digits[24];
  const int length =
      std::snprintf(digits, sizeof(digits), "%llu", static_cast<unsigned long long>(count));
  observe::log_event(config::LogLevel::warn, what.message,
                     {{"cluster", what.cluster},
                      {"server", server.name},
                      {"failure", what.failure},
                      {"detail", what.detail},
                      {"count", std::string_view(digits, static_cast<size_t>(length))}});
}

}  // namespace ballast::proxy
