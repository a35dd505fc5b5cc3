#include "upstream/connection_pool.h"

#include <algorithm>

#include "upstream/upstream_connection.h"

namespace ballast::upstream {

ConnectionPool::ConnectionPool(core::EventLoop& loop, uint32_t idle_limit, uint64_t idle_timeout_ms)
    : loop_(loop), idle_limit_(idle_limit), idle_timeout_ms_(idle_timeout_ms) {
  idle_.reserve(idle_limit);
}

ConnectionPool::~ConnectionPool() {
  while (!idle_.empty()) {
    idle_.back()->close();  // forgets itself
  }
}

UpstreamConnection* ConnectionPool::take() noexcept {
  if (idle_.empty()) {
    return nullptr;
  }
  UpstreamConnection* connection = idle_.back();
  idle_.pop_back();
  connection->stop_idling();
  connection->mark_reused();
  return connection;
}

void ConnectionPool::give_back(UpstreamConnection& connection) noexcept {
  connection.detach();
  if (idle_.size() >= idle_limit_) {
    connection.close();
    return;
  }
  idle_.push_back(&connection);
  connection.start_idling(idle_timeout_ms_);
}

void ConnectionPool::forget(UpstreamConnection& connection) noexcept {
  const auto found = std::find(idle_.begin(), idle_.end(), &connection);
  if (found != idle_.end()) {
    idle_.erase(found);
  }
}

}  // namespace ballast::upstream
