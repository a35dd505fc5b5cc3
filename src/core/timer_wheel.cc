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
  timer.prev_ = nullptr;
  timer.next_ = head;
  if (head != nullptr) {
    head->prev_ = &timer;
  }
  head = &timer;
  ++armed_count_;
}

void TimerWheel::advance(uint64_t now_ns) noexcept {
  const uint64_t now_tick = now_ns / kTickNs;
  // After a long stall, one revolution visits every slot; more would repeat the same slots.
  const uint64_t first_tick =
      std::max(current_tick_, now_tick >= kSlots ? now_tick - kSlots + 1 : 0);
  for (uint64_t tick = first_tick; tick <= now_tick; ++tick) {
    const uint32_t slot = static_cast<uint32_t>(tick % kSlots);
    due_ = slots_[slot];
    slots_[slot] = nullptr;
    for (Timer* timer = due_; timer != nullptr; timer = timer->next_) {
      timer->slot_ = kDueList;
    }
    current_tick_ = tick + 1;
    while (due_ != nullptr) {
      Timer& timer = *due_;
      timer.cancel();
      if (timer.deadline_ns_ <= now_ns) {
        timer.handler_->on_timer(timer);  // may re-arm or destroy the timer
      } else {
        timer.wheel_ = this;  // not due yet: a refreshed deadline or a later revolution
        link(timer);
      }
    }
  }
  current_tick_ = std::max(current_tick_, now_tick + 1);
}

int TimerWheel::poll_timeout_ms(uint64_t now_ns) const noexcept {
  if (armed_count_ == 0) {
    return -1;
  }
  const uint64_t next_tick_ns = current_tick_ * kTickNs;
  return next_tick_ns <= now_ns ? 0 : static_cast<int>((next_tick_ns - now_ns) / 1'000'000 + 1);
}

}  // namespace ballast::core
