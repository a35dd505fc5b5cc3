#include "core/timer_wheel.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace ballast::core {
namespace {

constexpr uint64_t kMs = 1'000'000;

struct Recorder final : Timer::Handler {
  std::vector<int> fired;
  int id = 0;
  void on_timer(Timer& /*timer*/) noexcept override { fired.push_back(id); }
};

TEST(TimerWheel, FiresAtOrAfterTheDeadlineNeverBefore) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer timer(recorder);
  timer.arm(wheel, 100 * kMs);
  wheel.advance(99 * kMs);
  EXPECT_TRUE(recorder.fired.empty());
  wheel.advance(100 * kMs);
  EXPECT_EQ(recorder.fired.size(), 1u);
  EXPECT_FALSE(timer.armed());
  EXPECT_EQ(wheel.armed_count(), 0u);
}

TEST(TimerWheel, CancelledTimerNeverFires) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer timer(recorder);
  timer.arm(wheel, 10 * kMs);
  timer.cancel();
  wheel.advance(1000 * kMs);
  EXPECT_TRUE(recorder.fired.empty());
}

TEST(TimerWheel, ExtendedDeadlineFiresOnlyAtTheNewDeadline) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer timer(recorder);
  timer.arm(wheel, 10 * kMs);
  timer.arm(wheel, 50 * kMs);  // an idle timeout refreshed by activity
  wheel.advance(20 * kMs);
  EXPECT_TRUE(recorder.fired.empty());
  EXPECT_TRUE(timer.armed());
  wheel.advance(50 * kMs);
  EXPECT_EQ(recorder.fired.size(), 1u);
}

TEST(TimerWheel, EarlierDeadlineMovesTheTimer) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer timer(recorder);
  timer.arm(wheel, 500 * kMs);
  timer.arm(wheel, 20 * kMs);
  wheel.advance(20 * kMs);
  EXPECT_EQ(recorder.fired.size(), 1u);
}

TEST(TimerWheel, DeadlinesBeyondOneRevolutionWaitTheirTurn) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer timer(recorder);
  const uint64_t far = 3 * TimerWheel::kSlots * TimerWheel::kTickNs + 7 * kMs;
  timer.arm(wheel, far);
  for (uint64_t now = 0; now < far; now += 100 * kMs) {
    wheel.advance(now);
    ASSERT_TRUE(recorder.fired.empty()) << now;
  }
  wheel.advance(far);
  EXPECT_EQ(recorder.fired.size(), 1u);
}

