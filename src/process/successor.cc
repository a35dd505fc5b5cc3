#include "process/successor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "process/upgrade_channel.h"

extern char** environ;

namespace ballast::process {
namespace {

// The descriptor the successor finds its end of the channel on (after stdin, stdout, stderr).
constexpr int kChannelFd = 3;
constexpr const char* kUpgradeFlag = "--upgrade-fd";
// A successor that took its sockets but cannot send the rest within this is not reading.
constexpr timeval kSendTimeout{10, 0};

std::string own_binary(const char* argv0) {
  char path[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (length > 0) {
    return std::string(path, static_cast<size_t>(length));
  }
  return argv0;
}

}  // namespace

CommandLine CommandLine::of_this_process(int argc, char** argv) {
  CommandLine command;
  command.binary = own_binary(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument == kUpgradeFlag) {
      ++i;  // and its value
      continue;
    }
    if (argument.starts_with(std::string(kUpgradeFlag) + "=")) {
      continue;
    }
    command.arguments.push_back(argument);
  }
  return command;
}

Successor::Successor(const CommandLine& command, const Handover& handover) {
  ChannelPair channel = open_channel_pair();
  // First: a top-level option, read before any subcommand's (`ballast --upgrade-fd 3 demo`).
  std::vector<std::string> arguments{command.binary, kUpgradeFlag, std::to_string(kChannelFd)};
  arguments.insert(arguments.end(), command.arguments.begin(), command.arguments.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);

  // The successor starts with no signal blocked or ignored: this thread blocks the control
  // signals (sigwait) and ignores SIGPIPE, and both would otherwise be inherited.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  // dup2 clears close-on-exec on the copy: only the channel crosses the exec.
  posix_spawn_file_actions_adddup2(&files, channel.there.get(), kChannelFd);
  const int error =
      posix_spawn(&pid_, command.binary.c_str(), &files, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    throw std::system_error(error, std::generic_category(), "starting " + command.binary);
  }
  channel_ = std::move(channel.here);
  setsockopt(channel_.get(), SOL_SOCKET, SO_SNDTIMEO, &kSendTimeout, sizeof(kSendTimeout));
  for (const auto& [key, fd] : handover.sockets) {
    send_message(channel_.get(), "socket\t" + key, fd);
  }
  for (const std::string& server : handover.servers) {
    send_message(channel_.get(), "server\t" + server);
  }
  send_message(channel_.get(), "end");
}

Successor::~Successor() {
  if (pid_ > 0) {
    waitpid(pid_, nullptr, WNOHANG);
  }
}

std::string Successor::ended_how() {
  int status = 0;
  // It closed its end: it is exiting, or has. Give it a moment to be reaped.
  for (int tries = 0; tries < 100; ++tries) {
    const pid_t ended = waitpid(pid_, &status, WNOHANG);
    if (ended == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) {
        return "the new process exited with status " + std::to_string(WEXITSTATUS(status)) +
               " before it served (its log says why)";
      }
      return std::string("the new process was killed by ") + strsignal(WTERMSIG(status)) +
             " before it served";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "the new process closed the upgrade channel before it served";
}

std::optional<std::string> Successor::poll_ready(std::chrono::milliseconds wait) {
  std::optional<ChannelMessage> answer;
  try {
    answer = receive_message(channel_.get(), wait);
  } catch (const ChannelTimeout&) {
    return std::nullopt;  // nothing within `wait`
  }
  if (!answer) {
    return ended_how();
  }
  if (!answer->text.starts_with("ready\t")) {
    stop();
    return "the new process answered \"" + answer->text + "\" instead of ready";
  }
  return std::string();
}

void Successor::stop() noexcept {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
  }
}

}  // namespace ballast::process
