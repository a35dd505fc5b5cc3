#include "process/inheritance.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "process/upgrade_channel.h"

namespace ballast::process {
namespace {

using std::chrono::milliseconds;

core::FileDescriptor some_socket() {
  return core::FileDescriptor(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

TEST(Inheritance, TakesSocketsByKeyInTheOrderSentAndTheServers) {
  ChannelPair channel = open_channel_pair();
  const core::FileDescriptor a = some_socket();
  const core::FileDescriptor b = some_socket();
  const core::FileDescriptor admin = some_socket();
  send_message(channel.here.get(), "socket\tlistener 127.0.0.1:80", a.get());
  send_message(channel.here.get(), "socket\tlistener 127.0.0.1:80", b.get());
  send_message(channel.here.get(), "socket\tadmin 127.0.0.1:9091", admin.get());
  send_message(channel.here.get(), "server\tweb\t127.0.0.1:8080\t1\t0\t0\t0");
  send_message(channel.here.get(), "end");

  Inheritance inherited(channel.there.release(), milliseconds(1000));
  EXPECT_EQ(inherited.untaken(), 3u);
  EXPECT_EQ(inherited.servers(), std::vector<std::string>{"web\t127.0.0.1:8080\t1\t0\t0\t0"});
  EXPECT_FALSE(inherited.take_one("admin 127.0.0.1:9092").valid());
  EXPECT_TRUE(inherited.take_one("admin 127.0.0.1:9091").valid());
  EXPECT_FALSE(inherited.take_one("admin 127.0.0.1:9091").valid());  // taken once
  EXPECT_EQ(inherited.take("listener 127.0.0.1:80").size(), 2u);
  EXPECT_EQ(inherited.untaken(), 0u);
}

TEST(Inheritance, ReportsReadyToThePredecessorAndClosesTheChannel) {
  ChannelPair channel = open_channel_pair();
  send_message(channel.here.get(), "end");
  Inheritance inherited(channel.there.release(), milliseconds(1000));
  inherited.report_ready();
  EXPECT_EQ(receive_message(channel.here.get(), milliseconds(1000))->text,
            "ready\t" + std::to_string(getpid()));
  EXPECT_FALSE(receive_message(channel.here.get(), milliseconds(1000)));
}

TEST(Inheritance, FailsOnAHandoverCutShortOrNotOfTheProtocol) {
  {
    ChannelPair channel = open_channel_pair();
    send_message(channel.here.get(), "server\tweb\t127.0.0.1:8080\t1\t0\t0\t0");
    channel.here.reset();
    EXPECT_THROW(Inheritance(channel.there.release(), milliseconds(1000)), std::runtime_error);
  }
  {
    ChannelPair channel = open_channel_pair();
    send_message(channel.here.get(), "socket\tlistener 127.0.0.1:80");  // no descriptor
    EXPECT_THROW(Inheritance(channel.there.release(), milliseconds(1000)), std::runtime_error);
  }
  {
    ChannelPair channel = open_channel_pair();  // the predecessor sends nothing
    EXPECT_THROW(Inheritance(channel.there.release(), milliseconds(20)), ChannelTimeout);
  }
}

}  // namespace
}  // namespace ballast::process
