#include "proxy/http2_session.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "core/clock.h"
#include "http2/gather_frames.h"
#include "observe/log.h"

namespace ballast::proxy {
namespace {

// How much one drive() may move before it yields to the loop's other connections.
constexpr int kMaxRoundsPerDrive = 32;

}  // namespace

Http2Session::Http2Session(SessionHost& host, WorkerGeneration& generation,
                           const config::ListenerConfig& listener, core::FileDescriptor client,
                           std::unique_ptr<tls::TlsStream> tls, const core::SocketAddress& peer,
                           bool trusted, std::string_view received)
    : Session(host, generation),
      listener_(listener),
      client_(std::move(client)),
      tls_(std::move(tls)),
      peer_(peer),
      client_ip_(core::ip_text(peer)),
      client_info_{client_ip_.view(), trusted, {}, {}, {}, &peer_, client_.get()},
      listen_port_(std::to_string(listener.listen.port)),
      protocol_(http2::Limits{}, *this) {
  if (tls_ != nullptr) {
    client_info_.tls_version = tls_->version();
    client_info_.tls_cipher = tls_->cipher();
    client_info_.sni = tls_->server_name();
  }
  in_.grow(std::max(kInBufferBytes, received.size()));
  in_.append(received);
}

Http2Session::~Http2Session() = default;

bool Http2Session::start() noexcept {
  if (!host_.loop().watch(client_.get(), *this)) {
    return false;
  }
  started_ns_ = now_ns();
  client_write_ns_ = started_ns_;
  if (observe::ProtocolShard* counts = host_.telemetry().protocols) {
    observe::ProtocolShard::opened(counts->http2_connections_opened);
  }
  drive();
  return true;
}

void Http2Session::on_io(uint32_t events) noexcept {
  if (closed_) {
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    readable_ = true;
  }
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
    writable_ = true;
  }
  if (tls_ != nullptr) {
    readable_ |= (events & EPOLLOUT) != 0 && tls_->wants_writable_to_read();
    writable_ |= (events & EPOLLIN) != 0 && tls_->wants_readable_to_write();
  }
  drive();
}

void Http2Session::drive() noexcept {
  if (closed_ || driving_) {
    return;  // a stream's step asked for a drive while one runs: that one goes on
  }
  driving_ = true;
  int round = 0;
  for (; round < kMaxRoundsPerDrive && !closed_; ++round) {
    bool progress = read_client();
    progress |= pump_streams();
    progress |= write_client();
    if (closed_) {
      break;
    }
    if ((protocol_.finished() && out_.empty() && !writer_.queued()) ||
        (client_eof_ && streams_.empty() && !writer_.queued())) {
      close();
      break;
    }
    if (!progress) {
      break;
    }
  }
  driving_ = false;
  if (closed_) {
    return;
  }
  if (round == kMaxRoundsPerDrive) {
    host_.loop().resume_soon(*this);  // still busy after a fair share of the loop
  }
  update_timer();
}

// Reads what the client sent and gives it to the protocol, which calls back for each stream.
// In clear, through the loop's I/O queue when it is active (client_received follows).
bool Http2Session::read_client() noexcept {
  bool progress = false;
  if (!in_.empty() && !reader_.queued()) {  // bytes read before the hand-over
    progress = true;
    const std::string_view bytes = in_.readable();
    in_.clear();
    if (!protocol_.receive(bytes)) {
      client_eof_ = true;  // a connection error, or the client's GOAWAY: no more to read
    }
  }
  while (readable_ && !client_eof_ && !closed_ && !reader_.queued()) {
    const std::span<char> space = in_.writable();
    core::IoQueue& io = host_.loop().io();
    if (tls_ == nullptr && io.active()) {
      io.queue_read(reader_, client_.get(), space);
      break;
    }
    bool drained = false;
    const ssize_t received =
        tls::receive_on(tls_.get(), client_.get(), space.data(), space.size(), drained);
    progress |= client_received(received >= 0 ? received : -errno, drained);
  }
  return progress;
}

// The result of a read into in_'s free space, as recv's.
bool Http2Session::client_received(ssize_t received, bool drained) noexcept {
  if (received > 0) {
    readable_ = !drained;
    if (!protocol_.receive({in_.writable().data(), static_cast<size_t>(received)})) {
      client_eof_ = true;
    }
    return true;
  }
  if (received == -EAGAIN) {
    readable_ = false;
    return false;
  }
  client_eof_ = true;  // the client closed, or its connection failed
  if (received < 0) {
    close();
  }
  return true;
}

