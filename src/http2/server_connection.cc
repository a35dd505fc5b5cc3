#include "http2/server_connection.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <new>

#include "http2/field_list.h"
#include "http2/outgoing_body.h"

namespace ballast::http2 {
namespace {

// The connection's receive window: room for several streams' bodies at once; each stream's own
// window (Limits::stream_window_bytes) bounds what one stream may have in flight.
constexpr int32_t kConnectionWindowBytes = 1 << 20;

std::string_view view_of(nghttp2_rcbuf* buffer) noexcept {
  const nghttp2_vec bytes = nghttp2_rcbuf_get_buf(buffer);
  return {reinterpret_cast<const char*>(bytes.base), bytes.len};
}

// RFC 9113 §4.3: a field counts its name, its value and 32 bytes towards the header list size.
constexpr size_t kFieldOverheadBytes = 32;

}  // namespace

struct ServerConnection::Stream {
  int32_t id = 0;
  Request request;
  std::vector<nghttp2_rcbuf*> kept;  // what the request's views point into
  size_t field_bytes = 0;            // the header list's size so far (RFC 9113 §4.3)
  uint16_t refusal = 0;              // a status we answer ourselves instead (431)
  bool announced = false;            // the listener has had on_request
  bool request_ended = false;
  std::vector<http::Header> trailers;  // the request's, views into kept
  std::unique_ptr<OutgoingBody> body;  // the response's, once respond() said one follows

  // As new, for the next stream (its vectors keep their room).
  void clear() noexcept {
    for (nghttp2_rcbuf* buffer : kept) {
      nghttp2_rcbuf_decref(buffer);
    }
    kept.clear();
    trailers.clear();
    request = Request{};
    field_bytes = 0;
    refusal = 0;
    announced = false;
    request_ended = false;
  }
  ~Stream() { clear(); }
};

// The nghttp2 callbacks: each finds the connection in user_data and the stream by its id.
struct ServerConnection::Callbacks {
  static ServerConnection& of(void* user_data) {
    return *static_cast<ServerConnection*>(user_data);
  }

