#pragma once
// The running process's side of a binary upgrade (SIGUSR2), as nginx's USR2 and HAProxy's -x:
// start the binary found at the path this process was started from (a package upgrade has
// replaced it there) with the same arguments, hand it every listening socket and the servers'
// state over a UNIX socket (upgrade_channel.h), and wait until it serves. The caller then stops
// accepting and drains; a successor that fails leaves this process serving as before.
//
// Threading: the main thread's alone.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/socket.h"

namespace ballast::process {

// How this process was started, to start its successor the same way.
struct CommandLine {
  std::string binary;  // absolute, read at start-up (before an upgrade may replace the file)
  std::vector<std::string> arguments;  // argv[1..], without any --upgrade-fd of our own

  static CommandLine of_this_process(int argc, char** argv);
};

// What the successor is given: descriptors by key (upgrade_channel.h) and servers' states.
struct Handover {
  std::vector<std::pair<std::string, int>> sockets;  // borrowed: stay open here
  std::vector<std::string> servers;
};

class Successor {
 public:
  // Starts the successor with its end of a new channel as descriptor 3, and hands it
  // `handover`. Throws std::system_error when it cannot be started or given the handover.
  Successor(const CommandLine& command, const Handover& handover);
  ~Successor();  // reaps the successor if it ended; else lets it run (it serves now)

  pid_t pid() const noexcept { return pid_; }

  // Waits up to `wait` for the successor's word: nothing yet (nullopt), that it serves (an
  // empty string), or why it will not (it exited, or said something else: it is stopped).
  std::optional<std::string> poll_ready(std::chrono::milliseconds wait);
  // Stops a successor that did not serve in time (SIGTERM: it drains what it took).
  void stop() noexcept;

 private:
  std::string ended_how();

  pid_t pid_ = -1;
  core::FileDescriptor channel_;
};

}  // namespace ballast::process
