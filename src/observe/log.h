#pragma once
// Event log lines: one JSON object per line (or plain text), written with a single write(2) so
// lines from different workers never interleave and no lock is taken. Used for events (start,
// reload, errors naming a server), never per successful request; the access log and the
// configurable sinks come with observability.

#include <initializer_list>
#include <string_view>
#include <utility>

#include "config/config.h"

namespace ballast::observe {

using Field = std::pair<std::string_view, std::string_view>;

// Where and how lines go; set once at start-up and at reload, before workers read it.
void configure_log(const config::LoggingConfig& logging);

// One line: {"ts":"…","level":"…","msg":"…","key":"value",…}. Values are escaped.
void log_event(config::LogLevel level, std::string_view message,
               std::initializer_list<Field> fields = {}) noexcept;

}  // namespace ballast::observe
