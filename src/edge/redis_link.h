#pragma once
// A connection to one Redis server through hiredis's asynchronous API (Debian's libhiredis
// 0.14), driven by a core::EventLoop, for one purpose: send a batch of commands pipelined and
// hear back once, when every reply is in or the batch has failed. RateSync (rate_sync.h) is
// its user.
//
// The link is up once the server has answered a PING on the new connection (a Redis that is
// stopped still has its connections accepted by the kernel; one that wants a password answers
// with an error). hiredis 0.14 keeps no time: the link does. A connect and its PING, or an
// exchange, not done within `timeout_ns` closes the connection. A connection that fails or closes
// is tried again after a delay, 1 s doubling to 5 s, back to 1 s once a connect succeeds. The
// connect is non-blocking; a host given by name is resolved by hiredis (getaddrinfo) at each
// connect, on the loop's thread, which is why the link runs on a thread of its own and never on a
// worker.
//
// The adapter: hiredis says when it wants to write (addWrite) and the link writes on the next
// loop iteration and on EPOLLOUT; the descriptor is watched for input for its whole life, so
// addRead/delRead have nothing to do. hiredis reads at most 16 KiB a call, so on input the link
// calls it again while the socket still holds bytes (the loop is edge-triggered).
//
// Owns: the hiredis context (one connection at a time), its timer.
// Threading: the loop's thread only; the loop must outlive the link. hiredis writes with
// write(2): the thread must block or ignore SIGPIPE (RateSync's thread blocks it).
// Callbacks: Listener calls come from start(), the loop's events and the link's timer, never
// from within exchange(); the listener must neither destroy the link nor start an exchange from
// them. The destructor closes the connection without calling the listener.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/event_loop.h"
#include "core/timer_wheel.h"

struct redisAsyncContext;
struct redisReply;

namespace ballast::edge {

// The commands of one exchange, each written in RESP (an array of bulk strings) as it is
// added. Reused from one exchange to the next: building one allocates only to grow.
class RedisCommands {
 public:
  void add(std::initializer_list<std::string_view> args);
  void clear() noexcept;
  size_t size() const noexcept { return ends_.size(); }
  bool empty() const noexcept { return ends_.empty(); }
  std::string_view command(size_t index) const noexcept;

 private:
  std::string bytes_;         // every command, back to back
  std::vector<size_t> ends_;  // where each command ends in bytes_
};

class RedisLink final : public core::IoHandler,
                        public core::Resumable,
                        public core::Timer::Handler {
 public:
  static constexpr uint64_t kFirstRetryNs = 1'000'000'000;
  static constexpr uint64_t kLastRetryNs = 5'000'000'000;

  class Listener {
   public:
    // Up (`error` empty: connected, PING answered), or the connection failed or closed. Said at
    // every connect that succeeds and every one that fails: a store that stays away is reported
    // down again at each retry.
    virtual void on_link_state(bool up, std::string_view error) noexcept = 0;
    // The exchange ended: `replies` holds one integer per command, in order (`error` empty), or
    // it failed (no replies). An error reply, or a reply that is not an integer, fails the
    // exchange without closing the connection; a closed connection or a timeout fails it too.
    virtual void on_exchange_done(std::span<const long long> replies,
                                  std::string_view error) noexcept = 0;

   protected:
    ~Listener() = default;
  };

  RedisLink(core::EventLoop& loop, std::string host, uint16_t port, uint64_t timeout_ns,
            Listener& listener);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // The first connect; on the loop's thread.
  void start() noexcept;

  bool up() const noexcept { return phase_ == Phase::up; }
  bool busy() const noexcept { return in_flight_; }

  // Sends `commands` (each must answer an integer, as INCRBY and PEXPIRE do) in one go; false,
  // and nothing sent, when the link is not up, an exchange is in flight or there is nothing to
  // send. The commands are copied: `commands` may change at once. Once true,
  // Listener::on_exchange_done follows exactly once.
  bool exchange(const RedisCommands& commands) noexcept;

  void on_io(uint32_t events) noexcept override;
  void resume() noexcept override;
  void on_timer(core::Timer& timer) noexcept override;

 private:
  enum class Phase : uint8_t {
    waiting,     // for the retry timer
    connecting,  // the TCP connect
    greeting,    // PING sent
    up,
  };

  // hiredis's hooks and callbacks; `data` / `privdata` is the link.
  static void add_write(void* data);
  static void del_write(void* data);
  static void cleanup(void* data);
  static void on_connect(const redisAsyncContext* context, int status);
  static void on_pong(redisAsyncContext* context, void* reply, void* privdata);
  static void on_reply(redisAsyncContext* context, void* reply, void* privdata);

  bool talking() const noexcept { return phase_ == Phase::greeting || phase_ == Phase::up; }
  void connect() noexcept;
  void greet() noexcept;
  void greeted(const redisReply* reply) noexcept;
  // Closes the connection from the timer, due at once: never from within a hiredis call.
  void close_soon(std::string_view why) noexcept;
  void write() noexcept;
  void read(uint32_t events) noexcept;
  void take_reply(const redisReply* reply) noexcept;
  void finish_exchange() noexcept;
  void fail_exchange(std::string_view error) noexcept;
  // Closes the connection for why_: hiredis fails what is in flight, then its cleanup hook
  // comes to lost().
  void close() noexcept;
  // The connection is gone (or never came): reports it, waits for the retry.
  void lost(std::string_view why) noexcept;
  std::string_view why_closed() const noexcept;

  core::EventLoop& loop_;
  Listener& listener_;
  const std::string host_;
  const uint16_t port_;
  const uint64_t timeout_ns_;
  core::Timer timer_{*this};  // connect, PING or exchange deadline; when waiting, the retry

  redisAsyncContext* context_ = nullptr;
  Phase phase_ = Phase::waiting;
  uint64_t retry_ns_ = kFirstRetryNs;
  bool want_write_ = false;  // hiredis has bytes to write
  bool writing_ = false;     // within redisAsyncHandleWrite: its addWrite needs no resume
  bool quiet_ = false;       // destroying: no listener calls
  std::string why_;          // the reason of a close the link decided (timeout, ...)

  bool in_flight_ = false;
  size_t expected_ = 0;  // replies the exchange in flight waits for
  std::vector<long long> replies_;
  std::string failure_;  // the first error reply of the exchange in flight
};

}  // namespace ballast::edge