  // nghttp2 is C: an exception must not cross it. Out of memory fails the connection.
  static int begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      try {
        of(user_data).open_stream(frame->hd.stream_id);
      } catch (const std::bad_alloc&) {
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      }
    }
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, nghttp2_rcbuf* name,
                    nghttp2_rcbuf* value, uint8_t, void* user_data) {
    ServerConnection& connection = of(user_data);
    Stream* stream = connection.find(frame->hd.stream_id);
    if (stream == nullptr) {
      return 0;
    }
    const std::string_view n = view_of(name);
    const std::string_view v = view_of(value);
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return keep_trailer(connection, *stream, name, value);
    }
    // Decoded bytes are what an HPACK bomb inflates: they are counted, not the encoded ones.
    stream->field_bytes += n.size() + v.size() + kFieldOverheadBytes;
    if (stream->field_bytes > connection.limits_.max_header_list_bytes) {
      stream->refusal = 431;
      return 0;
    }
    try {
      stream->kept.reserve(stream->kept.size() + 2);
    } catch (const std::bad_alloc&) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    nghttp2_rcbuf_incref(name);
    nghttp2_rcbuf_incref(value);
    stream->kept.push_back(name);
    stream->kept.push_back(value);
    http::RequestHead& head = stream->request.head;
    if (n == ":method") {
      head.method = v;
    } else if (n == ":path") {
      head.target = v;
    } else if (n == ":scheme") {
      stream->request.scheme = v;
    } else if (n == ":authority") {
      // RFC 9113 §8.3.1: the authority, not a host field, names the origin; an HTTP/1.1 Host is
      // written from it, as from an absolute-form target's.
      head.host = v;
      head.has_host = true;
      head.host_from_target = true;
    } else if (n.front() != ':') {
      if (head.headers.count == http::kMaxHeaders) {
        stream->refusal = 431;
        return 0;
      }
      const uint32_t index = head.headers.count++;
      head.headers.lines[index] = {n, v};
      if (n == "host" && !head.has_host) {
        head.host = v;
        head.has_host = true;
      } else if (n == "content-length") {
        uint64_t length = 0;  // nghttp2 has checked it is a number, and one value only
        std::from_chars(v.data(), v.data() + v.size(), length);
        head.content_length = length;
        head.body_kind = http::BodyKind::content_length;
        head.headers.not_forwarded.set(index);  // framing: written anew for HTTP/1.1
      } else if (n == "te") {
        head.headers.not_forwarded.set(index);  // hop-by-hop (only "trailers" gets here)
      }
    }
    return 0;
  }

  // A field of the request's trailers (gRPC's, say): kept for on_request_end, counted in the
  // same header list limit (an HPACK bomb in trailers is one too); beyond it they are dropped.
  static int keep_trailer(ServerConnection& connection, Stream& stream, nghttp2_rcbuf* name,
                          nghttp2_rcbuf* value) {
    const std::string_view n = view_of(name);
    const std::string_view v = view_of(value);
    stream.field_bytes += n.size() + v.size() + kFieldOverheadBytes;
    if (stream.field_bytes > connection.limits_.max_header_list_bytes ||
        stream.trailers.size() == http::kMaxHeaders) {
      return 0;
    }
    try {
      stream.kept.reserve(stream.kept.size() + 2);
      stream.trailers.push_back({n, v});
    } catch (const std::bad_alloc&) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    nghttp2_rcbuf_incref(name);
    nghttp2_rcbuf_incref(value);
    stream.kept.push_back(name);
    stream.kept.push_back(value);
    return 0;
  }

  static int frame_received(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    ServerConnection& connection = of(user_data);
    Stream* stream = connection.find(frame->hd.stream_id);
    if (stream == nullptr) {
      return 0;
    }
    const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      if (stream->refusal != 0) {
        stream->request_ended = ends;
        try {
          connection.submit_head(stream->id, stream->refusal, {}, false);
        } catch (const std::bad_alloc&) {
          return NGHTTP2_ERR_CALLBACK_FAILURE;
        }
        return 0;
      }
      http::RequestHead& head = stream->request.head;
      if (ends) {
        head.body_kind = http::BodyKind::none;
      } else if (head.body_kind != http::BodyKind::content_length) {
        head.body_kind = http::BodyKind::chunked;  // a body of unknown length
      }
      stream->announced = true;
      connection.listener_.on_request(stream->id, stream->request);
    }
    if (ends && !stream->request_ended &&
        (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA)) {
      stream->request_ended = true;
      if (stream->announced) {
        connection.listener_.on_request_end(stream->id, stream->trailers);
      }
    }
    return 0;
  }

  // RFC 9113 §5.1.1: a new stream's id must exceed every one the client used before. nghttp2
  // ignores a HEADERS frame for a lower id that is no longer open; the RFC asks for a connection
  // error, which this makes.
  static int begin_frame(nghttp2_session* session, const nghttp2_frame_hd* hd, void*) {
    if (hd->type == NGHTTP2_HEADERS && hd->stream_id % 2 == 1 &&
        hd->stream_id <= nghttp2_session_get_last_proc_stream_id(session) &&
        nghttp2_session_find_stream(session, hd->stream_id) == nullptr) {
      nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR);
    }
    return 0;
  }

  // RFC 9113 §8.1: a complete response to a request still being sent may be followed by
  // RST_STREAM with NO_ERROR, so the client stops sending a body nobody will read. Only once the
  // response's last frame is out: a reset queued earlier would go first and discard it.
  static int frame_sent(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    const bool ends = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (!ends || (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS)) {
      return 0;
    }
    const Stream* stream = of(user_data).find(frame->hd.stream_id);
    if (stream != nullptr && !stream->request_ended) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data,
                        size_t length, void* user_data) {
    ServerConnection& connection = of(user_data);
    Stream* stream = connection.find(stream_id);
    if (stream == nullptr || !stream->announced) {
      nghttp2_session_consume(session, stream_id, length);  // dropped: the window reopens
      return 0;
    }
    connection.listener_.on_request_data(stream_id, {reinterpret_cast<const char*>(data), length});
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

ServerConnection::ServerConnection(const Limits& limits, StreamListener& listener)
    : limits_(limits), listener_(listener) {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback2(callbacks, Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, Callbacks::frame_received);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, Callbacks::stream_closed);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, Callbacks::begin_frame);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, Callbacks::frame_sent);

  nghttp2_option* options = nullptr;
  nghttp2_option_new(&options);
  nghttp2_option_set_no_auto_window_update(options, 1);  // consume() grants the window back
  nghttp2_option_set_stream_reset_rate_limit(options, limits.reset_burst, limits.resets_per_second);
  nghttp2_option_set_max_continuations(options, limits.max_continuations);
  nghttp2_option_set_max_settings(options, 32);        // entries in one SETTINGS frame
  nghttp2_option_set_max_outbound_ack(options, 1000);  // queued PING/SETTINGS acks: a flood
  nghttp2_session_server_new2(&session_, callbacks, this, options);
  nghttp2_option_del(options);
  nghttp2_session_callbacks_del(callbacks);

  const std::array<nghttp2_settings_entry, 4> settings = {{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.stream_window_bytes},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, limits.max_frame_bytes},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_bytes},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindowBytes);
}

ServerConnection::~ServerConnection() {
  nghttp2_session_del(session_);  // closes no stream through the callbacks
}

