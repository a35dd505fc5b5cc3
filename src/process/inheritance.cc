#include "process/inheritance.h"

#include <unistd.h>

#include <stdexcept>

#include "process/upgrade_channel.h"

namespace ballast::process {

Inheritance::Inheritance(int channel_fd, std::chrono::milliseconds timeout) : channel_(channel_fd) {
  for (;;) {
    std::optional<ChannelMessage> message = receive_message(channel_.get(), timeout);
    if (!message) {
      throw std::runtime_error("upgrade: the running process closed the channel mid-handover");
    }
    if (message->text == "end") {
      return;
    }
    if (message->text.starts_with("socket\t") && message->fd.valid()) {
      sockets_[message->text.substr(7)].push_back(std::move(message->fd));
    } else if (message->text.starts_with("server\t")) {
      servers_.push_back(message->text.substr(7));
    } else {
      throw std::runtime_error("upgrade: unexpected message \"" + message->text + "\"");
    }
  }
}

std::vector<core::FileDescriptor> Inheritance::take(const std::string& key) {
  const auto found = sockets_.find(key);
  if (found == sockets_.end()) {
    return {};
  }
  std::vector<core::FileDescriptor> taken = std::move(found->second);
  sockets_.erase(found);
  return taken;
}

core::FileDescriptor Inheritance::take_one(const std::string& key) {
  std::vector<core::FileDescriptor> taken = take(key);
  if (taken.empty()) {
    return {};
  }
  for (size_t i = 1; i < taken.size(); ++i) {
    sockets_[key].push_back(std::move(taken[i]));
  }
  return std::move(taken.front());
}

size_t Inheritance::untaken() const noexcept {
  size_t count = 0;
  for (const auto& [key, fds] : sockets_) {
    count += fds.size();
  }
  return count;
}

void Inheritance::report_ready() {
  send_message(channel_.get(), "ready\t" + std::to_string(getpid()));
  channel_.reset();
}

}  // namespace ballast::process