void Http2Session::resume() noexcept {
  tls_write_due_ = true;
  drive();
  tls_write_due_ = false;
}

// Sends what the protocol has for the client; in clear through the loop's I/O queue when it is
// active (client_sent follows), so every stream's frames of an iteration leave together. Over
// TLS, where each send is a syscall of its own (and each a record), at the iteration's end.
bool Http2Session::write_client() noexcept {
  if (tls_ != nullptr && !tls_write_due_ && writable_ && !closed_) {
    http2::gather_frames(protocol_, out_);
    if (!out_.empty() && out_.size() < kTlsRecordBytes) {
      host_.loop().resume_soon(*this);
      return false;
    }
  }
  bool progress = false;
  while (writable_ && !closed_ && !writer_.queued()) {
    http2::gather_frames(protocol_, out_);
    const std::string_view bytes = out_.readable();
    if (bytes.empty()) {
      client_write_ns_ = now_ns();  // the client has everything we had for it
      break;
    }
    core::IoQueue& io = host_.loop().io();
    if (tls_ == nullptr && io.active()) {
      io.queue_send(writer_, client_.get(), bytes, {});
      queued_send_bytes_ = bytes.size();
      break;
    }
    const ssize_t sent = tls_ == nullptr ? core::send_gathered(client_.get(), bytes, {})
                                         : tls_->send_gathered(bytes, {});
    progress |= client_sent(sent >= 0 ? sent : -errno, bytes.size());
  }
  return progress;
}

// The result of sending `size` bytes from out_'s front, as sendmsg's.
bool Http2Session::client_sent(ssize_t sent, size_t size) noexcept {
  if (sent > 0) {
    out_.consume(static_cast<size_t>(sent));
    client_write_ns_ = now_ns();
    // Short: the socket is full (TLS takes a record at a time: only its EAGAIN says full).
    writable_ = tls_ != nullptr || static_cast<size_t>(sent) == size;
    return true;
  }
  if (sent == -EAGAIN) {
    writable_ = false;
    return false;
  }
  close();  // the client went away
  return true;
}

void Http2Session::on_queued_io_done(bool send, ssize_t result) noexcept {
  if (closed_) {
    return;
  }
  if (send) {
    client_sent(result, queued_send_bytes_);
  } else {
    // A read that came up short of the room drained the socket, as in tls::receive_on.
    client_received(result, result > 0 && static_cast<size_t>(result) < in_.writable().size());
  }
  drive();
}

bool Http2Session::pump_streams() noexcept {
  bool progress = false;
  // A stream may end (and move to spare_) during its own pump only through the protocol's
  // callbacks, which run in read_client and write_client: the list stays as it is here.
  for (size_t i = 0; i < streams_.size() && !closed_; ++i) {
    progress |= streams_[i]->pump();
  }
  return progress;
}

Http2Stream* Http2Session::find(int32_t id) noexcept {
  for (const std::unique_ptr<Http2Stream>& stream : streams_) {
    if (stream->id() == id) {
      return stream.get();
    }
  }
  return nullptr;
}

void Http2Session::on_request(int32_t id, const http2::Request& request) noexcept {
  std::unique_ptr<Http2Stream> stream;
  if (!spare_.empty()) {
    stream = std::move(spare_.back());
    spare_.pop_back();
  } else {
    try {
      stream = std::make_unique<Http2Stream>(*this, client_info_);
    } catch (const std::bad_alloc&) {
      protocol_.reset(id, 2);  // INTERNAL_ERROR
      return;
    }
  }
  ever_streamed_ = true;
  if (observe::ProtocolShard* counts = host_.telemetry().protocols) {
    observe::ProtocolShard::opened(counts->http2_streams_opened);
  }
  streams_.push_back(std::move(stream));
  streams_.back()->start(id, request);
}

void Http2Session::on_request_data(int32_t id, std::string_view bytes) noexcept {
  if (Http2Stream* stream = find(id)) {
    stream->on_data(bytes);
  }
}

void Http2Session::on_request_end(int32_t id, std::span<const http::Header> trailers) noexcept {
  if (Http2Stream* stream = find(id)) {
    stream->on_end(trailers);
  }
}

