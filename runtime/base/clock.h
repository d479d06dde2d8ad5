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

}  // namespace gust
