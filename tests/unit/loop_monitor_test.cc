#include "runtime/observe/loop_monitor.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>

#include "tests/support/run_loop.h"

namespace gust {
namespace {

// One timer callback that keeps the loop busy for `spin_ms`, after a wait of `wait_ms`.
struct Spinner {
  uv_timer_t timer{};
  uint64_t spin_ms = 0;
  int firings = 0;
  bool fired = false;
};

void spinFor(uint64_t ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
  }
}

struct MonitoredLoop {
  MonitoredLoop() {
    uv_loop_init(&loop);
    monitor = std::make_unique<LoopMonitor>(&loop, *histogram);
  }
  ~MonitoredLoop() {
    bool closed = false;
    monitor->close([&closed] { closed = true; });
    test::runLoopToEnd(&loop, "the monitor's handles to close");
    CHECK(closed);
    CHECK(uv_loop_close(&loop) == 0);
  }
  // Waits `wait_ms` on a timer, twice, then spins `spin_ms` in its callback. The first wait
  // makes sure the loop went round once (a check ran) before the spin: on a slow machine a
  // 1 ms timer can be due in the very first iteration, before the monitor has a start.
  void run(uint64_t wait_ms, uint64_t spin_ms) {
    Spinner s;
    s.spin_ms = spin_ms;
    uv_timer_init(&loop, &s.timer);
    s.timer.data = &s;
    uv_timer_start(
        &s.timer,
        [](uv_timer_t* t) {
          auto* self = static_cast<Spinner*>(t->data);
          if (++self->firings < 2) return;
          spinFor(self->spin_ms);
          self->fired = true;
          uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
        },
        wait_ms, wait_ms);
    uv_run(&loop, UV_RUN_DEFAULT);
    REQUIRE(s.fired);
  }

  uv_loop_t loop{};
  std::vector<double> bounds{0.001, 0.01, 0.1};
  std::unique_ptr<Histogram> histogram = std::make_unique<Histogram>(bounds);
  std::unique_ptr<LoopMonitor> monitor;
};

TEST_CASE("a callback that keeps the loop busy is measured as one long iteration") {
  MonitoredLoop m;
  m.run(1, 30);
  CHECK(m.monitor->longestSeconds() >= 0.030);
  CHECK(m.histogram->count() >= 1);
  CHECK(m.histogram->bucketCounts().back() + m.histogram->bucketCounts()[2] >= 1);  // past 10 ms
}

TEST_CASE("time spent waiting for I/O or a timer is not busy time") {
  MonitoredLoop m;
  m.run(60, 0);
  // The loop waited about 60 ms for the timer; none of that is work. (A generous bound: a
  // busy machine may preempt the loop thread, but not for most of the wait.)
  CHECK(m.monitor->longestSeconds() < 0.040);
  CHECK(m.histogram->count() >= 1);
}

}  // namespace
}  // namespace gust
