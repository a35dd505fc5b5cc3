#include "balance/least_connections.h"

#include <array>
#include <utility>

namespace ballast::balance {
namespace {

constexpr uint32_t kArity = 4;
constexpr uint32_t kNotInHeap = UINT32_MAX;
constexpr uint64_t kOneAttempt = uint64_t{1} << 32;

uint64_t order_key(uint32_t active_attempts, ServerIndex server) {
  return (uint64_t{active_attempts} << 32) | server;
}

ServerIndex server_of(uint64_t key) {
  return static_cast<ServerIndex>(key);
}
uint64_t active_of(uint64_t key) {
  return key >> 32;
}

}  // namespace

LeastConnections::LeastConnections(std::vector<uint32_t> weights, Mode mode)
    : Policy(std::move(weights)), mode_(mode), heap_(size()), heap_size_(size()), servers_(size()) {
  // Every server starts eligible and idle: equal counts ordered by index are a sorted array,
  // which is already a heap.
  for (ServerIndex server = 0; server < size(); ++server) {
    heap_[server] = {order_key(0, server), weight(server)};
    servers_[server] = {0, server};
  }
}

ServerIndex LeastConnections::pick(const PickContext& ctx) noexcept {
  if (heap_size_ == 0) {
    return kNoServer;
  }
  const ServerIndex best = server_of(heap_[0].order_key);
  return ctx.excluded.contains(best) ? best_not_excluded(ctx.excluded) : best;
}

void LeastConnections::on_attempt_start(ServerIndex server) noexcept {
  ServerState& state = servers_[server];
  ++state.active_attempts;
  if (state.heap_position != kNotInHeap) {
    heap_[state.heap_position].order_key += kOneAttempt;
    sift_down(state.heap_position);
  }
}

void LeastConnections::on_attempt_end(ServerIndex server, const AttemptOutcome&) noexcept {
  ServerState& state = servers_[server];
  // An end without a start on this instance (one begun before a rebuild) must not wrap around.
  if (state.active_attempts == 0) {
    return;
  }
  --state.active_attempts;
  if (state.heap_position != kNotInHeap) {
    heap_[state.heap_position].order_key -= kOneAttempt;
    sift_up(state.heap_position);
  }
}

void LeastConnections::on_eligibility_changed(ServerIndex server, bool eligible) noexcept {
  if (eligible) {
    insert(server);
  } else {
    remove(server);
  }
}

void LeastConnections::on_weight_changed(ServerIndex server, uint32_t) noexcept {
  const uint32_t position = servers_[server].heap_position;
  if (position == kNotInHeap) {
    return;
  }
  heap_[position].weight = weight(server);
  if (mode_ == Mode::weighted) {
    restore(position);
  }
}

struct LeastConnections::ByActive {
  static bool before(const HeapNode& a, const HeapNode& b) noexcept {
    return a.order_key < b.order_key;
  }
};

struct LeastConnections::ByActivePerWeight {
  // active_a / weight_a < active_b / weight_b without division; each product is below 2^64.
  static bool before(const HeapNode& a, const HeapNode& b) noexcept {
    const uint64_t load_a = active_of(a.order_key) * b.weight;
    const uint64_t load_b = active_of(b.order_key) * a.weight;
    return load_a < load_b || (load_a == load_b && server_of(a.order_key) < server_of(b.order_key));
  }
};

bool LeastConnections::before(const HeapNode& a, const HeapNode& b) const noexcept {
  return mode_ == Mode::weighted ? ByActivePerWeight::before(a, b) : ByActive::before(a, b);
}

void LeastConnections::sift_up(uint32_t position) noexcept {
  if (mode_ == Mode::weighted) {
    sift_up<ByActivePerWeight>(position);
  } else {
    sift_up<ByActive>(position);
  }
}

void LeastConnections::sift_down(uint32_t position) noexcept {
  if (mode_ == Mode::weighted) {
    sift_down<ByActivePerWeight>(position);
  } else {
    sift_down<ByActive>(position);
  }
}

template <class Order>
void LeastConnections::sift_up(uint32_t position) noexcept {
  const HeapNode node = heap_[position];
  while (position > 0) {
    const uint32_t parent = (position - 1) / kArity;
    if (!Order::before(node, heap_[parent])) {
      break;
    }
    place(position, heap_[parent]);
    position = parent;
  }
  place(position, node);
}

template <class Order>
void LeastConnections::sift_down(uint32_t position) noexcept {
  const HeapNode node = heap_[position];
  while (true) {
    const uint32_t first_child = position * kArity + 1;
    if (first_child >= heap_size_) {
      break;
    }
    const uint32_t end_child =
        first_child + kArity < heap_size_ ? first_child + kArity : heap_size_;
    uint32_t best_child = first_child;
    for (uint32_t child = first_child + 1; child < end_child; ++child) {
      if (Order::before(heap_[child], heap_[best_child])) {
        best_child = child;
      }
    }
    if (!Order::before(heap_[best_child], node)) {
      break;
    }
    place(position, heap_[best_child]);
    position = best_child;
  }
  place(position, node);
}

void LeastConnections::place(uint32_t position, const HeapNode& node) noexcept {
  heap_[position] = node;
  servers_[server_of(node.order_key)].heap_position = position;
}

void LeastConnections::restore(uint32_t position) noexcept {
  if (position > 0 && before(heap_[position], heap_[(position - 1) / kArity])) {
    sift_up(position);
  } else {
    sift_down(position);
  }
}

void LeastConnections::insert(ServerIndex server) noexcept {
  const uint32_t position = heap_size_++;
  place(position, {order_key(servers_[server].active_attempts, server), weight(server)});
  sift_up(position);
}

void LeastConnections::remove(ServerIndex server) noexcept {
  const uint32_t position = servers_[server].heap_position;
  servers_[server].heap_position = kNotInHeap;
  const uint32_t last = --heap_size_;
  if (position != last) {
    place(position, heap_[last]);
    restore(position);
  }
}

// Best-first search from the root: no node orders before its parent, so the best node not yet
// seen is always a child of one already seen, and popping the best frontier node (pushing its
// children when it is excluded) visits the servers in order. Only excluded nodes are expanded and
// ExcludedServers holds at most kCapacity of them, so the answer (or an empty frontier) comes
// within kCapacity + 1 pops.
ServerIndex LeastConnections::best_not_excluded(const ExcludedServers& excluded) const noexcept {
  constexpr uint32_t kMaxPops = ExcludedServers::kCapacity + 1;
  std::array<uint32_t, 1 + kMaxPops*(kArity - 1)> frontier;
  frontier[0] = 0;
  uint32_t frontier_size = 1;
  for (uint32_t pops = 0; pops < kMaxPops && frontier_size > 0; ++pops) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < frontier_size; ++i) {
      if (before(heap_[frontier[i]], heap_[frontier[best]])) {
        best = i;
      }
    }
    const uint32_t position = frontier[best];
    frontier[best] = frontier[--frontier_size];
    const ServerIndex server = server_of(heap_[position].order_key);
    if (!excluded.contains(server)) {
      return server;
    }
    const uint32_t first_child = position * kArity + 1;
    for (uint32_t child = first_child; child < first_child + kArity && child < heap_size_;
         ++child) {
      frontier[frontier_size++] = child;
    }
  }
  return kNoServer;
}

}  // namespace ballast::balance
