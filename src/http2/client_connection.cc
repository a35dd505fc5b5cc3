#include "http2/client_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <new>

#include "http2/field_list.h"
#include "http2/outgoing_body.h"

namespace ballast::http2 {
namespace {

constexpr int32_t kConnectionWindowBytes = 1 << 20;  // several streams' responses at once
constexpr size_t kFieldOverheadBytes = 32;           // RFC 9113 §4.3

std::string_view view_of(nghttp2_rcbuf* buffer) noexcept {
  const nghttp2_vec bytes = nghttp2_rcbuf_get_buf(buffer);
  return {reinterpret_cast<const char*>(bytes.base), bytes.len};
}

}  // namespace

struct ClientConnection::Stream {
  int32_t id = 0;
  std::unique_ptr<OutgoingBody> body;  // the request's, when one follows
  // The response head or trailers being received: views into kept.
  std::vector<nghttp2_rcbuf*> kept;
  std::vector<http::Header> fields;
  size_t field_bytes = 0;
  uint16_t status = 0;
  bool too_large = false;  // the head passed max_header_list_bytes: the stream is reset

  void release_fields() noexcept {
    for (nghttp2_rcbuf* buffer : kept) {
      nghttp2_rcbuf_decref(buffer);
    }
    kept.clear();
    fields.clear();
    field_bytes = 0;
  }
  // As new, for the next stream (its vectors keep their room).
  void clear() noexcept {
    release_fields();
    status = 0;
    too_large = false;
  }
  ~Stream() { release_fields(); }
};

struct ClientConnection::Callbacks {
  static ClientConnection& of(void* user_data) {
    return *static_cast<ClientConnection*>(user_data);
  }

  static int header(nghttp2_session* session, const nghttp2_frame* frame, nghttp2_rcbuf* name,
                    nghttp2_rcbuf* value, uint8_t, void* user_data) {
    ClientConnection& connection = of(user_data);
    Stream* stream = connection.find(frame->hd.stream_id);
    if (stream == nullptr || stream->too_large) {
      return 0;
    }
    const std::string_view n = view_of(name);
    const std::string_view v = view_of(value);
    stream->field_bytes += n.size() + v.size() + kFieldOverheadBytes;
    if (stream->field_bytes > connection.limits_.max_header_list_bytes) {
      stream->too_large = true;
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream->id, NGHTTP2_INTERNAL_ERROR);
      return 0;
    }
    if (n == ":status") {
      std::from_chars(v.data(), v.data() + v.size(), stream->status);  // checked by nghttp2
      return 0;
    }
    try {
      stream->kept.reserve(stream->kept.size() + 2);
      stream->fields.push_back({n, v});
    } catch (const std::bad_alloc&) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    nghttp2_rcbuf_incref(name);
    nghttp2_rcbuf_incref(value);
    stream->kept.push_back(name);
    stream->kept.push_back(value);
    return 0;
  }

  static int frame_received(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    ClientConnection& connection = of(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      connection.goaway_ = true;
      return 0;
    }
    Stream* stream = connection.find(frame->hd.stream_id);
    if (stream == nullptr || stream->too_large) {
      return 0;
    }
    const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        connection.listener_.on_response(stream->id, {stream->status, stream->fields, !ends});
        if (ends) {  // Trailers-Only: the head's fields stay valid through the end
          connection.listener_.on_response_end(stream->id, {});
        }
        stream->release_fields();
      } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS && ends) {
        connection.listener_.on_response_end(stream->id, stream->fields);  // trailers
        stream->release_fields();
      } else {
        stream->release_fields();  // an interim (1xx) head: not passed on
      }
    } else if (frame->hd.type == NGHTTP2_DATA && ends) {
      connection.listener_.on_response_end(stream->id, {});
    }
    return 0;
  }

  static int data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                        size_t length, void* user_data) {
    ClientConnection& connection = of(user_data);
    Stream* stream = connection.find(stream_id);
    if (stream == nullptr || stream->too_large) {
      nghttp2_session_consume(session, stream_id, length);
      return 0;
    }
    connection.listener_.on_response_data(stream_id, {reinterpret_cast<const char*>(data), length});
    return 0;
  }

  static int stream_closed(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                           void* user_data) {
    of(user_data).close_stream(stream_id, error_code);
    return 0;
  }

  static ssize_t read_body(nghttp2_session* session, int32_t stream_id, uint8_t* out, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* user_data) {
    Stream* stream = of(user_data).find(stream_id);
    if (stream == nullptr || stream->body == nullptr) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return stream->body->read(session, stream_id, out, length, flags);
  }
};

ClientConnection::ClientConnection(const ClientLimits& limits, ResponseListener& listener)
    : limits_(limits), listener_(listener) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback2(callbacks, Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Callbacks::frame_received);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Callbacks::stream_closed);

  nghttp2_option* options = nullptr;
  nghttp2_option_new(&options);
  nghttp2_option_set_no_auto_window_update(options, 1);  // consume() grants the window back
  nghttp2_option_set_max_continuations(options, limits.max_continuations);
  nghttp2_option_set_max_settings(options, 32);
  nghttp2_option_set_max_outbound_ack(options, 1000);
  nghttp2_option_set_peer_max_concurrent_streams(options, limits.max_streams);
  nghttp2_session_client_new2(&session_, callbacks, this, options);
  nghttp2_option_del(options);
  nghttp2_session_callbacks_del(callbacks);

  const std::array<nghttp2_settings_entry, 3> settings = {{
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.stream_window_bytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_bytes},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindowBytes);
}

