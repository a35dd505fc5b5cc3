#pragma once
// One worker's event loop: edge-triggered epoll, a cached clock, timers, socket reads and writes
// made in batches (io_queue.h), and a queue of tasks posted from other threads.
//
// Owns: the epoll and eventfd descriptors, the timer wheel, the I/O queue, the posted-task
// queue.
// Threading: run() and everything it calls happen on the loop's own thread; post() and stop()
// may be called from any thread (they are the control side's only way in). The task queue is
// the one lock here, and it is never taken on the request path: only for control-plane
// messages (reloads, shutdown).
//
// Every descriptor is registered once, edge-triggered, for input, output and peer hang-up, with
// its handler as the epoll data: a connection's state changes never cost an epoll_ctl call. An
// edge-triggered handler must therefore read or write until EAGAIN, or remember that it still
// could.

#include <sys/epoll.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "core/io_queue.h"
#include "core/timer_wheel.h"

namespace ballast::core {

class IoHandler {
 public:
  // `events` is the epoll mask (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR).
  virtual void on_io(uint32_t events) noexcept = 0;

 protected:
  ~IoHandler() = default;
};

// An object the loop frees at the end of the current iteration rather than at once: another
// event of the same epoll batch may still name it (its handler must then see it is closed).
class Releasable {
 public:
  virtual void release() noexcept = 0;

 protected:
  ~Releasable() = default;

 private:
  friend class EventLoop;
  Releasable* next_release_ = nullptr;
};

// An object that asks to be called again on the next loop iteration, because it stopped
// short of all it could do to give other connections their turn.
class Resumable {
 public:
  virtual void resume() noexcept = 0;

 protected:
  ~Resumable() = default;

 private:
  friend class EventLoop;
  Resumable* next_resume_ = nullptr;
  bool resume_queued_ = false;
};

// Called by the loop just before it may sleep, on the loop's thread: the place to arm a timer
// only when there is something for it to do (a buffer to flush) instead of keeping one armed
// that wakes an idle loop.
class WaitHook {
 public:
  virtual void before_wait() noexcept = 0;

 protected:
  ~WaitHook() = default;
};

class EventLoop {
 public:
  // With `batch_io`, the I/O queue asks the kernel for an io_uring (io().active() says whether
  // it got one).
  explicit EventLoop(bool batch_io = false);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` (edge-triggered) until unwatch() or close (a descriptor never duplicated, as
  // every socket here, leaves the epoll set when closed: no unwatch() needed before closing).
  // Returns false if epoll refuses.
  bool watch(int fd, IoHandler& handler) noexcept;
  void unwatch(int fd) noexcept;

  // Runs until stop(). Each iteration: call the wait hook, wait for I/O until the earliest
  // timer's deadline (TimerWheel::next_deadline_ns), refresh the clock, dispatch, make the reads
  // and writes the handlers queued, fire timers, run posted tasks (each step followed by the
  // I/O it queued).
  // A loop with nothing to do and no timer sleeps until woken.
  void run();
  void stop() noexcept;                   // any thread
  void post(std::function<void()> task);  // any thread; runs on the loop thread

  // Calls object.resume() on the next iteration (once, however often it asks).
  void resume_soon(Resumable& object) noexcept;
  // Forgets a queued resume (the object is closing).
  void cancel_resume(Resumable& object) noexcept;

  // Calls object.release() once this iteration's events have all been dispatched.
  void release_later(Releasable& object) noexcept;

  // The hook (one; null for none) is called before each wait. Set before run(), on the thread
  // that will run the loop or before it starts.
  void set_wait_hook(WaitHook* hook) noexcept { wait_hook_ = hook; }

  uint64_t now_ns() const noexcept { return now_ns_; }
  TimerWheel& timers() noexcept { return timers_; }
  IoQueue& io() noexcept { return io_; }

 private:
  static constexpr int kIoPassesPerStep = 4;

  void flush_io() noexcept;
  void run_posted_tasks();
  void run_releases() noexcept;
  void run_resumes() noexcept;

  int epoll_fd_;
  int wakeup_fd_;  // an eventfd: post() and stop() write it to end a wait
  uint64_t now_ns_;
  TimerWheel timers_;
  IoQueue io_;
  bool stopping_ = false;  // loop thread only; set by a posted task
  Releasable* releases_ = nullptr;
  Resumable* resumes_ = nullptr;
  WaitHook* wait_hook_ = nullptr;

  std::mutex posted_mutex_;  // guards posted_ (control plane only, never the request path)
  std::vector<std::function<void()>> posted_;
};

}  // namespace ballast::core
