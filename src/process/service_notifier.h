#pragma once
// What ballast tells its service manager (systemd's sd_notify protocol, through libsystemd):
// ready once serving, reloading while a SIGHUP is applied, stopping when it drains, and the
// watchdog's keep-alive. Every call is a no-op when NOTIFY_SOCKET is not set (run by hand).
//
// Threading: the main thread's alone.

#include <cstdint>
#include <string>

namespace ballast::process {

class ServiceNotifier {
 public:
  // Reads the watchdog's interval (WATCHDOG_USEC) once. `upgraded`: this process took over from
  // a binary upgrade's old process, whose pid systemd set as WATCHDOG_PID: the watchdog is ours
  // now.
  explicit ServiceNotifier(bool upgraded);

  // READY=1 with MAINPID (so, after a binary upgrade, systemd follows the new process).
  void ready(const std::string& status) const;
  void reloading() const;
  void stopping() const;
  // WATCHDOG=1.
  void alive() const;

  // How often alive() should be called: half the watchdog's timeout; 0 without a watchdog.
  uint64_t watchdog_interval_ms() const noexcept { return watchdog_interval_ms_; }

 private:
  uint64_t watchdog_interval_ms_ = 0;
};

}  // namespace ballast::process
