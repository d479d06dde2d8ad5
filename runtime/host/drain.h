#pragma once
// The graceful part of `gust serve`'s stop: after the first SIGTERM or SIGINT the host
// stops accepting and waits for the HTTP requests in flight to finish, for at most its
// drain timeout. A timer looks every 10 ms; whether the deadline passed goes by the
// injected Clock.
//
// Owning thread: the loop thread. Owned by the Host; close() closes its timer and calls
// back, after which the owner may free it (also when it never started).

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <functional>

#include "runtime/base/clock.h"
#include "runtime/base/uv_close.h"

namespace gust {

class Drain {
 public:
  Drain(uv_loop_t* loop, const Clock& clock);
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  // Starts waiting. `in_flight` says how many requests still run; `done` is called once,
  // when none does or when `timeout` has passed with some still running.
  void start(std::chrono::milliseconds timeout, std::function<size_t()> in_flight, std::function<void()> done);
  // Calls `done` if nothing is in flight or the deadline passed by the clock. Called by the
  // timer, and by tests after they move an injected clock.
  void tick();
  void close(std::function<void()> on_closed);

 private:
  uv_loop_t* loop_;
  const Clock& clock_;
  uv_timer_t timer_{};
  CloseCounter closer_;
  std::chrono::steady_clock::time_point deadline_;
  std::function<size_t()> in_flight_;
  std::function<void()> done_;  // empty before start() and once called
};

}  // namespace gust
