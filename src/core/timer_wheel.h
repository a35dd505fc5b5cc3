#pragma once
// Timers for one event loop: a hashed timing wheel of intrusive timers.
//
// Owns: the slots; each armed Timer is linked into the slot of its deadline's tick. Timers are
// embedded in the objects they time (connections), so arming and cancelling never allocate.
// Threading: belongs to one loop thread.
// Invariant: an armed timer sits in the slot of a tick at or before its deadline, so it is
// never seen late by more than one tick.
// Cost: arm and cancel O(1). Moving a deadline later (an idle timeout refreshed on every read)
// only writes the new deadline; the timer is re-slotted when its old slot comes round, as
// nginx and Linux's timer wheel avoid re-linking on every refresh. Each tick visits one slot;
// a timer further away than one revolution is passed over once per revolution.
// Resolution: kTickNs (4 ms): timeouts fire up to one tick late, never early (later still only
// when more than kFiredPerAdvance fall due at once).

#include <cstddef>
#include <cstdint>

namespace ballast::core {

class TimerWheel;

class Timer {
 public:
  // What a timer calls when it fires. The callee may re-arm the timer or destroy its owner.
  class Handler {
   public:
    virtual void on_timer(Timer& timer) noexcept = 0;

   protected:
    ~Handler() = default;
  };

  explicit Timer(Handler& handler) noexcept : handler_(&handler) {}
  ~Timer() { cancel(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void arm(TimerWheel& wheel, uint64_t deadline_ns) noexcept;
  void cancel() noexcept;
  bool armed() const noexcept { return wheel_ != nullptr; }
  uint64_t deadline_ns() const noexcept { return deadline_ns_; }

 private:
  friend class TimerWheel;
  void unlink() noexcept;

  Handler* handler_;
  TimerWheel* wheel_ = nullptr;
  uint64_t deadline_ns_ = 0;
  uint32_t slot_ = 0;  // the list it is on: a slot index, or TimerWheel::kDueList
  Timer* prev_ = nullptr;
  Timer* next_ = nullptr;
};

class TimerWheel {
 public:
  static constexpr uint64_t kTickNs = 4'000'000;
  static constexpr uint32_t kSlots = 1024;  // one revolution: about 4 s

  explicit TimerWheel(uint64_t now_ns) noexcept : current_tick_(now_ns / kTickNs) {}
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Fires the timers whose deadline is at or before now_ns, at most kFiredPerAdvance of them:
  // a thousand connections reaching one deadline together are closed over several loop
  // iterations, between other connections' events, rather than in one stall. What is left waits
  // for the next advance (poll_timeout_ms() is 0 meanwhile).
  void advance(uint64_t now_ns) noexcept;
  static constexpr size_t kFiredPerAdvance = 16;

  size_t armed_count() const noexcept { return armed_count_; }
  // How long the loop may sleep before the next tick that could fire a timer; -1 = no timers.
  // It is the first occupied slot's tick, found in a bitmap of occupied slots (16 words), so an
  // idle loop sleeps until its next deadline (or at most one revolution) instead of waking at
  // every tick.
  int poll_timeout_ms(uint64_t now_ns) const noexcept;

 private:
  friend class Timer;
  // The list of a slot being fired. Timers move there before any handler runs, so a handler
  // may cancel or re-arm any timer, itself included, while the slot is processed.
  static constexpr uint32_t kDueList = kSlots;

  void link(Timer& timer) noexcept;
  // Fires or re-slots what is on the due list until it is empty (true) or `fired` reaches
  // kFiredPerAdvance (false: the rest stays due).
  bool fire_due(uint64_t now_ns, size_t& fired) noexcept;
  Timer*& head_of(uint32_t list) noexcept { return list == kDueList ? due_ : slots_[list]; }
  void mark_empty_if(uint32_t list) noexcept;
  // Ticks from the current one to the first occupied slot's (< kSlots); kSlots if none.
  uint32_t ticks_to_occupied_slot() const noexcept;

  Timer* slots_[kSlots] = {};
  static constexpr uint32_t kWordBits = 64;
  uint64_t occupied_[kSlots / kWordBits] = {};  // bit s: slots_[s] is not empty
  Timer* due_ = nullptr;
  uint64_t current_tick_;  // every tick before this one has been processed
  size_t armed_count_ = 0;
};

}  // namespace ballast::core
