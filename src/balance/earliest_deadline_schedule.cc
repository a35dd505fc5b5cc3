#include "balance/earliest_deadline_schedule.h"

#include <cassert>

namespace ballast::balance {
namespace {

using uint128 = unsigned __int128;

// Deadlines are kept in units of 2^-kCycleBits of a cycle (one unit of virtual time).
constexpr uint32_t kCycleBits = 40;
constexpr uint64_t kCycle = uint64_t{1} << kCycleBits;

// φ · 2^kCycleBits for a server, in (0, kCycle): the top bits of index · 2^64 / golden ratio,
// a Weyl sequence, so any run of consecutive indices is spread evenly over the cycle. Never 0,
// so that no deadline is a whole number of cycles.
uint64_t scaled_phase(ServerIndex server) noexcept {
  return ((uint64_t{server} * 0x9e3779b97f4a7c15ULL) >> (64 - kCycleBits)) | 1;
}

}  // namespace

// Whether node a goes before node b: scheduled before unscheduled, then by deadline, then by
// server index. Two unscheduled nodes are equal, both infinite. Keys are compared by their
// difference modulo 2^64, which is right while the deadlines are less than 2^63 units
// (2^23 cycles) apart; every scheduled deadline lies within about one cycle of now_ (a pick
// moves a server at most 1/w past now_, put_back() leaves it at most 1/w before), so keys may
// wrap around and never need rebasing. Bitwise, not short-circuit: this
// feeds a branch-free select in replay().
inline bool EarliestDeadlineSchedule::precedes(const Node& a, const Node& b) const noexcept {
  const int64_t key_difference = static_cast<int64_t>(a.key - b.key);
  bool a_first = key_difference < 0;
  if (key_difference == 0) [[unlikely]] {
    const int order = compare(servers_[server_of(a)].next, servers_[server_of(b)].next);
    a_first = order < 0 || (order == 0 && server_of(a) < server_of(b));
  }
  return is_scheduled(a) & (!is_scheduled(b) | a_first);
}

EarliestDeadlineSchedule::EarliestDeadlineSchedule(std::span<const uint32_t> weights)
    : servers_(weights.size()),
      nodes_(2 * weights.size()),
      server_count_(static_cast<uint32_t>(weights.size())),
      scheduled_count_(server_count_) {
  for (ServerIndex server = 0; server < server_count_; ++server) {
    assert(weights[server] >= 1);
    const uint64_t phase = scaled_phase(server);
    const uint32_t weight = weights[server];
    set_step(server, weight);
    servers_[server].next = {phase / weight, static_cast<uint32_t>(phase % weight), weight};
    servers_[server].scheduled = true;
    leaf(server) = {servers_[server].next.key, server};
  }
  for (uint32_t index = server_count_; index-- > 1;) {
    const Node& left = nodes_[2 * index];
    const Node& right = nodes_[2 * index + 1];
    nodes_[index] = precedes(right, left) ? right : left;
  }
}

ServerIndex EarliestDeadlineSchedule::pick(const ExcludedServers& excluded) noexcept {
  if (scheduled_count_ == 0) {
    return kNoServer;
  }
  // Excluded servers that lead are set aside for this pick: at most one per excluded server,
  // each a path replay out and one back, and then the root is the earliest allowed server.
  ServerIndex set_aside[ExcludedServers::kCapacity];
  uint32_t set_aside_count = 0;
  while (is_scheduled(root()) && excluded.contains(server_of(root()))) {
    const ServerIndex server = server_of(root());
    set_aside[set_aside_count++] = server;
    leaf(server).server_and_state |= kUnscheduled;
    replay(server);
  }
  const ServerIndex chosen = is_scheduled(root()) ? take_root() : kNoServer;
  for (uint32_t i = 0; i < set_aside_count; ++i) {
    put_back(set_aside[i]);
  }
  return chosen;
}

void EarliestDeadlineSchedule::remove(ServerIndex server) noexcept {
  assert(servers_[server].scheduled);
  servers_[server].scheduled = false;
  --scheduled_count_;
  leaf(server).server_and_state |= kUnscheduled;
  replay(server);
}

void EarliestDeadlineSchedule::insert(ServerIndex server) noexcept {
  assert(!servers_[server].scheduled);
  servers_[server].scheduled = true;
  ++scheduled_count_;
  schedule_at_or_after(server,
                       first_deadline_at_or_after(server, servers_[server].next.weight, now_));
}

void EarliestDeadlineSchedule::set_weight(ServerIndex server, uint32_t weight) noexcept {
  assert(weight >= 1);
  set_step(server, weight);
  servers_[server].next = first_deadline_at_or_after(server, weight, now_);
  if (servers_[server].scheduled) {
    leaf(server).key = servers_[server].next.key;
    replay(server);
  }
}

// -1, 0 or 1 as a is before, at or after b; keys modulo 2^64 as in precedes(). With equal keys,
// compares remainder_a / weight_a with remainder_b / weight_b exactly.
int EarliestDeadlineSchedule::compare(const Deadline& a, const Deadline& b) noexcept {
  const int64_t key_difference = static_cast<int64_t>(a.key - b.key);
  if (key_difference != 0) {
    return key_difference < 0 ? -1 : 1;
  }
  const uint64_t a_scaled = uint64_t{a.remainder} * b.weight;
  const uint64_t b_scaled = uint64_t{b.remainder} * a.weight;
  return a_scaled < b_scaled ? -1 : (a_scaled == b_scaled ? 0 : 1);
}

// The server's first deadline at or after `time`, on the grid of `weight`. Its deadlines in the
// cycle holding `time` (which starts at key cycle_start) are cycle_start + (j·kCycle + phase) /
// weight for j = 0 … weight − 1, and j = weight is the first of the next cycle: take the least
// j with (j·kCycle + phase) / weight >= offset + time.remainder / time.weight.
EarliestDeadlineSchedule::Deadline EarliestDeadlineSchedule::first_deadline_at_or_after(
    ServerIndex server, uint32_t weight, const Deadline& time) noexcept {
  const uint64_t phase = scaled_phase(server);
  const uint64_t offset = time.key & (kCycle - 1);
  const uint64_t cycle_start = time.key - offset;
  const uint128 target = (uint128{offset} * time.weight + time.remainder) * weight;
  const uint128 phase_part = uint128{phase} * time.weight;
  const uint128 slot_width = uint128{kCycle} * time.weight;
  const uint128 slot =
      target <= phase_part ? 0 : (target - phase_part + slot_width - 1) / slot_width;
  const uint128 scaled = slot * kCycle + phase;
  return {cycle_start + static_cast<uint64_t>(scaled / weight),
          static_cast<uint32_t>(scaled % weight), weight};
}

void EarliestDeadlineSchedule::set_step(ServerIndex server, uint32_t weight) noexcept {
  servers_[server].step_key = kCycle / weight;
  servers_[server].step_remainder = static_cast<uint32_t>(kCycle % weight);
}

// Picks the root's server and moves it on to its next deadline, 1 / weight later.
ServerIndex EarliestDeadlineSchedule::take_root() noexcept {
  const ServerIndex chosen = server_of(root());
  Deadline& next = servers_[chosen].next;
  now_ = next;
  next.key += servers_[chosen].step_key;
  // remainder + step_remainder >= weight, written so as not to overflow 32 bits.
  const uint32_t room = next.weight - servers_[chosen].step_remainder;
  if (next.remainder >= room) {
    next.remainder -= room;
    ++next.key;
  } else {
    next.remainder += servers_[chosen].step_remainder;
  }
  leaf(chosen).key = next.key;
  replay(chosen);
  return chosen;
}

// Returns a server set aside for one pick. It keeps its turn, but owes at most one pick:
// a server excluded for long (at its connection limit, say) must not come back with a burst
// of the turns it missed, and must not fall outside the window the keys rely on.
void EarliestDeadlineSchedule::put_back(ServerIndex server) noexcept {
  Deadline last_slot_before_now =
      first_deadline_at_or_after(server, servers_[server].next.weight, now_);
  step_back(server, last_slot_before_now);
  schedule_at_or_after(server, last_slot_before_now);
}

void EarliestDeadlineSchedule::step_back(ServerIndex server, Deadline& deadline) const noexcept {
  const Server& state = servers_[server];
  deadline.key -= state.step_key;
  if (deadline.remainder < state.step_remainder) {
    deadline.remainder += deadline.weight - state.step_remainder;  // < weight: no overflow
    --deadline.key;
  } else {
    deadline.remainder -= state.step_remainder;
  }
}

// Puts a server that is out of the tree back in: at its own next deadline if that is at or
// after `earliest` (and within a cycle of it: a server parked for long may hold any stale
// key), else at `earliest`, which must be on its grid.
void EarliestDeadlineSchedule::schedule_at_or_after(ServerIndex server,
                                                    const Deadline& earliest) noexcept {
  Deadline& next = servers_[server].next;
  const bool own_is_later = next.key - earliest.key <= kCycle && compare(next, earliest) >= 0;
  if (!own_is_later) {
    next = earliest;
  }
  leaf(server) = {next.key, server};
  replay(server);
}

// Recomputes the winners on the path from the server's leaf to the root. Which side wins is
// close to a coin toss high in the tree, so the winner is selected with masks: a mispredicted
// branch per level cost twice the whole replay (measured at 1,000 servers of mixed weights).
// The two selects are written differently on purpose: written alike, GCC 12 pairs them into
// SSE registers, and the round trips between register files halve the speed.
void EarliestDeadlineSchedule::replay(ServerIndex server) noexcept {
  uint32_t index = server_count_ + server;
  uint64_t key = nodes_[index].key;
  uint64_t server_and_state = nodes_[index].server_and_state;
  while (index > 1) {
    const Node& sibling = nodes_[index ^ 1];
    const uint64_t take = -uint64_t{precedes(sibling, {key, server_and_state})};
    key = (key & ~take) | (sibling.key & take);
    server_and_state ^= (server_and_state ^ sibling.server_and_state) & take;
    index >>= 1;
    nodes_[index].key = key;
    nodes_[index].server_and_state = server_and_state;
  }
}

}  // namespace ballast::balance
