#include "discovery/etcd_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "config/scalars.h"
#include "core/blocking_io.h"
#include "core/clock.h"
#include "core/socket.h"
#include "discovery/etcd_json.h"
#include "http/chunked_parser.h"
#include "http/response_parser.h"

namespace ballast::discovery {
namespace {

// Every buffer is bounded. A range must hold a whole fleet's records (10,000 servers at ~150
// bytes of base64 each is ~2 MiB); a watch message one revision's events; anything else is small.
constexpr size_t kMaxRangeAnswerBytes = 64 << 20;
constexpr size_t kMaxWatchMessageBytes = 16 << 20;
constexpr size_t kMaxAnswerBytes = 1 << 20;
constexpr size_t kReceiveBytes = 64 * 1024;
constexpr uint64_t kStopPollMs = 200;
// A watch is silent for as long as nothing changes, so one on a member whose host vanished (no
// FIN, no RST) would wait forever; TCP keepalive probes find the peer gone within ~11 s.
constexpr int kProbeIdleS = 5;
constexpr int kProbeIntervalS = 2;
constexpr int kProbeCount = 3;

// The member did not answer — refused, reset, timed out, or said 503 (no leader, or it timed out
// itself): another member may.
class Unreachable : public EtcdError {
 public:
  using EtcdError::EtcdError;
};

std::string endpoint_name(const EtcdEndpoint& endpoint) {
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  return (ipv6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + std::to_string(endpoint.port);
}

// "Grpc-Metadata-Hasleader: true" becomes gRPC metadata the gateway passes on: a member that has
// lost its leader then fails the call at once (503) instead of timing out, and ends a watch
// instead of keeping it open without events (clientv3's WithRequireLeader).
std::string http_request(const EtcdEndpoint& endpoint, std::string_view path,
                         std::string_view body) {
  std::string request = "POST ";
  request.append(path);
  request += " HTTP/1.1\r\nHost: ";
  request += endpoint_name(endpoint);
  request +=
      "\r\nContent-Type: application/json\r\nGrpc-Metadata-Hasleader: true\r\nConnection: "
      "close\r\nContent-Length: ";
  request += std::to_string(body.size());
  request += "\r\n\r\n";
  request.append(body);
  return request;
}

enum class BodyRead { more, end, timed_out };

// One POST on its own connection, and the answer read as it arrives.
class Exchange {
 public:
  // Connects, sends and reads the answer's head. Throws Unreachable, or EtcdError for an answer
  // that is not HTTP.
  Exchange(const EtcdEndpoint& endpoint, std::string_view request, uint64_t deadline_ns) {
    connect(endpoint, deadline_ns);
    send_all(request, deadline_ns);
    read_head(deadline_ns);
  }

  uint16_t status() const noexcept { return status_; }

  // For a long quiet stream: probes the peer whenever nothing has come for a while.
  void probe_while_idle() noexcept {
    const int on = 1;
    setsockopt(fd_.get(), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_KEEPIDLE, &kProbeIdleS, sizeof(kProbeIdleS));
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_KEEPINTVL, &kProbeIntervalS, sizeof(kProbeIntervalS));
    setsockopt(fd_.get(), IPPROTO_TCP, TCP_KEEPCNT, &kProbeCount, sizeof(kProbeCount));
  }

  // Appends the next bytes of the body's payload to `out`, waiting for them until deadline_ns.
  // end: the body is complete. Throws Unreachable when the connection closes early.
  BodyRead read_body(std::string& out, uint64_t deadline_ns) {
    const size_t before = out.size();
    for (;;) {
      if (take_payload(out)) {
        return BodyRead::end;
      }
      if (out.size() > before) {
        return BodyRead::more;
      }
      if (!receive(deadline_ns)) {
        return BodyRead::timed_out;
      }
      if (closed_) {
        if (body_kind_ == http::BodyKind::until_close) {
          return BodyRead::end;
        }
        throw Unreachable("the connection closed in the middle of the answer");
      }
    }
  }

 private:
  void connect(const EtcdEndpoint& endpoint, uint64_t deadline_ns) {
    std::string error;
    fd_ = core::connect_by(endpoint.host, endpoint.port, deadline_ns, error);
    if (!fd_.valid()) {
      throw Unreachable(error);
    }
  }

  void send_all(std::string_view request, uint64_t deadline_ns) {
    while (!request.empty()) {
      const ssize_t n = ::send(fd_.get(), request.data(), request.size(), MSG_NOSIGNAL);
      if (n > 0) {
        request.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!core::wait_ready(fd_.get(), POLLOUT, deadline_ns)) {
          throw Unreachable("send timed out");
        }
      } else if (n < 0 && errno != EINTR) {
        throw Unreachable(core::errno_text("send", errno));
      }
    }
  }

