#include "core/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "core/clock.h"

namespace ballast::core {

EventLoop::EventLoop(bool batch_io)
    : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      wakeup_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      now_ns_(monotonic_now_ns()),
      timers_(now_ns_),
      io_(batch_io) {
  if (epoll_fd_ < 0 || wakeup_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "event loop");
  }
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.ptr = nullptr;  // the wakeup eventfd is the one descriptor without a handler
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wakeup_fd_, &event);
}

EventLoop::~EventLoop() {
  // Objects closed after the last iteration (idle pooled connections closed by their pool's
  // destructor at shutdown) still wait here to be freed.
  run_releases();
  close(wakeup_fd_);
  close(epoll_fd_);
}

bool EventLoop::watch(int fd, IoHandler& handler) noexcept {
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  event.data.ptr = &handler;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
}

void EventLoop::unwatch(int fd) noexcept {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::run() {
  std::array<epoll_event, 256> events;
  while (!stopping_) {
    if (wait_hook_ != nullptr) {
      wait_hook_->before_wait();
    }
    const bool busy = resumes_ != nullptr || io_.pending();
    const int timeout_ms = busy ? 0 : timers_.poll_timeout_ms(now_ns_);
    const int ready =
        epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    now_ns_ = monotonic_now_ns();
    bool woken = false;
    for (int i = 0; i < ready; ++i) {
      auto* handler = static_cast<IoHandler*>(events[i].data.ptr);
      if (handler == nullptr) {
        woken = true;
      } else {
        handler->on_io(events[i].events);
      }
    }
    run_resumes();
    flush_io();
    timers_.advance(now_ns_);
    flush_io();
    if (woken) {
      uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = read(wakeup_fd_, &count, sizeof(count));
      run_posted_tasks();
      flush_io();
    }
    run_releases();  // after the flushes: a queued operation's owner lives until its result
  }
  stopping_ = false;
}

// A request typically needs a read, then a write, per event: a few passes carry the iteration's
// events through; what is still queued after them waits for the next iteration, which does not
// sleep (a connection that streams does not keep the others waiting).
void EventLoop::flush_io() noexcept {
  for (int pass = 0; pass < kIoPassesPerStep && io_.pending(); ++pass) {
    io_.flush();
  }
}

void EventLoop::resume_soon(Resumable& object) noexcept {
  if (!object.resume_queued_) {
    object.resume_queued_ = true;
    object.next_resume_ = resumes_;
    resumes_ = &object;
  }
}

void EventLoop::cancel_resume(Resumable& object) noexcept {
  if (!object.resume_queued_) {
    return;
  }
  for (Resumable** link = &resumes_; *link != nullptr; link = &(*link)->next_resume_) {
    if (*link == &object) {
      *link = object.next_resume_;
      break;
    }
  }
  object.resume_queued_ = false;
}

void EventLoop::run_resumes() noexcept {
  Resumable* queued = resumes_;
  resumes_ = nullptr;  // objects resumed now may queue themselves again for the next iteration
  while (queued != nullptr) {
    Resumable* object = queued;
    queued = object->next_resume_;
    object->resume_queued_ = false;
    object->resume();
  }
}

void EventLoop::release_later(Releasable& object) noexcept {
  object.next_release_ = releases_;
  releases_ = &object;
}

void EventLoop::run_releases() noexcept {
  while (releases_ != nullptr) {
    Releasable* object = releases_;
    releases_ = object->next_release_;
    object->release();
  }
}

void EventLoop::stop() noexcept {
  try {
    post([this] { stopping_ = true; });
  } catch (...) {
    // Out of memory while queueing: nothing better to do than leave the loop running.
  }
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(wakeup_fd_, &one, sizeof(one));
}

void EventLoop::run_posted_tasks() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (std::function<void()>& task : tasks) {
    task();
  }
}

}  // namespace ballast::core
