#pragma once
// `ballast demo`: a few tiny HTTP servers on 127.0.0.1 (ports the kernel picks), each answering
// every request with a line that names it, so a newcomer who curls the proxy sees the balancing.
//
// Owns: one thread with its own event loop, the listening sockets and their connections.
// Threading: start() on the main thread; the servers run on their own thread until exit.

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/event_loop.h"
#include "core/socket.h"

namespace ballast::demo {

class DemoBackends {
 public:
  DemoBackends();
  ~DemoBackends();

  // Starts `count` servers; returns their ports.
  std::vector<uint16_t> start(uint32_t count);

 private:
  class Server;
  class Connection;

  core::EventLoop loop_;
  std::vector<std::unique_ptr<Server>> servers_;
  std::thread thread_;
};

}  // namespace ballast::demo
