#include "process/service_notifier.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdlib>

namespace ballast::process {

ServiceNotifier::ServiceNotifier(bool upgraded) {
  if (upgraded) {
    // libsystemd honours WATCHDOG_USEC only in the process WATCHDOG_PID names: the parent that
    // started this one.
    const char* watchdog_pid = std::getenv("WATCHDOG_PID");
    if (watchdog_pid != nullptr && std::atol(watchdog_pid) == getppid()) {
      setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    }
  }
  uint64_t timeout_us = 0;
  if (sd_watchdog_enabled(0, &timeout_us) > 0) {
    watchdog_interval_ms_ = timeout_us / 2'000;
  }
}

void ServiceNotifier::ready(const std::string& status) const {
  sd_notifyf(0, "READY=1\nMAINPID=%d\nSTATUS=%s", static_cast<int>(getpid()), status.c_str());
}

void ServiceNotifier::reloading() const {
  sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
}

void ServiceNotifier::stopping() const {
  sd_notify(0, "STOPPING=1\nSTATUS=draining connections");
}

void ServiceNotifier::alive() const {
  sd_notify(0, "WATCHDOG=1");
}

}  // namespace ballast::process
