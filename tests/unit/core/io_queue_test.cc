#include "core/io_queue.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace ballast::core {
namespace {

// One end of a socket pair, non-blocking, and what a queued operation on it reported.
struct Peer final : QueuedIo {
  Peer() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    ours = fds[0];
    theirs = fds[1];
  }
  ~Peer() {
    close(ours);
    close(theirs);
  }
  void on_io_done(ssize_t result) noexcept override { results.push_back(result); }

  std::string read_all() const {
    std::string got;
    char buffer[65536];
    for (ssize_t n; (n = read(theirs, buffer, sizeof(buffer))) > 0;) {
      got.append(buffer, static_cast<size_t>(n));
    }
    return got;
  }

  int ours;
  int theirs;
  std::vector<ssize_t> results;
};

class IoQueueTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!io.active()) {
      GTEST_SKIP() << "the kernel gives no io_uring here";
    }
  }
  IoQueue io{true};
};

TEST(IoQueueOff, InactiveWithoutTheRing) {
  IoQueue io(false);
  EXPECT_FALSE(io.active());
  EXPECT_FALSE(io.pending());
}

TEST_F(IoQueueTest, MakesEveryQueuedIoInOneFlushAndReportsEach) {
  Peer a;
  Peer b;
  io.queue_send(a, a.ours, "head ", "and body");
  io.queue_send(b, b.ours, "", "body only");
  EXPECT_TRUE(io.pending());
  EXPECT_EQ(a.read_all(), "");  // nothing is sent before the flush

  io.flush();
  EXPECT_FALSE(io.pending());
  EXPECT_EQ(a.results, std::vector<ssize_t>{13});
  EXPECT_EQ(b.results, std::vector<ssize_t>{9});
  EXPECT_EQ(a.read_all(), "head and body");
  EXPECT_EQ(b.read_all(), "body only");
  EXPECT_FALSE(a.queued());
}

TEST_F(IoQueueTest, AFullSocketTakesPartThenSaysEagain) {
  Peer peer;
  const std::string big(8 << 20, 'x');  // more than any socket buffer holds
  io.queue_send(peer, peer.ours, "", big);
  io.flush();
  ASSERT_EQ(peer.results.size(), 1u);
  EXPECT_GT(peer.results[0], 0);
  EXPECT_LT(peer.results[0], static_cast<ssize_t>(big.size()));

  io.queue_send(peer, peer.ours, "", big);
  io.flush();  // MSG_DONTWAIT: never parked in the kernel until room comes
  EXPECT_EQ(peer.results.back(), -EAGAIN);
}

TEST_F(IoQueueTest, AClosedPeerIsAnErrorNotASignal) {
  Peer peer;
  close(peer.theirs);
  peer.theirs = dup(peer.ours);  // keeps the destructor's close harmless
  shutdown(peer.ours, SHUT_WR);
  io.queue_send(peer, peer.ours, "late", "");
  io.flush();
  EXPECT_EQ(peer.results, std::vector<ssize_t>{-EPIPE});
}

TEST_F(IoQueueTest, ACancelledSendIsNeverMade) {
  Peer a;
  Peer b;
  io.queue_send(a, a.ours, "a", "");
  io.queue_send(b, b.ours, "b", "");
  io.cancel(a);
  EXPECT_FALSE(a.queued());
  io.flush();
  EXPECT_TRUE(a.results.empty());
  EXPECT_EQ(a.read_all(), "");
  EXPECT_EQ(b.read_all(), "b");
}

// A send's owner reacting to one result may close another connection whose send went in the
// same submission: that owner hears nothing more.
struct Closer final : QueuedIo {
  void on_io_done(ssize_t) noexcept override { queue->cancel(*victim); }
  IoQueue* queue = nullptr;
  QueuedIo* victim = nullptr;
};

TEST_F(IoQueueTest, ASendCancelledAfterSubmissionGetsNoResult) {
  Peer victim;
  Peer other;
  Closer closer;
  closer.queue = &io;
  closer.victim = &victim;
  // Queued last, submitted first (the order between sockets is free): the closer's result comes
  // first, after the victim's send was made.
  io.queue_send(victim, victim.ours, "v", "");
  io.queue_send(closer, other.ours, "c", "");
  io.flush();
  EXPECT_TRUE(victim.results.empty());
  EXPECT_FALSE(victim.queued());
  EXPECT_EQ(victim.read_all(), "v");
  EXPECT_EQ(other.read_all(), "c");
}

// Sends queued by a result's owner wait for the next flush: one flush does a bounded amount.
struct Repeater final : QueuedIo {
  void on_io_done(ssize_t result) noexcept override {
    results.push_back(result);
    if (results.size() < 3) {
      queue->queue_send(*this, fd, "again", "");
    }
  }
  IoQueue* queue = nullptr;
  int fd = -1;
  std::vector<ssize_t> results;
};

TEST_F(IoQueueTest, AIoQueuedByAResultWaitsForTheNextFlush) {
  Peer peer;
  Repeater repeater;
  repeater.queue = &io;
  repeater.fd = peer.ours;
  io.queue_send(repeater, peer.ours, "first", "");
  io.flush();
  EXPECT_EQ(repeater.results.size(), 1u);
  EXPECT_TRUE(io.pending());
  io.flush();
  io.flush();
  EXPECT_EQ(repeater.results.size(), 3u);
  EXPECT_FALSE(io.pending());
  EXPECT_EQ(peer.read_all(), "firstagainagain");
}

TEST_F(IoQueueTest, MoreSendsThanTheRingHoldsGoInChunks) {
  std::vector<std::unique_ptr<Peer>> peers;
  for (int i = 0; i < 300; ++i) {
    peers.push_back(std::make_unique<Peer>());
    io.queue_send(*peers.back(), peers.back()->ours, "x", "");
  }
  io.flush();
  for (const auto& peer : peers) {
    ASSERT_EQ(peer->results, std::vector<ssize_t>{1});
  }
}

TEST_F(IoQueueTest, AReadTakesWhatArrivedAndSaysShortWhenDrained) {
  Peer peer;
  ASSERT_EQ(write(peer.theirs, "hello", 5), 5);
  char buffer[64];
  io.queue_read(peer, peer.ours, buffer);
  io.flush();
  EXPECT_EQ(peer.results, std::vector<ssize_t>{5});  // short of the room: drained
  EXPECT_EQ(std::string(buffer, 5), "hello");

  io.queue_read(peer, peer.ours, buffer);
  io.flush();
  EXPECT_EQ(peer.results.back(), -EAGAIN);  // nothing more: never parked in the kernel

  shutdown(peer.theirs, SHUT_WR);
  io.queue_read(peer, peer.ours, buffer);
  io.flush();
  EXPECT_EQ(peer.results.back(), 0);  // the peer's end
}

TEST_F(IoQueueTest, ReadsAndSendsGoInTheSameFlush) {
  Peer reader;
  Peer sender;
  ASSERT_EQ(write(reader.theirs, "in", 2), 2);
  char buffer[2];
  io.queue_read(reader, reader.ours, buffer);
  io.queue_send(sender, sender.ours, "out", "");
  io.flush();
  EXPECT_EQ(reader.results, std::vector<ssize_t>{2});
  EXPECT_EQ(sender.results, std::vector<ssize_t>{3});
  EXPECT_EQ(sender.read_all(), "out");
}

}  // namespace
}  // namespace ballast::core
