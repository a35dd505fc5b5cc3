#include "edge/redis_link.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <utility>

namespace ballast::edge {
namespace {

constexpr uint32_t kWritable = EPOLLOUT | EPOLLERR | EPOLLHUP;
constexpr uint32_t kReadable = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr uint32_t kPeerGone = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

// "*3\r\n", "$6\r\n": a RESP array's or bulk string's length line.
void append_length(std::string& out, char kind, size_t length) {
  char digits[24];
  char* end = std::to_chars(digits, digits + sizeof(digits), length).ptr;
  out += kind;
  out.append(digits, end);
  out += "\r\n";
}

// Bytes the socket holds unread (0 also when it cannot say).
int bytes_waiting(int fd) noexcept {
  int bytes = 0;
  return ioctl(fd, FIONREAD, &bytes) == 0 ? bytes : 0;
}

}  // namespace

void RedisCommands::add(std::initializer_list<std::string_view> args) {
  append_length(bytes_, '*', args.size());
  for (const std::string_view arg : args) {
    append_length(bytes_, '$', arg.size());
    bytes_.append(arg);
    bytes_ += "\r\n";
  }
  ends_.push_back(bytes_.size());
}

void RedisCommands::clear() noexcept {
  bytes_.clear();
  ends_.clear();
}

std::string_view RedisCommands::command(size_t index) const noexcept {
  const size_t begin = index == 0 ? 0 : ends_[index - 1];
  return std::string_view(bytes_).substr(begin, ends_[index] - begin);
}

RedisLink::RedisLink(core::EventLoop& loop, std::string host, uint16_t port, uint64_t timeout_ns,
                     Listener& listener)
    : loop_(loop),
      listener_(listener),
      host_(std::move(host)),
      port_(port),
      timeout_ns_(timeout_ns) {}

RedisLink::~RedisLink() {
  quiet_ = true;
  if (context_ != nullptr) {
    redisAsyncFree(context_);
  }
  loop_.cancel_resume(*this);
}

void RedisLink::start() noexcept {
  connect();
}

void RedisLink::add_write(void* data) {
  auto* link = static_cast<RedisLink*>(data);
  link->want_write_ = true;
  // While connecting, EPOLLOUT says when the connect is done; within a write, hiredis asks
  // again because the socket took less than all: EPOLLOUT says when it has room.
  if (link->talking() && !link->writing_) {
    link->loop_.resume_soon(*link);
  }
}

void RedisLink::del_write(void* data) {
  static_cast<RedisLink*>(data)->want_write_ = false;
}

// hiredis frees the context: after a failure it saw, or redisAsyncFree. Later hiredis releases
// call this twice for one context; the first counts.
void RedisLink::cleanup(void* data) {
  auto* link = static_cast<RedisLink*>(data);
  if (link->context_ != nullptr) {
    // hiredis's socket is not close-on-exec: a child the process starts meanwhile holds it too,
    // and closing it would not take it out of the epoll set.
    link->loop_.unwatch(link->context_->c.fd);
    link->lost(link->why_closed());
  }
}

void RedisLink::on_connect(const redisAsyncContext* context, int status) {
  if (status == REDIS_OK) {
    static_cast<RedisLink*>(context->ev.data)->greet();
  }  // else the cleanup hook reports it
}

void RedisLink::on_pong(redisAsyncContext* /*context*/, void* reply, void* privdata) {
  static_cast<RedisLink*>(privdata)->greeted(static_cast<const redisReply*>(reply));
}

void RedisLink::on_reply(redisAsyncContext* /*context*/, void* reply, void* privdata) {
  static_cast<RedisLink*>(privdata)->take_reply(static_cast<const redisReply*>(reply));
}

void RedisLink::connect() noexcept {
  redisAsyncContext* context = redisAsyncConnect(host_.c_str(), port_);
  if (context == nullptr) {
    lost("out of memory");
    return;
  }
  if (context->err != 0) {  // refused at once, or a name that does not resolve
    const std::string why = context->errstr;
    redisAsyncFree(context);
    lost(why);
    return;
  }
  context_ = context;
  phase_ = Phase::connecting;
  context->ev.data = this;
  context->ev.addWrite = &add_write;
  context->ev.delWrite = &del_write;
  context->ev.cleanup = &cleanup;
  timer_.arm(loop_.timers(), loop_.now_ns() + timeout_ns_);
  if (!loop_.watch(context->c.fd, *this)) {
    why_ = "cannot watch the socket";
    close();
    return;
  }
  redisAsyncSetConnectCallback(context, &on_connect);
}

// Within hiredis's write: the PING goes out with it. The connect's deadline still runs.
void RedisLink::greet() noexcept {
  phase_ = Phase::greeting;
  if (redisAsyncCommand(context_, &on_pong, this, "PING") != REDIS_OK) {
    close_soon("hiredis refused a command");
  }
}

void RedisLink::greeted(const redisReply* reply) noexcept {
  if (reply == nullptr || quiet_) {
    return;  // the connection is closing: the cleanup hook reports it
  }
  if (reply->type == REDIS_REPLY_ERROR) {  // NOAUTH, LOADING, ...
    close_soon(std::string_view(reply->str, reply->len));
    return;
  }
  phase_ = Phase::up;
  retry_ns_ = kFirstRetryNs;
  timer_.cancel();
  listener_.on_link_state(true, {});
}

void RedisLink::close_soon(std::string_view why) noexcept {
  why_ = why;
  timer_.arm(loop_.timers(), loop_.now_ns());
}

bool RedisLink::exchange(const RedisCommands& commands) noexcept {
  if (phase_ != Phase::up || in_flight_ || commands.empty()) {
    return false;
  }
  in_flight_ = true;
  expected_ = commands.size();
  replies_.clear();
  failure_.clear();
  timer_.arm(loop_.timers(), loop_.now_ns() + timeout_ns_);
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string_view command = commands.command(i);
    if (redisAsyncFormattedCommand(context_, &on_reply, this, command.data(), command.size()) !=
        REDIS_OK) {
      close_soon("hiredis refused a command");  // out of memory
      break;
    }
  }
  return true;
}