  void read_head(uint64_t deadline_ns) {
    http::ResponseHeadParser parser;
    http::ResponseHead head;
    for (;;) {
      const http::ParseResult parsed = parser.parse(received_, /*request_was_head=*/false, head);
      if (parsed.status == http::ParseResult::complete) {
        break;
      }
      if (parsed.status == http::ParseResult::error) {
        throw EtcdError("malformed HTTP answer: " + std::string(parsed.reason));
      }
      if (!receive(deadline_ns)) {
        throw Unreachable("no answer within the timeout");
      }
      if (closed_) {
        throw Unreachable("the connection closed before the answer");
      }
    }
    // The head's views point into received_: copy what is needed before dropping it.
    status_ = head.status;
    body_kind_ = head.body_kind;
    body_left_ = head.content_length;
    received_.erase(0, head.head_bytes);
  }

  // Reads what has arrived into received_, or notes the close; false when nothing came by
  // deadline_ns.
  bool receive(uint64_t deadline_ns) {
    char buffer[kReceiveBytes];
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
      if (n > 0) {
        received_.append(buffer, static_cast<size_t>(n));
        return true;
      }
      if (n == 0) {
        closed_ = true;
        return true;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!core::wait_ready(fd_.get(), POLLIN, deadline_ns)) {
          return false;
        }
      } else if (errno != EINTR) {
        throw Unreachable(core::errno_text("recv", errno));
      }
    }
  }

  // Moves the payload among received_ to `out`; true once the body is complete.
  bool take_payload(std::string& out) {
    switch (body_kind_) {
      case http::BodyKind::none:
        return true;
      case http::BodyKind::content_length: {
        const size_t taken = static_cast<size_t>(std::min<uint64_t>(received_.size(), body_left_));
        out.append(received_, 0, taken);
        received_.erase(0, taken);
        body_left_ -= taken;
        return body_left_ == 0;
      }
      case http::BodyKind::chunked: {
        size_t offset = 0;
        while (offset < received_.size() && !chunked_.done()) {
          const http::ChunkResult result =
              chunked_.decode(std::string_view(received_).substr(offset));
          if (result.error) {
            throw EtcdError("malformed chunked answer: " + std::string(result.reason));
          }
          out.append(result.data);
          offset += result.consumed;
          if (result.consumed == 0) {
            break;
          }
        }
        received_.erase(0, offset);
        return chunked_.done();
      }
      case http::BodyKind::until_close:
        out += received_;
        received_.clear();
        return false;
    }
    return false;
  }

  core::FileDescriptor fd_;
  std::string received_;  // bytes read and not yet taken
  bool closed_ = false;   // the peer closed its side
  uint16_t status_ = 0;
  http::BodyKind body_kind_ = http::BodyKind::none;
  uint64_t body_left_ = 0;  // of a Content-Length body
  http::ChunkedParser chunked_;
};

// The whole body, at most max_bytes of it.
std::string read_all(Exchange& exchange, uint64_t deadline_ns, size_t max_bytes) {
  std::string body;
  for (;;) {
    const BodyRead read = exchange.read_body(body, deadline_ns);
    if (body.size() > max_bytes) {
      throw EtcdError("etcd's answer is larger than " + std::to_string(max_bytes) + " bytes");
    }
    if (read == BodyRead::end) {
      return body;
    }
    if (read == BodyRead::timed_out) {
      throw Unreachable("no whole answer within the timeout");
    }
  }
}

