#pragma once
// Runs a test's libuv loop with a deadline. uv_run blocks for as long as a handle is
// active, so a writer thread that never answers or a socket that never closes would hang
// the test; these fail it instead, naming what the loop was waiting for.

#include <doctest/doctest.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string_view>
#include <thread>

#include "tests/support/wait_for.h"

namespace gust::test {

// Runs `loop` until `done` holds, and returns true. Past `limit` it records a failure
// naming what it waited for and returns false: it does not end the test, so that a
// fixture's destructor may call it; a test body says REQUIRE(runLoopUntil(...)).
// An unreferenced timer wakes the loop at the deadline without keeping it alive; it is
// closed before returning (one more turn of the loop, which does not block, runs its close
// callback).
inline bool runLoopUntil(uv_loop_t* loop, std::string_view what, const std::function<bool()>& done,
                         std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  if (done()) return true;
  auto* alarm = new uv_timer_t;
  uv_timer_init(loop, alarm);
  // Due at the deadline, then every 10 ms: the deadline below is read from another clock.
  uv_update_time(loop);
  uv_timer_start(alarm, [](uv_timer_t*) {}, static_cast<uint64_t>(limit.count()), 10);
  uv_unref(reinterpret_cast<uv_handle_t*>(alarm));
  auto deadline = std::chrono::steady_clock::now() + limit;
  bool held = true;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      FAIL_CHECK(timedOut(what, limit));
      held = false;
      break;
    }
    // 0: nothing on the loop can make progress, so `done` waits on another thread.
    if (uv_run(loop, UV_RUN_ONCE) == 0 && !done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  uv_close(reinterpret_cast<uv_handle_t*>(alarm), [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_run(loop, UV_RUN_NOWAIT);
  return held;
}

// What uv_run(loop, UV_RUN_DEFAULT) does, with a deadline: runs `loop` until no handle or
// request is left on it. Returns false (and records a failure) past `limit`.
inline bool runLoopToEnd(uv_loop_t* loop, std::string_view what,
                         std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  return runLoopUntil(loop, what, [loop] { return uv_loop_alive(loop) == 0; }, limit);
}

// Runs `loop` while `client` runs on a thread of its own, until it returns; false (and a
// recorded failure) past `limit`, after which the thread is still joined, so `client` must
// give up by itself (socket timeouts).
inline bool runLoopWhile(uv_loop_t* loop, const std::function<void()>& client,
                         std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  std::atomic<bool> finished{false};
  uv_async_t done{};
  uv_async_init(loop, &done, [](uv_async_t*) {});  // only wakes the loop
  std::thread t([&] {
    client();
    finished = true;
    uv_async_send(&done);
  });
  bool held = runLoopUntil(loop, "the client thread to finish", [&] { return finished.load(); }, limit);
  t.join();
  uv_close(reinterpret_cast<uv_handle_t*>(&done), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return held;
}

}  // namespace gust::test
