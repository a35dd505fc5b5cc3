#include "balance/weight_tree.h"

#include <algorithm>
#include <bit>

namespace ballast::balance {
namespace {

uint32_t lowest_bit(uint32_t position) {
  return position & (~position + 1);
}

// For branch-free selection: a draw's comparisons go either way at random, so branches on them
// would be mispredicted half the time, which costs more than the work they guard.
uint64_t all_ones_if(bool condition) {
  return uint64_t{0} - uint64_t{condition};
}

}  // namespace

// Intervals a descent must not land in (the excluded servers', and for a second draw the first
// server's), kept sorted by start. The offset is drawn in the length that remains and mapped
// back onto [0, total) by stepping over every hole at or below it, lowest first, so a single
// descent lands on a qualifying server whenever there is one.
class WeightTree::Holes {
 public:
  // Holes must not overlap: each server is added at most once.
  void add(uint64_t start, uint32_t weight) noexcept {
    if (weight == 0) {
      return;
    }
    uint32_t i = size_;
    for (; i > 0 && holes_[i - 1].start > start; --i) {
      holes_[i] = holes_[i - 1];
    }
    holes_[i] = {start, weight};
    ++size_;
    removed_ += weight;
  }

  uint64_t removed() const noexcept { return removed_; }

  // `offset` in [0, total - removed()) to the same position in [0, total) with holes skipped.
  // Once a hole starts past the offset so do all later ones, so the loop needs no early exit,
  // and without one it has no branch to mispredict.
  uint64_t skip(uint64_t offset) const noexcept {
    for (uint32_t i = 0; i < size_; ++i) {
      offset += holes_[i].weight & all_ones_if(offset >= holes_[i].start);
    }
    return offset;
  }

 private:
  struct Hole {
    uint64_t start;
    uint64_t weight;
  };
  Hole holes_[ExcludedServers::kCapacity + 1];  // only [0, size_) is ever read
  uint32_t size_ = 0;
  uint64_t removed_ = 0;
};

WeightTree::WeightTree(const std::vector<uint32_t>& weights)
    : padded_size_(std::bit_ceil(static_cast<uint32_t>(weights.size()))),
      tree_(padded_size_ + 1, 0),
      counted_(weights) {
  // O(n) build: each node passes its sum on to its parent once.
  for (uint32_t position = 1; position <= padded_size_; ++position) {
    if (position <= counted_.size()) {
      tree_[position] += counted_[position - 1];
      total_ += counted_[position - 1];
      max_weight_ = std::max(max_weight_, counted_[position - 1]);
    }
    const uint32_t parent = position + lowest_bit(position);
    if (parent <= padded_size_) {
      tree_[parent] += tree_[position];
    }
  }
}

void WeightTree::set(ServerIndex server, uint32_t weight) noexcept {
  // Unsigned wrap-around makes adding the difference right in both directions.
  const uint64_t delta = uint64_t{weight} - uint64_t{counted_[server]};
  counted_[server] = weight;
  total_ += delta;
  max_weight_ = std::max(max_weight_, weight);
  for (uint32_t position = server + 1; position <= padded_size_; position += lowest_bit(position)) {
    tree_[position] += delta;
  }
}

uint64_t WeightTree::start(ServerIndex server) const noexcept {
  uint64_t sum = 0;
  for (uint32_t position = server; position > 0; position -= lowest_bit(position)) {
    sum += tree_[position];
  }
  return sum;
}

WeightTree::Interval WeightTree::find(uint64_t offset) const noexcept {
  // Binary lifting from the root's children down: at each level, step over the node when its
  // whole range ends at or before what is left of `offset`. What remains is the first server
  // whose interval reaches past it. The root, tree_[padded_size_], is the total, which is never
  // stepped over; the padding makes every level's node exist.
  uint32_t position = 0;
  uint64_t remaining = offset;
  for (uint32_t step = padded_size_ / 2; step != 0; step /= 2) {
    const uint64_t node = tree_[position + step];
    const uint64_t take = all_ones_if(node <= remaining);
    position += step & static_cast<uint32_t>(take);
    remaining -= node & take;
  }
  return {position, offset - remaining};
}

ServerIndex WeightTree::sample(core::Random& random,
                               const ExcludedServers& excluded) const noexcept {
  if (total_ == 0) {
    return kNoServer;
  }
  const ServerIndex proposed = propose(random, excluded, kNoServer);
  return proposed != kNoServer ? proposed : descend(random, excluded_holes(excluded));
}

WeightTree::Pair WeightTree::sample_two(core::Random& random,
                                        const ExcludedServers& excluded) const noexcept {
  const ServerIndex first = sample(random, excluded);
  if (first == kNoServer) {
    return {kNoServer, kNoServer};
  }
  // Rejecting the first server among the proposals, or cutting its interval out of the
  // descent, conditions the second draw on it: exactly a draw without replacement.
  const ServerIndex proposed = propose(random, excluded, first);
  if (proposed != kNoServer) {
    return {first, proposed};
  }
  Holes holes = excluded_holes(excluded);
  holes.add(start(first), counted_[first]);
  return {first, descend(random, holes)};
}

ServerIndex WeightTree::propose(core::Random& random, const ExcludedServers& excluded,
                                ServerIndex also_excluded) const noexcept {
  for (uint32_t proposal = 0; proposal < kProposals; ++proposal) {
    const auto server = static_cast<ServerIndex>(random.below(size()));
    const bool accepted = random.below(max_weight_) < counted_[server];
    if (accepted && server != also_excluded && !excluded.contains(server)) {
      return server;
    }
  }
  return kNoServer;
}

ServerIndex WeightTree::descend(core::Random& random, const Holes& holes) const noexcept {
  const uint64_t remaining = total_ - holes.removed();
  return remaining == 0 ? kNoServer : find(holes.skip(random.below(remaining))).server;
}

// The excluded servers' intervals. An index beyond the tree can come from a request that
// outlived a membership change (its tried servers were numbered in the old set): it has no
// interval here.
WeightTree::Holes WeightTree::excluded_holes(const ExcludedServers& excluded) const noexcept {
  Holes holes;
  for (uint32_t i = 0; i < excluded.size(); ++i) {
    const ServerIndex server = excluded[i];
    if (server < size()) {
      holes.add(start(server), counted_[server]);
    }
  }
  return holes;
}

}  // namespace ballast::balance
