#include "core/timer_wheel.h"

#include <algorithm>

namespace ballast::core {

void Timer::arm(TimerWheel& wheel, uint64_t deadline_ns) noexcept {
  if (wheel_ == &wheel && deadline_ns >= deadline_ns_) {
    deadline_ns_ = deadline_ns;  // later: stays in its earlier slot, re-slotted when visited
    return;
  }
  cancel();
  deadline_ns_ = deadline_ns;
  wheel_ = &wheel;
  wheel.link(*this);
}

void Timer::cancel() noexcept {
  if (wheel_ != nullptr) {
    unlink();
    --wheel_->armed_count_;
    wheel_ = nullptr;
  }
}

void Timer::unlink() noexcept {
  if (prev_ != nullptr) {
    prev_->next_ = next_;
  } else {
    wheel_->head_of(slot_) = next_;
    wheel_->mark_empty_if(slot_);
  }
  if (next_ != nullptr) {
    next_->prev_ = prev_;
  }
  prev_ = next_ = nullptr;
}

TimerWheel::~TimerWheel() {
  for (uint32_t list = 0; list <= kDueList; ++list) {
    while (head_of(list) != nullptr) {
      head_of(list)->cancel();
    }
  }
}

void TimerWheel::link(Timer& timer) noexcept {
  // A deadline already past goes into the current slot, so the next advance fires it.
  const uint64_t tick = std::max(timer.deadline_ns_ / kTickNs, current_tick_);
  timer.slot_ = static_cast<uint32_t>(tick % kSlots);
  Timer*& head = slots_[timer.slot_];
  occupied_[timer.slot_ / kWordBits] |= uint64_t{1} << (timer.slot_ % kWordBits);
  timer.prev_ = nullptr;
  timer.next_ = head;
  if (head != nullptr) {
    head->prev_ = &timer;
  }
  head = &timer;
  ++armed_count_;
}

void TimerWheel::advance(uint64_t now_ns) noexcept {
  size_t fired = 0;
  if (!fire_due(now_ns, fired)) {
    return;  // what a burst left over from the last advance is not all fired yet
  }
  const uint64_t now_tick = now_ns / kTickNs;
  // After a long stall, one revolution visits every slot; more would repeat the same slots.
  const uint64_t first_tick =
      std::max(current_tick_, now_tick >= kSlots ? now_tick - kSlots + 1 : 0);
  for (uint64_t tick = first_tick; tick <= now_tick; ++tick) {
    const uint32_t slot = static_cast<uint32_t>(tick % kSlots);
    due_ = slots_[slot];
    slots_[slot] = nullptr;
    mark_empty_if(slot);
    for (Timer* timer = due_; timer != nullptr; timer = timer->next_) {
      timer->slot_ = kDueList;
    }
    current_tick_ = tick + 1;
    if (!fire_due(now_ns, fired)) {
      return;
    }
  }
  current_tick_ = std::max(current_tick_, now_tick + 1);
}

bool TimerWheel::fire_due(uint64_t now_ns, size_t& fired) noexcept {
  while (due_ != nullptr) {
    if (fired == kFiredPerAdvance) {
      return false;
    }
    Timer& timer = *due_;
    timer.cancel();
    if (timer.deadline_ns_ <= now_ns) {
      ++fired;
      timer.handler_->on_timer(timer);  // may re-arm or destroy the timer
    } else {
      timer.wheel_ = this;  // not due yet: a refreshed deadline or a later revolution
      link(timer);
    }
  }
  return true;
}

void TimerWheel::mark_empty_if(uint32_t list) noexcept {
  if (list != kDueList && slots_[list] == nullptr) {
    occupied_[list / kWordBits] &= ~(uint64_t{1} << (list % kWordBits));
  }
}

uint32_t TimerWheel::ticks_to_occupied_slot() const noexcept {
  const uint32_t start = static_cast<uint32_t>(current_tick_ % kSlots);
  constexpr uint32_t kWords = kSlots / kWordBits;
  // The start word's bits from `start` on, the other words in order, then the start word's
  // bits below `start` (the end of the revolution).
  for (uint32_t step = 0; step <= kWords; ++step) {
    const uint32_t word = (start / kWordBits + step) % kWords;
    uint64_t bits = occupied_[word];
    if (step == 0) {
      bits &= ~uint64_t{0} << (start % kWordBits);
    } else if (step == kWords) {
      bits &= (uint64_t{1} << (start % kWordBits)) - 1;
    }
    if (bits != 0) {
      const uint32_t slot = word * kWordBits + static_cast<uint32_t>(__builtin_ctzll(bits));
      return (slot + kSlots - start) % kSlots;
    }
  }
  return kSlots;
}

int TimerWheel::poll_timeout_ms(uint64_t now_ns) const noexcept {
  if (armed_count_ == 0) {
    return -1;
  }
  if (due_ != nullptr) {
    return 0;
  }
  const uint64_t next_tick_ns = (current_tick_ + ticks_to_occupied_slot()) * kTickNs;
  return next_tick_ns <= now_ns ? 0 : static_cast<int>((next_tick_ns - now_ns) / 1'000'000 + 1);
}

}  // namespace ballast::core
