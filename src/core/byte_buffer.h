#pragma once
// A contiguous byte buffer with a read end and a write end, for socket I/O.
//
// Owns: one heap block, allocated when the buffer is created or grown, never per request: a
// connection keeps its buffers for its whole life (and pooled connections beyond it).
// Threading: one worker's.
// Layout: [consumed | readable data | free space]. compact() moves the data to the front when
// the free space runs short, so a keep-alive connection reuses the same block indefinitely.

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace ballast::core {

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t capacity) : data_(new char[capacity]), capacity_(capacity) {}

  std::string_view readable() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  size_t capacity() const noexcept { return capacity_; }

  // Free space after the data; call compact() first to make it as large as it can be.
  std::span<char> writable() noexcept { return {data_.get() + end_, capacity_ - end_}; }
  // The readable bytes, to rewrite in place (a field value of fixed length, say).
  std::span<char> readable_in_place() noexcept { return {data_.get() + begin_, end_ - begin_}; }
  void commit(size_t bytes) noexcept { end_ += bytes; }
  void consume(size_t bytes) noexcept {
    begin_ += bytes;
    if (begin_ == end_) {
      begin_ = end_ = 0;  // empty: start over at the front for free
    }
  }
  bool full() const noexcept { return begin_ == 0 && end_ == capacity_; }

  void compact() noexcept {
    if (begin_ != 0) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
  }

  // Appends if it fits; false otherwise (nothing written).
  bool append(std::string_view bytes) noexcept {
    if (capacity_ - end_ < bytes.size()) {
      compact();
      if (capacity_ - end_ < bytes.size()) {
        return false;
      }
    }
    std::memcpy(data_.get() + end_, bytes.data(), bytes.size());
    end_ += bytes.size();
    return true;
  }

  // Grows the block (rare: a request head larger than the usual buffer), keeping the data.
  void grow(size_t capacity) {
    if (capacity <= capacity_) {
      return;
    }
    std::unique_ptr<char[]> bigger(new char[capacity]);
    std::memcpy(bigger.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  void clear() noexcept { begin_ = end_ = 0; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace ballast::core
