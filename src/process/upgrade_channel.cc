#include "process/upgrade_channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace ballast::process {
namespace {

// Longer than any line this protocol sends (a server's state is about 200 bytes).
constexpr size_t kMaxMessageBytes = 4096;

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

ChannelPair open_channel_pair() {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) {
    throw_errno("upgrade channel: socketpair");
  }
  return {core::FileDescriptor(ends[0]), core::FileDescriptor(ends[1])};
}

void send_message(int channel, std::string_view text, int fd) {
  iovec data{const_cast<char*>(text.data()), text.size()};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  }
  ssize_t sent;
  do {
    sent = sendmsg(channel, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    throw_errno("upgrade channel: send");
  }
}

std::optional<ChannelMessage> receive_message(int channel, std::chrono::milliseconds timeout) {
  pollfd waiting{channel, POLLIN, 0};
  int ready;
  do {
    ready = poll(&waiting, 1, static_cast<int>(timeout.count()));
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) {
    throw_errno("upgrade channel: poll");
  }
  if (ready == 0) {
    throw ChannelTimeout();
  }
  char text[kMaxMessageBytes];
  iovec data{text, sizeof(text)};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t received;
  do {
    received = recvmsg(channel, &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) {
    throw_errno("upgrade channel: receive");
  }
  ChannelMessage result;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS &&
        header->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
      result.fd = core::FileDescriptor(fd);
    }
  }
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    throw std::runtime_error("upgrade channel: a message longer than the protocol's");
  }
  if (received == 0 && !result.fd.valid()) {
    return std::nullopt;  // SOCK_SEQPACKET: a zero-length read is the peer's close
  }
  result.text.assign(text, static_cast<size_t>(received));
  return result;
}

std::string listener_key(std::string_view address) {
  return "listener " + std::string(address);
}

std::string admin_key(std::string_view address) {
  return "admin " + std::string(address);
}

std::string metrics_key(std::string_view address) {
  return "metrics " + std::string(address);
}

}  // namespace ballast::process
