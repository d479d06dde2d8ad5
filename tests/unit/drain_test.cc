#include "runtime/host/drain.h"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>

#include "tests/support/manual_clock.h"
#include "tests/support/run_loop.h"

namespace gust {
namespace {

using namespace std::chrono_literals;
using gust::test::ManualClock;

// A drain on its own loop, with the requests in flight set by the test.
class DrainFixture {
 public:
  DrainFixture() {
    uv_loop_init(&loop);
    drain = std::make_unique<Drain>(&loop, clock);
  }
  ~DrainFixture() {
    bool closed = false;
    drain->close([&closed] { closed = true; });
    test::runLoopToEnd(&loop, "the drain's timer to close");
    CHECK(closed);
    CHECK(uv_loop_close(&loop) == 0);
  }
  void start() {
    drain->start(10s, [this] { return in_flight; }, [this] { ++done; });
  }

  uv_loop_t loop{};
  ManualClock clock;
  std::unique_ptr<Drain> drain;
  size_t in_flight = 2;
  int done = 0;
};

TEST_CASE("a drain ends once no request is in flight, from its own timer") {
  DrainFixture f;
  f.start();
  f.drain->tick();
  CHECK(f.done == 0);
  f.in_flight = 0;
  // The timer looks every 10 ms: the loop's next turns see it, with no clock moved.
  REQUIRE(test::runLoopUntil(&f.loop, "the drain's timer to see nothing in flight", [&f] { return f.done > 0; }));
  CHECK(f.done == 1);
  f.drain->tick();
  CHECK(f.done == 1);  // once
}

TEST_CASE("a drain ends at its deadline by the clock with requests still in flight") {
  DrainFixture f;
  f.start();
  f.clock.advance(9999ms);
  f.drain->tick();
  CHECK(f.done == 0);
  f.clock.advance(1ms);
  f.drain->tick();
  CHECK(f.done == 1);
  f.drain->tick();
  CHECK(f.done == 1);  // once
}

TEST_CASE("a drain that never started closes clean") {
  DrainFixture f;
}

}  // namespace
}  // namespace gust