bool ServerConnection::receive(std::string_view bytes) noexcept {
  if (over_) {
    return false;
  }
  const ssize_t taken = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (taken < 0) {
    // A fatal error: the session is done and sends nothing more itself (a flood, too many
    // CONTINUATION frames, a callback's failure). Unless the client never spoke HTTP/2 at all,
    // it is told why in a GOAWAY of our own.
    over_ = true;
    if (taken != NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
      const bool flood =
          taken == NGHTTP2_ERR_FLOODED || taken == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
      write_farewell(flood ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_INTERNAL_ERROR);
    }
  }
  return !over_ && nghttp2_session_want_read(session_) != 0;
}

// RFC 9113 §6.8: GOAWAY naming the last stream taken, and the error.
void ServerConnection::write_farewell(uint32_t error_code) noexcept {
  const uint32_t last = static_cast<uint32_t>(nghttp2_session_get_last_proc_stream_id(session_));
  const std::array<uint8_t, kFarewellBytes> goaway = {0,
                                                      0,
                                                      8,
                                                      NGHTTP2_GOAWAY,
                                                      0,
                                                      0,
                                                      0,
                                                      0,
                                                      0,
                                                      static_cast<uint8_t>(last >> 24),
                                                      static_cast<uint8_t>(last >> 16),
                                                      static_cast<uint8_t>(last >> 8),
                                                      static_cast<uint8_t>(last),
                                                      static_cast<uint8_t>(error_code >> 24),
                                                      static_cast<uint8_t>(error_code >> 16),
                                                      static_cast<uint8_t>(error_code >> 8),
                                                      static_cast<uint8_t>(error_code)};
  std::memcpy(farewell_.data(), goaway.data(), goaway.size());
  pending_output_ = {farewell_.data(), farewell_.size()};
}

std::string_view ServerConnection::output() noexcept {
  if (pending_output_.empty() && !over_) {
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

void ServerConnection::sent(size_t bytes) noexcept {
  pending_output_.remove_prefix(std::min(bytes, pending_output_.size()));
}

bool ServerConnection::finished() const noexcept {
  if (!pending_output_.empty()) {
    return false;
  }
  return over_ ||
         (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0);
}

bool ServerConnection::respond(int32_t stream, uint16_t status,
                               std::span<const http::Header> fields, bool body_follows) noexcept {
  Stream* open = find(stream);
  if (open == nullptr) {
    return false;
  }
  try {
    if (body_follows) {
      open->body = spares_.take_body(limits_.response_buffer_bytes);
    }
    return submit_head(stream, status, fields, body_follows);
  } catch (const std::bad_alloc&) {
    return false;
  }
}

bool ServerConnection::submit_head(int32_t stream, uint16_t status,
                                   std::span<const http::Header> fields, bool with_body) {
  std::array<char, 3> status_text{};
  std::to_chars(status_text.data(), status_text.data() + status_text.size(), status);
  fields_.clear();
  fields_.add_pseudo(":status", {status_text.data(), status_text.size()});
  fields_.add(fields);
  nghttp2_data_provider provider{};
  provider.read_callback = Callbacks::read_body;
  return nghttp2_submit_response(session_, stream, fields_.data(), fields_.size(),
                                 with_body ? &provider : nullptr) == 0;
}

size_t ServerConnection::send_body(int32_t stream, std::string_view bytes) noexcept {
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

size_t ServerConnection::body_room(int32_t stream) const noexcept {
  const Stream* open = find(stream);
  return open == nullptr || open->body == nullptr ? 0 : open->body->room();
}

void ServerConnection::end_body(int32_t stream, std::span<const http::Header> trailers) noexcept {
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

void ServerConnection::reset(int32_t stream, uint32_t error_code) noexcept {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream, error_code);
}

void ServerConnection::consume(int32_t stream, size_t bytes) noexcept {
  nghttp2_session_consume(session_, stream, bytes);
}

void ServerConnection::shut_down() noexcept {
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
}

size_t ServerConnection::open_streams() const noexcept {
  return streams_.size();
}

ServerConnection::Stream* ServerConnection::find(int32_t stream) const noexcept {
  for (const std::unique_ptr<Stream>& open : streams_) {
    if (open->id == stream) {
      return open.get();
    }
  }
  return nullptr;
}

ServerConnection::Stream& ServerConnection::open_stream(int32_t id) {
  streams_.reserve(streams_.size() + 1);
  streams_.push_back(spares_.take_stream());
  streams_.back()->id = id;
  return *streams_.back();
}

void ServerConnection::close_stream(int32_t id, uint32_t error_code) noexcept {
  const auto open = std::find_if(streams_.begin(), streams_.end(),
                                 [id](const std::unique_ptr<Stream>& s) { return s->id == id; });
  if (open == streams_.end()) {
    return;
  }
  const bool told = (*open)->announced;
  std::unique_ptr<Stream> closed = std::move(*open);
  streams_.erase(open);
  closed->clear();
  spares_.give_back(std::move(closed), streams_.empty());
  if (told) {
    listener_.on_stream_closed(id, error_code);
  }
}

}  // namespace ballast::http2
