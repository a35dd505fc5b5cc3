#include "proxy/connection_gate.h"

#include <sys/resource.h>

#include <algorithm>
#include <limits>
#include <string_view>

#include "core/hash.h"

namespace ballast::proxy {
namespace {

// Descriptors kept back from client and server connections: listening sockets, the epoll and
// event descriptors of each worker, log files, the admin API and its clients.
constexpr uint64_t kReservedDescriptors = 256;

std::string_view address_bytes(const core::SocketAddress& peer) noexcept {
  if (peer.storage.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer.storage);
    return {reinterpret_cast<const char*>(&v6.sin6_addr), sizeof(v6.sin6_addr)};
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer.storage);
  return {reinterpret_cast<const char*>(&v4.sin_addr), sizeof(v4.sin_addr)};
}

}  // namespace

ConnectionGate::ConnectionGate(uint32_t process_limit, uint32_t per_client_limit)
    : process_limit_(process_limit), per_client_limit_(per_client_limit) {
  if (per_client_limit_ != 0) {
    clients_ = std::make_unique<std::atomic<uint16_t>[]>(kClientBuckets);
  }
}

std::atomic<uint32_t>& ConnectionGate::listener_count(const std::string& listen_key) {
  const std::lock_guard<std::mutex> lock(listeners_mutex_);
  std::unique_ptr<std::atomic<uint32_t>>& count = listeners_[listen_key];
  if (count == nullptr) {
    count = std::make_unique<std::atomic<uint32_t>>(0);
  }
  return *count;
}

bool ConnectionGate::has_room(const std::atomic<uint32_t>& listener,
                              uint32_t listener_limit) const noexcept {
  return (process_limit_ == 0 || open_.load(std::memory_order_relaxed) < process_limit_) &&
         (listener_limit == 0 || listener.load(std::memory_order_relaxed) < listener_limit);
}

bool ConnectionGate::admit(std::atomic<uint32_t>& listener, const core::SocketAddress* peer,
                           Ticket& ticket) noexcept {
  if (peer != nullptr && !admit_client(*peer, ticket)) {
    return false;
  }
  open_.fetch_add(1, std::memory_order_relaxed);
  listener.fetch_add(1, std::memory_order_relaxed);
  ticket.listener = &listener;
  return true;
}

bool ConnectionGate::admit_client(const core::SocketAddress& peer, Ticket& ticket) noexcept {
  if (clients_ == nullptr) {
    return true;
  }
  const uint32_t bucket = static_cast<uint32_t>(core::hash64(address_bytes(peer)) % kClientBuckets);
  if (clients_[bucket].fetch_add(1, std::memory_order_relaxed) >= per_client_limit_) {
    clients_[bucket].fetch_sub(1, std::memory_order_relaxed);
    refused_per_client_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ticket.client_bucket = bucket;
  return true;
}

void ConnectionGate::release(Ticket& ticket) noexcept {
  if (ticket.listener == nullptr) {
    return;
  }
  ticket.listener->fetch_sub(1, std::memory_order_relaxed);
  open_.fetch_sub(1, std::memory_order_relaxed);
  if (ticket.client_bucket != kNoBucket) {
    clients_[ticket.client_bucket].fetch_sub(1, std::memory_order_relaxed);
  }
  ticket = {};
}

uint32_t default_connection_limit() noexcept {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return 0;
  }
  const uint64_t usable = limit.rlim_cur > kReservedDescriptors * 2
                              ? (limit.rlim_cur - kReservedDescriptors) / 2
                              : limit.rlim_cur / 4;
  return static_cast<uint32_t>(
      std::clamp<uint64_t>(usable, 1, std::numeric_limits<uint32_t>::max()));
}

}  // namespace ballast::proxy
