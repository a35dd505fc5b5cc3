#include "upstream/http2_connection.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.h"
#include "http2/gather_frames.h"
#include "upstream/http2_pool.h"

namespace ballast::upstream {

Http2Connection::Http2Connection(core::EventLoop& loop, Http2Pool& home, UpstreamConnection& socket,
                                 const http2::ClientLimits& limits, uint64_t connect_timeout_ms)
    : loop_(loop),
      home_(home),
      socket_(&socket),
      protocol_(limits, *this),
      max_streams_(limits.max_streams),
      connect_timeout_ms_(connect_timeout_ms) {
  waiting_.reserve(max_streams_);
  streams_.reserve(max_streams_);
  socket.attach(*this);
  arm_timer(connect_timeout_ms_);
}

bool Http2Connection::has_room() const noexcept {
  if (closed_) {
    return false;
  }
  if (!established_) {
    return waiting_.size() < max_streams_;
  }
  return waiting_.empty() && protocol_.can_open();
}

// The connect timer runs from the connection's start, however many requests come to wait.
void Http2Connection::wait(User& user) noexcept {
  waiting_.push_back(&user);  // within the reserve: has_room() said so
}

int32_t Http2Connection::open(User& user, const http2::RequestLine& line,
                              std::span<const http::Header> fields, bool body_follows) noexcept {
  if (closed_ || !established_ || streams_.size() >= max_streams_) {
    return -1;
  }
  const int32_t id = protocol_.request(line, fields, body_follows);
  if (id < 0) {
    return -1;
  }
  streams_.push_back({id, &user});
  home_.counts().http2_streams_opened.add();
  timer_.cancel();  // not idle
  flush_soon();
  return id;
}

size_t Http2Connection::send_body(int32_t stream, std::string_view bytes) noexcept {
  const size_t taken = protocol_.send_body(stream, bytes);
  if (taken != 0) {
    flush_soon();
  }
  return taken;
}

void Http2Connection::end_body(int32_t stream, std::span<const http::Header> trailers) noexcept {
  protocol_.end_body(stream, trailers);
  flush_soon();
}

void Http2Connection::consume(int32_t stream, size_t bytes) noexcept {
  protocol_.consume_stream(stream, bytes);
  flush_soon();
}

void Http2Connection::abandon(User& user, int32_t stream) noexcept {
  std::erase(waiting_, &user);
  const auto open = std::find_if(streams_.begin(), streams_.end(),
                                 [&](const OpenStream& s) { return s.user == &user; });
  if (open == streams_.end()) {
    return;
  }
  forget_stream(open);
  if (!closed_) {
    protocol_.reset(stream, NGHTTP2_CANCEL);
    flush_soon();
  }
}

void Http2Connection::forget_stream(std::vector<OpenStream>::iterator open) noexcept {
  streams_.erase(open);
  home_.counts().http2_streams_closed.add();
}

Http2Connection::User* Http2Connection::user_of(int32_t stream) const noexcept {
  for (const OpenStream& open : streams_) {
    if (open.id == stream) {
      return open.user;
    }
  }
  return nullptr;
}

void Http2Connection::on_upstream_io(uint32_t events) noexcept {
  if (closed_) {
    return;
  }
  if (!established_ && !finish_connect(events)) {
    return;
  }
  readable_ |= (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  writable_ |= (events & EPOLLOUT) != 0;
  if (const tls::TlsStream* tls = socket_->tls()) {
    readable_ |= (events & EPOLLOUT) != 0 && tls->wants_writable_to_read();
    writable_ |= (events & EPOLLIN) != 0 && tls->wants_readable_to_write();
  }
  busy_ = true;
  read();
  busy_ = false;
  flush();
}

// The TCP connect, then (h2) the TLS handshake, which must choose h2 by ALPN; the connect
// timeout covers both. False until established (or when that failed: closed).
bool Http2Connection::finish_connect(uint32_t events) noexcept {
  if (!handshaking_) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) {
      return false;
    }
    if (const int error = core::connect_error(socket_->fd()); error != 0) {
      close(std::strerror(error));
      return false;
    }
    handshaking_ = socket_->tls() != nullptr;
  }
  if (handshaking_) {
    tls::TlsStream& tls = *socket_->tls();
    switch (tls.handshake()) {
      case tls::TlsStream::Step::blocked:
        return false;
      case tls::TlsStream::Step::failed:
        close("TLS handshake failed: " + std::string(tls.failure_detail()));
        return false;
      case tls::TlsStream::Step::done:
        handshaking_ = false;
        if (tls.alpn() != "h2") {
          close("the server did not agree to HTTP/2 (ALPN h2)");
          return false;
        }
        break;
    }
  }
  connected();
  return !closed_;
}