void Http2Session::on_stream_closed(int32_t id, uint32_t /*error_code*/) noexcept {
  const auto open =
      std::find_if(streams_.begin(), streams_.end(),
                   [id](const std::unique_ptr<Http2Stream>& s) { return s->id() == id; });
  if (open == streams_.end()) {
    return;
  }
  std::unique_ptr<Http2Stream> stream = std::move(*open);
  *open = std::move(streams_.back());
  streams_.pop_back();
  stream->on_closed();
  count_stream_closed();
  if (streams_.empty()) {
    idle_since_ns_ = now_ns();
  }
  spare_.push_back(std::move(stream));  // never more than max_concurrent_streams of them
}

void Http2Session::stream_answered() noexcept {
  if (generation_.retired_at_ns != 0 || host_.draining()) {
    shut_down();
  }
}

// GOAWAY, once: the streams taken finish, no new ones start.
void Http2Session::shut_down() noexcept {
  if (!shut_down_) {
    shut_down_ = true;
    protocol_.shut_down();
  }
}

void Http2Session::begin_drain() noexcept {
  shut_down();
  drive();
}

uint64_t Http2Session::client_deadline_ns() const noexcept {
  const config::TimeoutsConfig& timeouts = generation_.shared->config->timeouts;
  const auto after = [](uint64_t since_ns, uint64_t timeout_ms) {
    return since_ns + timeout_ms * core::kNsPerMs;
  };
  uint64_t deadline = 0;
  const auto earliest = [&deadline](uint64_t candidate) {
    deadline = deadline == 0 ? candidate : std::min(deadline, candidate);
  };
  if (!writable_) {
    earliest(after(client_write_ns_, timeouts.client_send()));
  }
  if (streams_.empty()) {
    earliest(ever_streamed_ ? after(idle_since_ns_, timeouts.keepalive())
                            : after(started_ns_, timeouts.client_header_ms));
  }
  for (const std::unique_ptr<Http2Stream>& stream : streams_) {
    if (const uint64_t since = stream->client_wait_since_ns(); since != 0) {
      earliest(after(since, std::min(timeouts.client_body(), timeouts.client_send())));
    }
  }
  return deadline;
}

void Http2Session::update_timer() noexcept {
  const uint64_t deadline_ns = client_deadline_ns();
  if (deadline_ns == 0) {
    timer_.cancel();
  } else if (!timer_.armed() || timer_.deadline_ns() != deadline_ns) {
    timer_.arm(host_.loop().timers(), deadline_ns);
  }
}

void Http2Session::on_timer(core::Timer& /*timer*/) noexcept {
  if (closed_) {
    return;
  }
  const config::TimeoutsConfig& timeouts = generation_.shared->config->timeouts;
  const uint64_t now = now_ns();
  if (!writable_ && now >= client_write_ns_ + timeouts.client_send() * core::kNsPerMs) {
    observe::log_event(config::LogLevel::debug, "closing client connection",
                       {{"client", client_info_.ip}, {"reason", "client timed out"}});
    close();
    return;
  }
  if (streams_.empty() && client_deadline_ns() <= now) {
    // Idle (or never asked anything): GOAWAY, read nothing more, close once it has been sent
    // (client_send bounds a client that does not take it).
    shut_down();
    client_eof_ = true;
    drive();
    return;
  }
  const uint64_t wait_ns =
      std::min(timeouts.client_body(), timeouts.client_send()) * core::kNsPerMs;
  for (size_t i = 0; i < streams_.size(); ++i) {
    const uint64_t since = streams_[i]->client_wait_since_ns();
    if (since != 0 && now >= since + wait_ns) {
      streams_[i]->client_timed_out();
    }
  }
  drive();
}

void Http2Session::count_stream_closed() noexcept {
  if (observe::ProtocolShard* counts = host_.telemetry().protocols) {
    observe::ProtocolShard::closed(counts->http2_streams_closed);
  }
}

void Http2Session::close() noexcept {
  if (closed_) {
    return;
  }
  closed_ = true;
  host_.loop().cancel_resume(*this);
  host_.loop().io().cancel(reader_);
  host_.loop().io().cancel(writer_);
  timer_.cancel();
  for (const std::unique_ptr<Http2Stream>& stream : streams_) {
    stream->on_closed();
    count_stream_closed();
  }
  if (observe::ProtocolShard* counts = host_.telemetry().protocols; counts && started_ns_ != 0) {
    observe::ProtocolShard::closed(counts->http2_connections_closed);
  }
  if (tls_ != nullptr) {
    tls_->close_notify();
  }
  client_.reset();
  host_.session_closed(*this);
}

}  // namespace ballast::proxy