void RedisLink::on_io(uint32_t events) noexcept {
  if (context_ == nullptr) {
    return;  // an event of a connection already closed
  }
  if ((events & kWritable) != 0 && (phase_ == Phase::connecting || want_write_)) {
    write();
  }
  if (context_ != nullptr && talking() && (events & kReadable) != 0) {
    read(events);
  }
}

void RedisLink::resume() noexcept {
  if (context_ != nullptr && talking() && want_write_) {
    write();
  }
}

void RedisLink::write() noexcept {
  writing_ = true;
  // hiredis 0.14 judges a connect by SO_ERROR, or else by errno as it finds it: make that 0.
  errno = 0;
  redisAsyncHandleWrite(context_);
  writing_ = false;
}

void RedisLink::read(uint32_t events) noexcept {
  do {
    redisAsyncHandleRead(context_);  // closes the context on an error or the peer's end
  } while (context_ != nullptr && bytes_waiting(context_->c.fd) > 0);
  // The peer's end after its last bytes: one more read lets hiredis see it.
  if (context_ != nullptr && (events & kPeerGone) != 0) {
    redisAsyncHandleRead(context_);
  }
}

void RedisLink::on_timer(core::Timer& /*timer*/) noexcept {
  if (phase_ == Phase::waiting) {
    connect();
    return;
  }
  if (why_.empty()) {
    why_ = phase_ == Phase::connecting ? "connect timed out"
           : phase_ == Phase::greeting ? "no answer to PING in time"
                                       : "no reply in time";
  }
  close();
}

void RedisLink::close() noexcept {
  redisAsyncFree(context_);
}

void RedisLink::take_reply(const redisReply* reply) noexcept {
  if (!in_flight_ || quiet_) {
    return;  // the rest of an exchange that failed, or the link going away
  }
  if (reply == nullptr) {  // hiredis is closing the connection
    phase_ = Phase::waiting;
    fail_exchange(why_closed());
    return;
  }
  if (reply->type == REDIS_REPLY_INTEGER) {
    replies_.push_back(reply->integer);
  } else {
    if (failure_.empty()) {
      failure_ = reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len)
                                                  : "a reply that is not an integer";
    }
    replies_.push_back(0);
  }
  if (replies_.size() == expected_) {
    finish_exchange();
  }
}

void RedisLink::finish_exchange() noexcept {
  in_flight_ = false;
  timer_.cancel();
  if (failure_.empty()) {
    listener_.on_exchange_done(replies_, {});
  } else {
    listener_.on_exchange_done({}, failure_);
  }
}

void RedisLink::fail_exchange(std::string_view error) noexcept {
  in_flight_ = false;
  timer_.cancel();
  listener_.on_exchange_done({}, error);
}

void RedisLink::lost(std::string_view why) noexcept {
  const std::string reason(why);  // `why` may live in the context or in why_, both going
  context_ = nullptr;
  why_.clear();
  phase_ = Phase::waiting;
  want_write_ = false;
  loop_.cancel_resume(*this);
  if (quiet_) {
    return;
  }
  if (in_flight_) {
    fail_exchange(reason);
  }
  timer_.arm(loop_.timers(), loop_.now_ns() + retry_ns_);
  retry_ns_ = std::min(retry_ns_ * 2, kLastRetryNs);
  listener_.on_link_state(false, reason);
}

std::string_view RedisLink::why_closed() const noexcept {
  if (!why_.empty()) {
    return why_;
  }
  if (context_ != nullptr && context_->c.err != 0) {
    return context_->c.errstr;
  }
  return "connection closed";
}

}  // namespace ballast::edge
