#pragma once
// The successor's side of a binary upgrade: what the running process handed over on the
// channel it was started with (`--upgrade-fd`, upgrade_channel.h), taken by the parts that
// open listening sockets, and the word it sends back once it serves.
//
// Threading: the main thread's alone.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/socket.h"

namespace ballast::process {

class Inheritance {
 public:
  // Reads the handover to its end. Throws std::runtime_error (or std::system_error) when the
  // channel fails, the predecessor stops sending for `timeout`, or a message is not the
  // protocol's.
  Inheritance(int channel_fd, std::chrono::milliseconds timeout);

  // The handed-over sockets under `key`, in the order sent (the predecessor's workers'), taken:
  // a second call returns none.
  std::vector<core::FileDescriptor> take(const std::string& key);
  // One of them, or an invalid descriptor.
  core::FileDescriptor take_one(const std::string& key);
  // How many sockets no one took (closed when this goes: addresses no longer configured).
  size_t untaken() const noexcept;

  const std::vector<std::string>& servers() const noexcept { return servers_; }

  // Tells the predecessor this process serves (it then drains and exits), and closes the
  // channel.
  void report_ready();

 private:
  core::FileDescriptor channel_;
  std::map<std::string, std::vector<core::FileDescriptor>> sockets_;
  std::vector<std::string> servers_;
};

}  // namespace ballast::process
