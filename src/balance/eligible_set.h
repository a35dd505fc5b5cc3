#pragma once
// The set of servers a policy may currently choose, as a bitset with a population count.
//
// Finding the next eligible server from a position costs one word per 64 servers, so a
// rotation over a mostly-eligible fleet is O(1) and over a mostly-ineligible one O(n / 64).
// Threading: owned by one policy instance, so by one worker.

#include <bit>
#include <cstdint>
#include <vector>

namespace ballast::balance {

class EligibleSet {
 public:
  // All `size` servers start eligible.
  explicit EligibleSet(uint32_t size)
      : words_((size + 63) / 64, ~uint64_t{0}), size_(size), count_(size) {
    if (size % 64 != 0 && !words_.empty()) {
      words_.back() = (uint64_t{1} << (size % 64)) - 1;
    }
  }

  uint32_t size() const noexcept { return size_; }
  uint32_t count() const noexcept { return count_; }
  bool contains(uint32_t index) const noexcept { return (words_[index / 64] >> (index % 64)) & 1; }

  // Returns true when the membership of `index` changed.
  bool set(uint32_t index, bool eligible) noexcept {
    if (contains(index) == eligible) {
      return false;
    }
    words_[index / 64] ^= uint64_t{1} << (index % 64);
    count_ += eligible ? 1 : -1;
    return true;
  }

  // The first eligible index at or after `from`, wrapping around; `size()` when none is eligible.
  uint32_t next_from(uint32_t from) const noexcept {
    if (count_ == 0) {
      return size_;
    }
    const uint32_t found = first_at_or_after(from);
    return found < size_ ? found : first_at_or_after(0);
  }

 private:
  uint32_t first_at_or_after(uint32_t from) const noexcept {
    if (from >= size_) {
      return size_;
    }
    uint32_t word_index = from / 64;
    uint64_t word = words_[word_index] & (~uint64_t{0} << (from % 64));
    while (word == 0) {
      if (++word_index == words_.size()) {
        return size_;
      }
      word = words_[word_index];
    }
    return word_index * 64 + static_cast<uint32_t>(std::countr_zero(word));
  }

  std::vector<uint64_t> words_;
  uint32_t size_;
  uint32_t count_;
};

}  // namespace ballast::balance
