#include "process/upgrade_channel.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace ballast::process {
namespace {

using std::chrono::milliseconds;

// The inode of what a descriptor refers to: the same open file on both sides of SCM_RIGHTS.
ino_t inode_of(int fd) {
  struct stat status {};
  EXPECT_EQ(fstat(fd, &status), 0);
  return status.st_ino;
}

TEST(UpgradeChannel, CarriesALineAndADescriptorToTheSameOpenSocket) {
  ChannelPair channel = open_channel_pair();
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  send_message(channel.here.get(), "socket\tlistener 127.0.0.1:80", pair[0]);
  const std::optional<ChannelMessage> message =
      receive_message(channel.there.get(), milliseconds(1000));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->text, "socket\tlistener 127.0.0.1:80");
  ASSERT_TRUE(message->fd.valid());
  EXPECT_NE(message->fd.get(), pair[0]);
  EXPECT_EQ(inode_of(message->fd.get()), inode_of(pair[0]));
  // Closing the sender's copy leaves the socket open: bytes still flow through the received one.
  close(pair[0]);
  ASSERT_EQ(write(message->fd.get(), "x", 1), 1);
  char byte = 0;
  ASSERT_EQ(read(pair[1], &byte, 1), 1);
  EXPECT_EQ(byte, 'x');
  close(pair[1]);
}

TEST(UpgradeChannel, KeepsEachMessageWhole) {
  ChannelPair channel = open_channel_pair();
  send_message(channel.here.get(), "server\tweb\t127.0.0.1:8080\t1\t0\t0\t0");
  send_message(channel.here.get(), "end");
  EXPECT_EQ(receive_message(channel.there.get(), milliseconds(1000))->text,
            "server\tweb\t127.0.0.1:8080\t1\t0\t0\t0");
  const std::optional<ChannelMessage> end =
      receive_message(channel.there.get(), milliseconds(1000));
  EXPECT_EQ(end->text, "end");
  EXPECT_FALSE(end->fd.valid());
}

TEST(UpgradeChannel, SaysWhenThePeerClosedAndWhenNothingCame) {
  ChannelPair channel = open_channel_pair();
  EXPECT_THROW(receive_message(channel.there.get(), milliseconds(20)), ChannelTimeout);
  channel.here.reset();
  EXPECT_FALSE(receive_message(channel.there.get(), milliseconds(1000)));
}

TEST(UpgradeChannel, RefusesAMessageLongerThanTheProtocols) {
  ChannelPair channel = open_channel_pair();
  send_message(channel.here.get(), std::string(10'000, 'x'));
  EXPECT_THROW(receive_message(channel.there.get(), milliseconds(1000)), std::runtime_error);
}

TEST(UpgradeChannel, KeysNameWhatTheSocketIsFor) {
  EXPECT_EQ(listener_key("0.0.0.0:80"), "listener 0.0.0.0:80");
  EXPECT_EQ(admin_key("127.0.0.1:9091"), "admin 127.0.0.1:9091");
  EXPECT_EQ(metrics_key("0.0.0.0:9090"), "metrics 0.0.0.0:9090");
}

}  // namespace
}  // namespace ballast::process