// The next message of a streamed answer, or nullopt when none came by deadline_ns. Throws
// Unreachable when the stream ends.
std::optional<std::string> next_message(Exchange& exchange, MessageSplitter& splitter,
                                        uint64_t deadline_ns) {
  std::string payload;
  for (;;) {
    if (std::optional<std::string> message = splitter.next()) {
      return message;
    }
    payload.clear();
    const BodyRead read = exchange.read_body(payload, deadline_ns);
    splitter.append(payload);
    if (read == BodyRead::timed_out) {
      return std::nullopt;
    }
    if (read == BodyRead::end) {
      std::optional<std::string> message = splitter.next();
      if (!message) {
        message = splitter.rest();
      }
      if (!message) {
        throw Unreachable("etcd ended the stream");
      }
      return message;
    }
  }
}

// An exchange whose answer is 2xx. Otherwise throws what etcd said: as Unreachable for a 503,
// which another member may not say.
Exchange open(const EtcdEndpoint& endpoint, std::string_view path, std::string_view body,
              uint64_t deadline_ns) {
  Exchange exchange(endpoint, http_request(endpoint, path, body), deadline_ns);
  const uint16_t status = exchange.status();
  if (status >= 200 && status < 300) {
    return exchange;
  }
  std::string answer;
  try {
    answer = read_all(exchange, deadline_ns, kMaxAnswerBytes);
  } catch (const EtcdError&) {
    // The status alone still says what went wrong.
  }
  std::string what = describe_error_answer(status, answer);
  if (status == 503) {
    throw Unreachable(std::move(what));
  }
  throw EtcdError(std::move(what));
}

uint16_t parse_port(std::string_view text) {
  unsigned port = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), port);
  if (parsed.ec != std::errc() || parsed.ptr != text.data() + text.size() || port == 0 ||
      port > 65535) {
    throw std::invalid_argument("etcd endpoint: bad port \"" + std::string(text) + "\"");
  }
  return static_cast<uint16_t>(port);
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
         });
}

}  // namespace

EtcdClient::EtcdClient(std::vector<EtcdEndpoint> endpoints, uint64_t timeout_ms)
    : endpoints_(std::move(endpoints)), timeout_ms_(timeout_ms) {}

// Each endpoint in turn, from the one that answered last, gets timeout_ms for the whole
// attempt; one that cannot be reached passes the call on to the next. The rest of the cluster
// then answers in one call, and the next call starts where this one succeeded.
template <typename Attempt>
auto EtcdClient::on_some_member(const Attempt& attempt) {
  if (endpoints_.empty()) {
    throw EtcdError("no etcd endpoint configured");
  }
  std::string errors;  // each member's, in the order tried
  for (size_t tried = 0; tried < endpoints_.size(); ++tried) {
    const size_t index = (current_ + tried) % endpoints_.size();
    const uint64_t deadline_ns = core::monotonic_now_ns() + timeout_ms_ * core::kNsPerMs;
    try {
      auto result = attempt(endpoints_[index], deadline_ns);
      current_ = index;
      return result;
    } catch (const Unreachable& error) {
      errors +=
          (errors.empty() ? "" : "; ") + endpoint_name(endpoints_[index]) + ": " + error.what();
    } catch (const EtcdError&) {
      current_ = index;  // it answered, even if only to refuse
      throw;
    }
  }
  throw EtcdError("no etcd member answered: " + errors);
}

std::string EtcdClient::call(std::string_view path, std::string_view body, size_t max_bytes) {
  return on_some_member([&](const EtcdEndpoint& endpoint, uint64_t deadline_ns) {
    Exchange exchange = open(endpoint, path, body, deadline_ns);
    return read_all(exchange, deadline_ns, max_bytes);
  });
}

EtcdRange EtcdClient::range_prefix(const std::string& prefix) {
  return decode_range(call("/v3/kv/range", range_prefix_request(prefix), kMaxRangeAnswerBytes));
}

void EtcdClient::put(const std::string& key, const std::string& value, int64_t lease) {
  call("/v3/kv/put", put_request(key, value, lease), kMaxAnswerBytes);
}

