#pragma once
// A Clock whose monotonic time moves only when the test says so (STYLE 7), for tests of
// deadlines and idle timeouts. It starts at the real steady time so that values stay
// plausible next to ones a real clock made; wall time is the epoch. The test's thread
// advances it; any thread may read it (a component's own thread, such as the callback
// sender's, reads the clock too).

#include <atomic>
#include <chrono>

#include "runtime/base/clock.h"

namespace gust::test {

class ManualClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return now_.load(); }
  std::chrono::system_clock::time_point wallNow() const override { return std::chrono::system_clock::time_point{}; }
  // Only one thread advances it, so a load and a store are enough.
  void advance(std::chrono::milliseconds by) { now_.store(now_.load() + by); }

 private:
  std::atomic<std::chrono::steady_clock::time_point> now_{std::chrono::steady_clock::now()};
};

}  // namespace gust::test
