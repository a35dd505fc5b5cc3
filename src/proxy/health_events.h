#pragma once
// The log lines that say why a server went in or out: health-check verdicts, ejections and
// returns, breaker transitions, region switches and panic mode. Each change is logged once, by
// the one caller that made it (the state machines report each transition to exactly one caller).
//
// Threading: any worker; each call is one write(2) of one line (observe/log.h).

#include <cstdint>
#include <string_view>

#include "health/circuit_breaker.h"
#include "health/health_tracker.h"
#include "health/outlier_detector.h"

namespace ballast::proxy {

void log_health_change(std::string_view cluster, std::string_view server,
                       const health::HealthTransition& change, std::string_view detail);
void log_breaker_change(std::string_view cluster, std::string_view server,
                        const health::Transition& change);
void log_outlier_event(std::string_view cluster, std::string_view server,
                       const health::OutlierTransition& event);
void log_region_change(std::string_view cluster, std::string_view from, std::string_view to);
void log_panic_mode(std::string_view cluster, bool entered, uint32_t healthy_percent);

}  // namespace ballast::proxy
