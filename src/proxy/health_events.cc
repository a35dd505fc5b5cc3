#include "proxy/health_events.h"

#include <string>

#include "observe/log.h"

namespace ballast::proxy {

using config::LogLevel;

void log_health_change(std::string_view cluster, std::string_view server,
                       const health::HealthTransition& change, std::string_view detail) {
  const bool up = change.to == health::HealthState::healthy;
  observe::log_event(up ? LogLevel::info : LogLevel::warn, "health check changed",
                     {{"cluster", cluster},
                      {"server", server},
                      {"from", health::to_string(change.from)},
                      {"to", health::to_string(change.to)},
                      {"checks", std::to_string(change.consecutive_checks)},
                      {"detail", detail}});
}

void log_breaker_change(std::string_view cluster, std::string_view server,
                        const health::Transition& change) {
  const bool opened = change.to == health::BreakerState::open;
  observe::log_event(opened ? LogLevel::warn : LogLevel::info, "circuit breaker changed",
                     {{"cluster", cluster},
                      {"server", server},
                      {"from", health::state_name(change.from)},
                      {"to", health::state_name(change.to)},
                      {"reason", health::reason_text(change.reason)}});
}

void log_outlier_event(std::string_view cluster, std::string_view server,
                       const health::OutlierTransition& event) {
  switch (event.event) {
    case health::OutlierEvent::ejected:
      observe::log_event(LogLevel::warn, "server ejected",
                         {{"cluster", cluster},
                          {"server", server},
                          {"failure", health::to_string(event.failure)},
                          {"multiplier", std::to_string(event.multiplier)},
                          {"ejection_ms", std::to_string(event.ejection_ms)}});
      return;
    case health::OutlierEvent::ejection_refused:
      observe::log_event(LogLevel::warn, "server ejection refused",
                         {{"cluster", cluster},
                          {"server", server},
                          {"failure", health::to_string(event.failure)},
                          {"reason", "max_ejection_percent reached"}});
      return;
    case health::OutlierEvent::expired:
    case health::OutlierEvent::returned_by_check:
      observe::log_event(
          LogLevel::info, "server returned",
          {{"cluster", cluster},
           {"server", server},
           {"reason", event.event == health::OutlierEvent::expired ? "ejection time passed"
                                                                   : "health check passed"}});
      return;
  }
}

void log_region_change(std::string_view cluster, std::string_view from, std::string_view to) {
  observe::log_event(LogLevel::warn, "region changed",
                     {{"cluster", cluster}, {"from", from}, {"to", to}});
}

void log_panic_mode(std::string_view cluster, bool entered, uint32_t healthy_percent) {
  observe::log_event(entered ? LogLevel::warn : LogLevel::info,
                     entered ? "panic mode entered" : "panic mode left",
                     {{"cluster", cluster}, {"healthy_percent", std::to_string(healthy_percent)}});
}

}  // namespace ballast::proxy
