#include "demo/demo_backends.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "core/byte_buffer.h"
#include "http/request_parser.h"

namespace ballast::demo {

// One accepted connection: reads requests, answers each with the server's greeting. A request
// with a body is answered and the connection closed, which a demo can afford.
class DemoBackends::Connection final : public core::IoHandler, public core::Releasable {
 public:
  Connection(core::EventLoop& loop, core::FileDescriptor fd, const std::string& greeting)
      : loop_(loop), fd_(std::move(fd)), greeting_(greeting) {}

  void on_io(uint32_t /*events*/) noexcept override {
    while (fd_.valid()) {
      in_.compact();
      const std::span<char> space = in_.writable();
      const ssize_t received = space.empty() ? -1 : recv(fd_.get(), space.data(), space.size(), 0);
      if (received <= 0) {
        if (received == 0 || errno != EAGAIN) {
          close();
        }
        return;
      }
      in_.commit(static_cast<size_t>(received));
      answer_requests();
    }
  }

  void release() noexcept override { delete this; }

 private:
  void answer_requests() {
    for (;;) {
      http::RequestHead request;
      const http::ParseResult parsed = parser_.parse(in_.readable(), request);
      if (parsed.status == http::ParseResult::incomplete) {
        return;
      }
      const bool keep = parsed.status == http::ParseResult::complete && request.keep_alive &&
                        request.body_kind == http::BodyKind::none;
      const std::string response =
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
          std::to_string(greeting_.size()) +
          "\r\nX-Backend: " + greeting_.substr(0, greeting_.find(' ')) +
          (keep ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n") + greeting_;
      [[maybe_unused]] const ssize_t sent =
          send(fd_.get(), response.data(), response.size(), MSG_NOSIGNAL);
      if (!keep) {
        close();
        return;
      }
      in_.consume(request.head_bytes);
      parser_.reset();
    }
  }

  void close() noexcept {
    loop_.unwatch(fd_.get());
    fd_.reset();
    loop_.release_later(*this);
  }

  core::EventLoop& loop_;
  core::FileDescriptor fd_;
  const std::string& greeting_;
  core::ByteBuffer in_{8 * 1024};
  http::RequestHeadParser parser_;
};

class DemoBackends::Server final : public core::IoHandler {
 public:
  Server(core::EventLoop& loop, uint32_t number) : loop_(loop) {
    core::SocketAddress address = core::resolve("127.0.0.1", 0);
    fd_ = core::listen_on(address, false);
    sockaddr_in bound{};
    socklen_t length = sizeof(bound);
    getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&bound), &length);
    port_ = ntohs(bound.sin_port);
    greeting_ = "backend-" + std::to_string(number) + " (127.0.0.1:" + std::to_string(port_) +
                ") says hello\n";
    loop_.watch(fd_.get(), *this);
  }

  uint16_t port() const noexcept { return port_; }

  void on_io(uint32_t /*events*/) noexcept override {
    for (;;) {
      core::SocketAddress peer;
      core::FileDescriptor client = core::accept_from(fd_.get(), peer);
      if (!client.valid()) {
        return;
      }
      const int raw = client.get();
      auto* connection = new Connection(loop_, std::move(client), greeting_);
      loop_.watch(raw, *connection);
    }
  }

 private:
  core::EventLoop& loop_;
  core::FileDescriptor fd_;
  uint16_t port_ = 0;
  std::string greeting_;
};

DemoBackends::DemoBackends() = default;

DemoBackends::~DemoBackends() {
  loop_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::vector<uint16_t> DemoBackends::start(uint32_t count) {
  std::vector<uint16_t> ports;
  for (uint32_t number = 1; number <= count; ++number) {
    servers_.push_back(std::make_unique<Server>(loop_, number));
    ports.push_back(servers_.back()->port());
  }
  thread_ = std::thread([this] {
    // Signals are the proxy's to handle (drain, reload): never this thread's.
    sigset_t signals;
    sigfillset(&signals);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    loop_.run();
  });
  return ports;
}

}  // namespace ballast::demo
