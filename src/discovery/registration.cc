#include "discovery/registration.h"

#include <signal.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "core/clock.h"

namespace ballast::discovery {
namespace {

constexpr uint64_t kFirstBackoffMs = 200;
constexpr uint64_t kMaxBackoffMs = 5'000;

// SIGTERM and SIGINT, blocked on this thread so that they wait for sigtimedwait instead of
// killing the process: the renewals keep their schedule and a signal ends the wait at once.
// They stay blocked after return, so that a second signal during shutdown cannot kill the
// process before it returns its exit code.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }

  // Waits up to wait_ms for one of them: its number, or 0 when none came.
  int wait(uint64_t wait_ms) const {
    const uint64_t deadline_ns = core::monotonic_now_ns() + wait_ms * core::kNsPerMs;
    for (;;) {
      const uint64_t now = core::monotonic_now_ns();
      const uint64_t left_ns = deadline_ns > now ? deadline_ns - now : 0;
      const timespec timeout{static_cast<time_t>(left_ns / 1'000'000'000),
                             static_cast<long>(left_ns % 1'000'000'000)};
      const int signal_number = sigtimedwait(&set_, nullptr, &timeout);
      if (signal_number > 0) {
        return signal_number;
      }
      if (errno != EINTR) {
        return 0;  // EAGAIN: the time is up
      }
    }
  }

 private:
  sigset_t set_{};
};

std::string lease_name(int64_t lease) {
  // In hex, as etcdctl prints it ("etcdctl lease timetolive <id>").
  std::ostringstream name;
  name << "lease " << std::hex << lease;
  return name.str();
}

}  // namespace

Registrar::Registrar(const Registration& registration, Say say)
    : registration_(registration),
      say_(std::move(say)),
      client_(registration.endpoints, registration.timeout_ms) {}

uint64_t Registrar::step() {
  try {
    if (record_put_ && !client_.keep_alive(lease_)) {
      say(lease_name(lease_) + " lost (it expired or was revoked); registering again");
      lease_ = 0;
      record_put_ = false;
    }
    if (lease_ == 0) {
      lease_ = client_.grant_lease(registration_.ttl_s);
      say(lease_name(lease_) + " granted by " + client_.current_endpoint() + " (ttl " +
          std::to_string(registration_.ttl_s) + " s)");
    }
    if (!record_put_) {
      client_.put(registration_.key, registration_.value, lease_);
      record_put_ = true;
      say(registration_.key + " put under " + lease_name(lease_) + ": " + registration_.value);
    }
  } catch (const EtcdError& error) {
    return failed(error);
  }
  if (backoff_ms_ != 0) {
    say("etcd answers again (" + client_.current_endpoint() + ")");
    backoff_ms_ = 0;
  }
  // Three renewals per TTL: one or two may fail without the lease running out.
  return std::max<uint64_t>(1, static_cast<uint64_t>(registration_.ttl_s) * 1000 / 3);
}

void Registrar::revoke(std::string_view why) {
  const std::string stopping = std::string(why) + ", stopping: ";
  if (lease_ == 0) {
    say(stopping + "no lease to revoke");
    return;
  }
  try {
    client_.revoke(lease_);
    say(stopping + lease_name(lease_) + " revoked, " + registration_.key + " removed");
  } catch (const EtcdError& error) {
    say(stopping + "could not revoke " + lease_name(lease_) + " (" + error.what() + "); " +
        registration_.key + " stays until the lease expires");
  }
}

uint64_t Registrar::failed(const EtcdError& error) {
  if (backoff_ms_ == 0) {
    say(std::string("etcd call failed, retrying with back-off: ") + error.what());
  }
  // A lease the record never went under is left to expire: it may be the reason the put
  // failed (etcd forgot it while unreachable), and a new one costs one call.
  if (!record_put_) {
    lease_ = 0;
  }
  backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
  return backoff_ms_;
}

void Registrar::say(const std::string& line) {
  say_(line);
}

int run_registration(const Registration& registration, std::ostream& log) {
  if (registration.key.empty() || registration.ttl_s < 1) {
    log << "register: a key and a lease TTL of at least 1 s are needed\n";
    return 2;
  }
  const StopSignals signals;
  Registrar registrar(registration, [&log](const std::string& line) {
    log << "register: " << line << '\n';
    log.flush();
  });
  for (;;) {
    // The next step is due a fixed time after this one started, however long its calls took.
    const uint64_t started_ns = core::monotonic_now_ns();
    const uint64_t wait_ms = registrar.step();
    const uint64_t spent_ms = (core::monotonic_now_ns() - started_ns) / core::kNsPerMs;
    const int signal_number = signals.wait(wait_ms > spent_ms ? wait_ms - spent_ms : 0);
    if (signal_number != 0) {
      registrar.revoke(signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
      return 0;
    }
  }
}

}  // namespace ballast::discovery