void Http2Connection::connected() noexcept {
  established_ = true;
  home_.counts().http2_connections_opened.add();
  writable_ = true;
  timer_.cancel();
  flush();  // the preface and our SETTINGS
  // Each waiter now opens its stream; the list is moved out first, as a waiter may fail and
  // come back to the pool within the call.
  const std::vector<User*> ready = std::move(waiting_);
  waiting_.clear();
  waiting_.reserve(max_streams_);
  for (User* user : ready) {
    user->on_connected(true, {});
  }
  after_change();
}

// Reads what the server sent and gives it to the protocol, which calls back for each stream.
// In clear through the loop's I/O queue when it is active (received() follows).
void Http2Connection::read() noexcept {
  core::IoQueue& io = loop_.io();
  while (readable_ && !closed_ && !reader_.queued()) {
    core::ByteBuffer& in = socket_->in();
    in.clear();
    const std::span<char> space = in.writable();
    if (socket_->tls() == nullptr && io.active()) {
      io.queue_read(reader_, socket_->fd(), space);
      return;
    }
    bool drained = false;
    const ssize_t result = socket_->receive(space.data(), space.size(), drained);
    received(result >= 0 ? result : -errno, drained);
  }
}

// The result of a read into the socket's buffer, as recv's.
void Http2Connection::received(ssize_t result, bool drained) noexcept {
  if (result == -EAGAIN) {
    readable_ = false;
    return;
  }
  if (result <= 0) {
    close(result == 0 ? "the server closed the connection"
                      : std::strerror(static_cast<int>(-result)));
    return;
  }
  readable_ = !drained;
  if (!protocol_.receive({socket_->in().writable().data(), static_cast<size_t>(result)})) {
    close("the server broke the HTTP/2 protocol or went away");
    return;
  }
  after_change();
}

void Http2Connection::on_queued_io_done(bool send, ssize_t result) noexcept {
  if (closed_) {
    return;
  }
  busy_ = true;
  if (send) {
    sent(result, queued_send_bytes_);
  } else {
    // A read that came up short of the room drained the socket, as in tls::receive_on.
    received(result, result > 0 && static_cast<size_t>(result) < socket_->in().writable().size());
    read();
  }
  busy_ = false;
  flush();
}

// Frames queued by a user go out now when the loop's I/O queue takes them (a send queued there
// leaves with the iteration's others); otherwise at the next iteration, together with every
// other stream's. Within a read or a send of this connection — nghttp2 must not be asked for
// output inside its own callbacks — the flush that ends it takes them.
void Http2Connection::flush_soon() noexcept {
  if (closed_ || !established_ || busy_) {
    return;
  }
  if (socket_->tls() == nullptr && loop_.io().active()) {
    flush();
  } else {
    loop_.resume_soon(*this);
  }
}

// Sends the frames ready; in clear through the loop's I/O queue when it is active (sent()
// follows), so the frames of every stream of an iteration leave together.
void Http2Connection::flush() noexcept {
  if (busy_) {
    return;  // within a read or a send: the flush that ends it takes the frames
  }
  busy_ = true;
  core::IoQueue& io = loop_.io();
  while (!closed_ && established_ && writable_ && !writer_.queued()) {
    http2::gather_frames(protocol_, out_);
    if (out_.empty()) {
      break;
    }
    if (socket_->tls() == nullptr && io.active()) {
      io.queue_send(writer_, socket_->fd(), out_.readable(), {});
      queued_send_bytes_ = out_.size();
      break;
    }
    const ssize_t result = socket_->send(out_.readable(), {});
    sent(result >= 0 ? result : -errno, out_.size());
  }
  busy_ = false;
  after_change();
}