TEST(TimerWheel, LongStallFiresEveryDueTimerOnce) {
  TimerWheel wheel(0);
  Recorder a;
  Recorder b;
  a.id = 1;
  b.id = 2;
  Timer first(a);
  Timer second(b);
  first.arm(wheel, 10 * kMs);
  second.arm(wheel, 9'000 * kMs);
  wheel.advance(60'000 * kMs);  // a minute without a tick
  EXPECT_EQ(a.fired.size(), 1u);
  EXPECT_EQ(b.fired.size(), 1u);
}

// A thousand connections reaching one deadline are closed kFiredPerAdvance per loop iteration,
// the loop not sleeping between, and slots after the burst's are still visited.
TEST(TimerWheel, ABurstOfDueTimersFiresOverSeveralAdvances) {
  TimerWheel wheel(0);
  Recorder recorder;
  std::vector<std::unique_ptr<Timer>> burst;
  for (int i = 0; i < 1000; ++i) {
    burst.push_back(std::make_unique<Timer>(recorder));
    burst.back()->arm(wheel, 100 * kMs);
  }
  Recorder later;
  later.id = 1;
  Timer after_burst(later);
  after_burst.arm(wheel, 120 * kMs);
  size_t advances = 0;
  while (wheel.armed_count() != 0 && advances < 100) {
    wheel.advance(200 * kMs);
    ++advances;
    ASSERT_LE(recorder.fired.size() + later.fired.size(), advances * TimerWheel::kFiredPerAdvance);
    if (wheel.armed_count() != 0) {
      EXPECT_EQ(wheel.poll_timeout_ms(200 * kMs), 0);
    }
  }
  EXPECT_EQ(recorder.fired.size(), 1000u);
  EXPECT_EQ(later.fired.size(), 1u);
  EXPECT_EQ(advances, (1001 + TimerWheel::kFiredPerAdvance - 1) / TimerWheel::kFiredPerAdvance);
}

// A handler that cancels another due timer of the same slot, as a session closing its upstream
// connection would.
struct Canceller final : Timer::Handler {
  Timer* victim = nullptr;
  int fired = 0;
  void on_timer(Timer& /*timer*/) noexcept override {
    ++fired;
    victim->cancel();
  }
};

TEST(TimerWheel, HandlerMayCancelAnotherDueTimer) {
  TimerWheel wheel(0);
  Canceller first_handler;
  Canceller second_handler;
  Timer first(first_handler);
  Timer second(second_handler);
  first_handler.victim = &second;
  second_handler.victim = &first;
  first.arm(wheel, 10 * kMs);
  second.arm(wheel, 10 * kMs);
  wheel.advance(10 * kMs);
  EXPECT_EQ(first_handler.fired + second_handler.fired, 1);
  EXPECT_EQ(wheel.armed_count(), 0u);
}

struct Rearmer final : Timer::Handler {
  TimerWheel* wheel = nullptr;
  int fired = 0;
  void on_timer(Timer& timer) noexcept override {
    if (++fired < 3) {
      timer.arm(*wheel, 0);  // already due: fires on the next advance, not in a loop now
    }
  }
};

TEST(TimerWheel, RearmingAnExpiredDeadlineFiresOnTheNextAdvance) {
  TimerWheel wheel(0);
  Rearmer handler;
  handler.wheel = &wheel;
  Timer timer(handler);
  timer.arm(wheel, 4 * kMs);
  wheel.advance(4 * kMs);
  EXPECT_EQ(handler.fired, 1);
  wheel.advance(8 * kMs);
  EXPECT_EQ(handler.fired, 2);
}

TEST(TimerWheel, PollTimeoutIsMinusOneWithoutTimers) {
  TimerWheel wheel(0);
  EXPECT_EQ(wheel.poll_timeout_ms(0), -1);
  Recorder recorder;
  Timer timer(recorder);
  timer.arm(wheel, 100 * kMs);
  EXPECT_GE(wheel.poll_timeout_ms(0), 100);
  EXPECT_LE(wheel.poll_timeout_ms(0), 101);
  timer.cancel();
  EXPECT_EQ(wheel.poll_timeout_ms(0), -1);
}

// An idle loop sleeps until its earliest deadline, not until the next 4 ms tick.
TEST(TimerWheel, PollTimeoutReachesTheEarliestDeadline) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer late(recorder);
  Timer early(recorder);
  late.arm(wheel, 3'000 * kMs);
  early.arm(wheel, 500 * kMs);
  EXPECT_GE(wheel.poll_timeout_ms(0), 500);
  EXPECT_LE(wheel.poll_timeout_ms(0), 501);
  wheel.advance(501 * kMs);
  ASSERT_EQ(recorder.fired.size(), 1u);
  EXPECT_GE(wheel.poll_timeout_ms(501 * kMs), 2'499);
  EXPECT_LE(wheel.poll_timeout_ms(501 * kMs), 2'500);
}

TEST(TimerWheel, PollTimeoutWrapsAroundTheWheel) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer timer(recorder);
  wheel.advance(3'000 * kMs);     // the current slot is far into the wheel
  timer.arm(wheel, 4'500 * kMs);  // its slot comes after the wheel wraps
  EXPECT_GE(wheel.poll_timeout_ms(3'000 * kMs), 1'500);
  EXPECT_LE(wheel.poll_timeout_ms(3'000 * kMs), 1'501);
}

TEST(TimerWheel, ADeadlineBeyondARevolutionWakesTheLoopAtMostOncePerRevolution) {
  TimerWheel wheel(0);
  Recorder recorder;
  Timer timer(recorder);
  timer.arm(wheel, 60'000 * kMs);
  const int first = wheel.poll_timeout_ms(0);  // its slot: within the first revolution (~4 s)
  EXPECT_LE(first, 4'100);
  wheel.advance(static_cast<uint64_t>(first) * kMs);
  EXPECT_TRUE(recorder.fired.empty());
  EXPECT_GE(wheel.poll_timeout_ms(static_cast<uint64_t>(first) * kMs), 4'000);  // a revolution
}

}  // namespace
}  // namespace ballast::core
