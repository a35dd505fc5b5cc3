#pragma once
// Weighted random sampling over a server set whose weights and eligibility change between
// picks: a Fenwick (binary indexed) tree over each server's *counted* weight — its weight while
// eligible, 0 while not.
//
// Owns: the counted weights, their Fenwick partial sums, and an upper bound on the counted
// weights. Laid end to end, the counted weights cut [0, total()) into one interval per server;
// a uniform offset in that range lands in a server's interval with probability weight / total,
// and a server counted 0 has an empty interval.
// Invariant: tree_[i] (1-based) is the sum of counted_[i - lowbit(i), i), over the servers
// padded with zeros to a power of two; total_ is their sum; max_weight_ >= every counted weight.
// Threading: owned by one policy instance, so by one worker; nothing is shared.
//
// How a draw is made, and why. A descent of the tree costs about 4 cycles per level of
// dependent work (log2 n levels: 10 at 1,000 servers, 14 at 10,000), which alone would use
// most of a p2c pick's budget. So a draw first makes up to kProposals proposals: a server
// chosen uniformly, accepted with probability weight / max_weight_ (rejection sampling; an
// ineligible or excluded server is always rejected). An accepted proposal has exactly the
// weighted distribution, and so has the descent the draw falls back to when every proposal is
// rejected, so the mixture is exact too. With weights within a factor of 4 of each other and most
// servers eligible, 1 or 2 proposals usually suffice; the descent guarantees a server whenever
// one qualifies, with no unbounded loop.
//
// Cost: set() and start() O(log n); find() O(log n); sample() and sample_two() O(1) expected
// (at most kProposals proposals per server drawn), O(log n) when they fall back, plus O(log n)
// per excluded server then. No allocation after construction. 12 to 20 bytes per server (the
// partial sums are padded to a power of two).
// Source: P. Fenwick, "A new data structure for cumulative frequency tables" (1994) for the tree
// and its descent; rejection sampling as in von Neumann (1951).

#include <cstdint>
#include <vector>

#include "balance/policy.h"
#include "core/random.h"

namespace ballast::balance {

class WeightTree {
 public:
  // Proposals per server drawn before falling back to the descent.
  static constexpr uint32_t kProposals = 4;

  // A server's interval of [0, total()): it starts at `start` and is weight(server) long.
  struct Interval {
    ServerIndex server;
    uint64_t start;
  };
  struct Pair {
    ServerIndex first;
    ServerIndex second;
  };

  // Every server counted with its weight.
  explicit WeightTree(const std::vector<uint32_t>& weights);

  uint32_t size() const noexcept { return static_cast<uint32_t>(counted_.size()); }
  uint64_t total() const noexcept { return total_; }
  uint32_t weight(ServerIndex server) const noexcept { return counted_[server]; }

  // Counts `server` with `weight`; 0 takes it out of sampling. O(log n).
  void set(ServerIndex server, uint32_t weight) noexcept;

  // Sum of the counted weights before `server`. O(log n).
  uint64_t start(ServerIndex server) const noexcept;

  // The interval holding `offset`. Precondition: offset < total(). Never returns a server
  // counted 0, since its interval is empty.
  Interval find(uint64_t offset) const noexcept;

  // One server, drawn with probability proportional to its counted weight among those not in
  // `excluded`; kNoServer when they all count 0.
  ServerIndex sample(core::Random& random, const ExcludedServers& excluded) const noexcept;

  // Two distinct servers drawn the same way, without replacement: the second with probability
  // weight / (remaining total - weight of the first). `second` is kNoServer when only one server
  // qualifies, both are when none does.
  Pair sample_two(core::Random& random, const ExcludedServers& excluded) const noexcept;

 private:
  class Holes;

  ServerIndex propose(core::Random& random, const ExcludedServers& excluded,
                      ServerIndex also_excluded) const noexcept;
  ServerIndex descend(core::Random& random, const Holes& holes) const noexcept;
  Holes excluded_holes(const ExcludedServers& excluded) const noexcept;

  uint32_t padded_size_;        // size() rounded up to a power of two; servers past size() count 0
  std::vector<uint64_t> tree_;  // 1-based Fenwick partial sums; tree_[0] unused
  std::vector<uint32_t> counted_;  // weight while eligible, 0 while not
  uint64_t total_ = 0;
  // Raised with any larger weight, never lowered: lowering it would need a scan, and a bound
  // that is too high only makes proposals fail more often (the fallback keeps draws exact).
  uint32_t max_weight_ = 0;
};

}  // namespace ballast::balance
