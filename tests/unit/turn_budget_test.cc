#include "runtime/base/turn_budget.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <vector>

#include "tests/support/run_loop.h"

namespace gust {
namespace {

void spinFor(std::chrono::microseconds how_long) {
  auto until = std::chrono::steady_clock::now() + how_long;
  while (std::chrono::steady_clock::now() < until) {
  }
}

// Twenty units of 400 µs each, run through a budget of 1 ms a turn; a check handle counts
// the turns, so each unit knows in which turn it ran.
struct Burst {
  uv_loop_t loop{};
  uv_check_t turn_counter{};
  int turn = 0;
  int next_unit = 0;
  std::vector<int> turn_of_unit;
  TurnBudget budget{&loop, 1'000'000, [this] { work(); }};

  Burst() {
    uv_loop_init(&loop);
    uv_check_init(&loop, &turn_counter);
    turn_counter.data = this;
    uv_check_start(&turn_counter, [](uv_check_t* h) { ++static_cast<Burst*>(h->data)->turn; });
    uv_unref(reinterpret_cast<uv_handle_t*>(&turn_counter));
  }

  void work() {
    while (next_unit < 20) {
      if (!budget.left()) {
        budget.resumeNextTurn();
        return;
      }
      spinFor(std::chrono::microseconds(400));
      turn_of_unit.push_back(turn);
      ++next_unit;
    }
  }

  void close() {
    uv_close(reinterpret_cast<uv_handle_t*>(&turn_counter), nullptr);
    bool closed = false;
    if (!budget.close([&closed] { closed = true; })) closed = true;
    test::runLoopToEnd(&loop, "the budget's handles to close");
    CHECK(closed);
    CHECK(uv_loop_close(&loop) == 0);
  }
};

TEST_CASE("a burst runs within its share of each turn and finishes on later turns") {
  Burst b;
  b.work();  // as if an I/O callback started it
  uv_run(&b.loop, UV_RUN_DEFAULT);  // the waiting work keeps the loop alive until done
  REQUIRE(b.turn_of_unit.size() == 20);
  // At 400 µs a unit, a 1 ms share holds at most three (the first always runs; a fourth
  // would start past 1.2 ms). A slower machine only fits fewer.
  std::vector<int> per_turn(static_cast<size_t>(b.turn_of_unit.back()) + 1);
  for (int t : b.turn_of_unit) ++per_turn[static_cast<size_t>(t)];
  for (int n : per_turn) CHECK(n <= 3);
  CHECK(per_turn.size() >= 7);
  b.close();
}

TEST_CASE("a budget never used closes without handles, and a closing one lets everything run") {
  Burst unused;
  unused.close();

  Burst b;
  b.work();
  CHECK(b.next_unit < 20);
  bool closed = false;
  REQUIRE(b.budget.close([&closed] { closed = true; }));
  b.work();  // closing: no more turns, so the rest runs now
  CHECK(b.next_unit == 20);
  uv_close(reinterpret_cast<uv_handle_t*>(&b.turn_counter), nullptr);
  test::runLoopToEnd(&b.loop, "the budget's handles to close");
  CHECK(closed);
  CHECK(uv_loop_close(&b.loop) == 0);
}

}  // namespace
}  // namespace gust
