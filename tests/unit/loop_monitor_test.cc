#include "runtime/observe/loop_monitor.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>

#include "tests/support/run_loop.h"

namespace gust {
namespace {

// One timer callback that keeps the loop busy for `spin_ms`, after a wait of `wait_ms`.
struct Spinner {
  uv_timer_t first{};
  uv_timer_t timer{};
  uint64_t wait_ms = 0;
  uint64_t spin_ms = 0;
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
  // Waits `wait_ms` on a timer, then spins `spin_ms` in its callback. That timer is started
  // from a first one's callback, so that it fires after the monitor has seen a whole
  // iteration: started here, on a busy machine it could be due before uv_run began, and
  // spin in its first iteration, before the first check that busy time is measured from.
  void run(uint64_t wait_ms, uint64_t spin_ms) {
    Spinner s;
    s.wait_ms = wait_ms;
    s.spin_ms = spin_ms;
    uv_timer_init(&loop, &s.first);
    uv_timer_init(&loop, &s.timer);
    s.first.data = &s;
    s.timer.data = &s;
    uv_timer_start(
        &s.first,
        [](uv_timer_t* first) {
          auto* self = static_cast<Spinner*>(first->data);
          uv_close(reinterpret_cast<uv_handle_t*>(first), nullptr);
          uv_timer_start(
              &self->timer,
              [](uv_timer_t* t) {
                auto* spinner = static_cast<Spinner*>(t->data);
                spinFor(spinner->spin_ms);
                spinner->fired = true;
                uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
              },
              self->wait_ms, 0);
        },
        0, 0);
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