// The result of sending `size` bytes from out_'s front, as sendmsg's.
void Http2Connection::sent(ssize_t result, size_t size) noexcept {
  if (result == -EAGAIN) {
    writable_ = false;
    return;
  }
  if (result <= 0) {
    close(std::strerror(static_cast<int>(-result)));
    return;
  }
  out_.consume(static_cast<size_t>(result));
  // Short: the socket is full (TLS takes a record at a time: only its EAGAIN says full).
  writable_ = socket_->tls() != nullptr || static_cast<size_t>(result) == size;
  // Room for more request body, perhaps: each user looks (one may end within the call).
  for (size_t i = 0; i < streams_.size() && !closed_; ++i) {
    const OpenStream open = streams_[i];
    open.user->on_sent();
    if (i < streams_.size() && streams_[i].user != open.user) {
      --i;  // this one left: the next took its place
    }
  }
}

// After the protocol moved: a connection that can carry nothing more closes; an idle one times
// out after the pool's idle timeout.
void Http2Connection::after_change() noexcept {
  if (closed_ || !established_) {
    return;
  }
  if (protocol_.finished()) {
    close("the connection ended");
    return;
  }
  if (streams_.empty() && waiting_.empty()) {
    if (!protocol_.can_open()) {
      close("the server went away");  // GOAWAY, and no stream left to finish
      return;
    }
    if (!timer_.armed()) {
      arm_timer(home_.idle_timeout_ms());
    }
  }
}

void Http2Connection::on_response(int32_t stream, const http2::Response& response) noexcept {
  if (User* user = user_of(stream)) {
    user->on_response(response);
  }
}

void Http2Connection::on_response_data(int32_t stream, std::string_view bytes) noexcept {
  protocol_.consume_connection(bytes.size());
  if (User* user = user_of(stream)) {
    user->on_response_data(bytes);
  }
}

void Http2Connection::on_response_end(int32_t stream,
                                      std::span<const http::Header> trailers) noexcept {
  const auto open = std::find_if(streams_.begin(), streams_.end(),
                                 [stream](const OpenStream& s) { return s.id == stream; });
  if (open == streams_.end()) {
    return;
  }
  User* user = open->user;
  forget_stream(open);  // the user is done with the connection
  user->on_response_end(trailers);
}

void Http2Connection::on_stream_closed(int32_t stream, uint32_t error_code) noexcept {
  const auto open = std::find_if(streams_.begin(), streams_.end(),
                                 [stream](const OpenStream& s) { return s.id == stream; });
  if (open == streams_.end()) {
    return;  // ended (on_response_end) or abandoned before
  }
  User* user = open->user;
  forget_stream(open);
  user->on_stream_failed(error_code == 0 ? uint32_t{NGHTTP2_INTERNAL_ERROR} : error_code);
}

void Http2Connection::arm_timer(uint64_t timeout_ms) noexcept {
  timer_.arm(loop_.timers(), loop_.now_ns() + timeout_ms * core::kNsPerMs);
}

void Http2Connection::on_timer(core::Timer& /*timer*/) noexcept {
  if (!established_) {
    close(handshaking_ ? "TLS handshake timed out" : "connect timed out");
  } else if (streams_.empty() && waiting_.empty()) {
    close("idle");
  }
}

void Http2Connection::close(std::string_view why) noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  if (established_) {
    home_.counts().http2_connections_closed.add();
  }
  home_.counts().http2_streams_closed.add(streams_.size());
  timer_.cancel();
  loop_.cancel_resume(*this);
  loop_.io().cancel(reader_);  // before the descriptor they name closes
  loop_.io().cancel(writer_);
  home_.forget(*this);
  socket_->close();
  socket_ = nullptr;
  std::vector<User*> waiting;
  waiting.swap(waiting_);
  std::vector<OpenStream> streams;
  streams.swap(streams_);
  for (User* user : waiting) {
    user->on_connected(false, why);
  }
  for (const OpenStream& open : streams) {
    open.user->on_stream_failed(kConnectionLost);
  }
  loop_.release_later(*this);
}

}  // namespace ballast::upstream
