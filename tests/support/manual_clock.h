#pragma once
// A Clock whose monotonic time moves only when the test says so (STYLE 7), for tests of
// deadlines and idle timeouts on the test's one thread. It starts at the real steady time
// so that values stay plausible next to ones a real clock made; wall time is the epoch.

#include <chrono>

#include "runtime/base/clock.h"

namespace gust::test {

class ManualClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return now_; }
  std::chrono::system_clock::time_point wallNow() const override { return std::chrono::system_clock::time_point{}; }
  void advance(std::chrono::milliseconds by) { now_ += by; }

 private:
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();
};

}  // namespace gust::test
