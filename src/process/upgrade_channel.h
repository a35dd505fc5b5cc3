#pragma once
// The wire of a binary upgrade between the running process and its successor: one UNIX
// SOCK_SEQPACKET socket pair, so each message keeps its bounds. A message is one line of text
// with at most one descriptor beside it (SCM_RIGHTS): the kernel gives the successor its own
// descriptor for the same open socket, so a listening socket handed over is never closed.
//
//   old -> new   "socket\t<key>" + descriptor, once per listening socket (upgrade_keys below)
//                "server\t<fields>", once per server whose state carries over
//                "end"
//   new -> old   "ready\t<pid>" once it serves; closing without it means it failed.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/socket.h"

namespace ballast::process {

struct ChannelMessage {
  std::string text;
  core::FileDescriptor fd;  // invalid when none came with it
};

// A connected pair; [0] stays here, [1] goes to the successor.
struct ChannelPair {
  core::FileDescriptor here;
  core::FileDescriptor there;
};
ChannelPair open_channel_pair();

// Sends one message (blocking, up to the socket's send timeout); throws std::system_error.
void send_message(int channel, std::string_view text, int fd = -1);

// No message came within the time allowed.
struct ChannelTimeout : std::runtime_error {
  ChannelTimeout() : std::runtime_error("upgrade channel: no message in time") {}
};

// The next message, or nullopt when the peer closed its end. Waits at most `timeout`; throws
// ChannelTimeout when the time is up, std::system_error on error, std::runtime_error when the
// message is not one this protocol sends (too long).
std::optional<ChannelMessage> receive_message(int channel, std::chrono::milliseconds timeout);

// The keys listening sockets are handed over by: the proxy's listeners per listen address, and
// the admin API's and the metrics' sockets.
std::string listener_key(std::string_view address);
std::string admin_key(std::string_view address);
std::string metrics_key(std::string_view address);

}  // namespace ballast::process
