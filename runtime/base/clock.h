#pragma once
// Time is injected (STYLE 7): timers, deadlines and idle reaping read a Clock, so tests can
// move time by hand. Owning thread: any; implementations must be thread-safe.

#include <chrono>
#include <cstdint>

namespace gust {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time for deadlines and durations.
  virtual std::chrono::steady_clock::time_point now() const = 0;
  // Wall-clock time for schedules and records.
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return std::chrono::steady_clock::now(); }
  std::chrono::system_clock::time_point wallNow() const override { return std::chrono::system_clock::now(); }
};

// Milliseconds from now by `clock` until `deadline`, 0 once it passed: the delay for a
// libuv timer that wakes a component to look at the clock again. Rounded up, so that the
// timer does not wake a fraction of a millisecond early only to be armed again.
inline uint64_t millisecondsUntil(const Clock& clock, std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock.now()).count();
  return left > 0 ? static_cast<uint64_t>(left) : 0;
}

}  // namespace gust