ClientConnection::~ClientConnection() {
  nghttp2_session_del(session_);
}

bool ClientConnection::receive(std::string_view bytes) noexcept {
  if (over_) {
    return false;
  }
  const ssize_t taken = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (taken < 0) {
    over_ = true;
  }
  return !over_ && nghttp2_session_want_read(session_) != 0;
}

std::string_view ClientConnection::output() noexcept {
  if (pending_output_.empty()) {
    const uint8_t* data = nullptr;
    const ssize_t length = nghttp2_session_mem_send(session_, &data);
    if (length < 0) {
      over_ = true;
      return {};
    }
    pending_output_ = {reinterpret_cast<const char*>(data), static_cast<size_t>(length)};
  }
  return pending_output_;
}

void ClientConnection::sent(size_t bytes) noexcept {
  pending_output_.remove_prefix(std::min(bytes, pending_output_.size()));
}

bool ClientConnection::finished() const noexcept {
  return pending_output_.empty() && (over_ || (nghttp2_session_want_read(session_) == 0 &&
                                               nghttp2_session_want_write(session_) == 0));
}

bool ClientConnection::can_open() const noexcept {
  if (over_ || goaway_) {
    return false;
  }
  const uint32_t theirs =
      nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return streams_.size() < std::min(theirs, limits_.max_streams);
}

int32_t ClientConnection::request(const RequestLine& line, std::span<const http::Header> fields,
                                  bool body_follows) noexcept {
  if (!can_open()) {
    return -1;
  }
  try {
    std::unique_ptr<Stream> stream = spares_.take_stream();
    if (body_follows) {
      stream->body = spares_.take_body(limits_.request_buffer_bytes);
    }
    fields_.clear();
    fields_.add_pseudo(":method", line.method);
    fields_.add_pseudo(":scheme", line.scheme);
    fields_.add_pseudo(":authority", line.authority);
    fields_.add_pseudo(":path", line.path);
    fields_.add(fields);
    nghttp2_data_provider provider{};
    provider.read_callback = Callbacks::read_body;
    const int32_t id = nghttp2_submit_request(session_, nullptr, fields_.data(), fields_.size(),
                                              body_follows ? &provider : nullptr, nullptr);
    if (id < 0) {
      spares_.give_back(std::move(stream), streams_.empty());
      return -1;
    }
    stream->id = id;
    streams_.reserve(streams_.size() + 1);
    streams_.push_back(std::move(stream));
    return id;
  } catch (const std::bad_alloc&) {
    return -1;
  }
}

size_t ClientConnection::send_body(int32_t stream, std::string_view bytes) noexcept {
  Stream* open = find(stream);
  if (open == nullptr || open->body == nullptr) {
    return 0;
  }
  bool resume = false;
  const size_t taken = open->body->append(bytes, resume);
  if (resume) {
    nghttp2_session_resume_data(session_, stream);
  }
  return taken;
}

size_t ClientConnection::body_room(int32_t stream) const noexcept {
  const Stream* open = find(stream);
  return open == nullptr || open->body == nullptr ? 0 : open->body->room();
}

void ClientConnection::end_body(int32_t stream, std::span<const http::Header> trailers) noexcept {
  Stream* open = find(stream);
  if (open == nullptr || open->body == nullptr) {
    return;
  }
  bool resume = false;
  try {
    open->body->end(trailers, resume);
  } catch (const std::bad_alloc&) {
    reset(stream, NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (resume) {
    nghttp2_session_resume_data(session_, stream);
  }
}

void ClientConnection::reset(int32_t stream, uint32_t error_code) noexcept {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, error_code);
}

void ClientConnection::consume(int32_t stream, size_t bytes) noexcept {
  nghttp2_session_consume(session_, stream, bytes);
}

void ClientConnection::consume_connection(size_t bytes) noexcept {
  nghttp2_session_consume_connection(session_, bytes);
}

void ClientConnection::consume_stream(int32_t stream, size_t bytes) noexcept {
  nghttp2_session_consume_stream(session_, stream, bytes);
}

size_t ClientConnection::open_streams() const noexcept {
  return streams_.size();
}

ClientConnection::Stream* ClientConnection::find(int32_t stream) const noexcept {
  for (const std::unique_ptr<Stream>& open : streams_) {
    if (open->id == stream) {
      return open.get();
    }
  }
  return nullptr;
}

void ClientConnection::close_stream(int32_t id, uint32_t error_code) noexcept {
  const auto open = std::find_if(streams_.begin(), streams_.end(),
                                 [id](const std::unique_ptr<Stream>& s) { return s->id == id; });
  if (open == streams_.end()) {
    return;
  }
  std::unique_ptr<Stream> closed = std::move(*open);
  streams_.erase(open);
  closed->clear();
  spares_.give_back(std::move(closed), streams_.empty());
  listener_.on_stream_closed(id, error_code);
}

}  // namespace ballast::http2