void EtcdClient::remove(const std::string& key) {
  call("/v3/kv/deleterange", delete_request(key), kMaxAnswerBytes);
}

int64_t EtcdClient::grant_lease(int64_t ttl_s) {
  return decode_lease_grant(call("/v3/lease/grant", lease_grant_request(ttl_s), kMaxAnswerBytes));
}

// The gateway turns the keepalive stream into one request and one answer: it reads our single
// message, answers it, and ends the body. Only the first message is read, so a gateway that kept
// the stream open would cost nothing more.
bool EtcdClient::keep_alive(int64_t lease) {
  const std::string body = lease_request(lease);
  const std::string message =
      on_some_member([&](const EtcdEndpoint& endpoint, uint64_t deadline_ns) {
        Exchange exchange = open(endpoint, "/v3/lease/keepalive", body, deadline_ns);
        MessageSplitter splitter(kMaxAnswerBytes);
        std::optional<std::string> first = next_message(exchange, splitter, deadline_ns);
        if (!first) {
          throw Unreachable("no keepalive answer within the timeout");
        }
        return std::move(*first);
      });
  return decode_keep_alive(message);
}

void EtcdClient::revoke(int64_t lease) {
  call("/v3/lease/revoke", lease_request(lease), kMaxAnswerBytes);
}

void EtcdClient::watch_prefix(
    const std::string& prefix, int64_t start_revision,
    const std::function<void(std::span<const EtcdEvent>, int64_t)>& on_events,
    const std::atomic<bool>& stop) {
  const std::string body = watch_prefix_request(prefix, start_revision);
  MessageSplitter splitter(kMaxWatchMessageBytes);
  Exchange exchange = on_some_member([&](const EtcdEndpoint& endpoint, uint64_t deadline_ns) {
    return open(endpoint, "/v3/watch", body, deadline_ns);
  });
  exchange.probe_while_idle();
  const size_t index = current_;
  while (!stop.load(std::memory_order_relaxed)) {
    WatchMessage batch;
    try {
      const std::optional<std::string> message =
          next_message(exchange, splitter, core::monotonic_now_ns() + kStopPollMs * core::kNsPerMs);
      if (!message) {
        continue;
      }
      batch = decode_watch_message(*message);
    } catch (const EtcdCompacted&) {
      throw;
    } catch (const EtcdError& error) {
      // The member is gone or has lost its leader: the watch that replaces this one starts on
      // the next.
      current_ = (index + 1) % endpoints_.size();
      throw EtcdError("etcd watch on " + endpoint_name(endpoints_[index]) + ": " + error.what());
    }
    if (!batch.events.empty()) {
      on_events(batch.events, batch.revision);
    }
  }
}

std::string EtcdClient::current_endpoint() const {
  return endpoints_.empty() ? std::string() : endpoint_name(endpoints_[current_]);
}

EtcdEndpoint parse_etcd_endpoint(const std::string& text) {
  std::string_view rest = text;
  if (starts_with_ignoring_case(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    throw std::invalid_argument("etcd endpoint \"" + text +
                                "\": only http:// is supported (etcd's gateway without TLS)");
  }
  if (rest.ends_with('/')) {
    rest.remove_suffix(1);
  }
  EtcdEndpoint endpoint;
  std::string_view host = rest;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      throw std::invalid_argument("etcd endpoint \"" + text + "\": unterminated IPv6 address");
    }
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        throw std::invalid_argument("etcd endpoint \"" + text + "\": text after the address");
      }
      endpoint.port = parse_port(after.substr(1));
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      throw std::invalid_argument("etcd endpoint \"" + text +
                                  "\": an IPv6 address needs brackets, as in [::1]:2379");
    }
    endpoint.port = parse_port(rest.substr(colon + 1));
  }
  if (!config::is_host(host)) {
    throw std::invalid_argument("etcd endpoint \"" + text + "\": bad host \"" + std::string(host) +
                                "\"");
  }
  endpoint.host = std::string(host);
  return endpoint;
}

}  // namespace ballast::discovery
