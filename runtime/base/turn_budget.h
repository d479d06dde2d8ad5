#pragma once
// A share of one event-loop turn for work that comes in bursts: accepting a flood of
// connections, closing thousands that left at once, fanning one event out to thousands of
// clients. Such work runs while its turn's share lasts and resumes on the next turn, after
// the I/O that waited meanwhile, so that no burst holds the loop (and every other client)
// for long (docs/architecture.md, "One loop turn").
//
// A turn runs from the first left() after the loop's check phase to the next check phase;
// its clock starts at that first call, so the first unit of work in a turn always runs.
//
// Contract:
// - Owning thread: the loop's. The handles are made on first use; close() them before the
//   loop is closed. `resume` is never called after close().
// - Costs: one uv_hrtime() per left(); a check callback only in turns that called left().

#include <uv.h>

#include <cstdint>
#include <functional>

#include "runtime/base/uv_close.h"

namespace gust {

class TurnBudget {
 public:
  // `resume` runs on a later turn after resumeNextTurn(); it calls left() as it goes.
  TurnBudget(uv_loop_t* loop, uint64_t share_ns, std::function<void()> resume);
  TurnBudget(const TurnBudget&) = delete;
  TurnBudget& operator=(const TurnBudget&) = delete;

  // True while this turn's share lasts.
  bool left();
  // Runs `resume` on the loop's next turn (once, however often asked). The loop polls for
  // I/O without waiting meanwhile.
  void resumeNextTurn();
  // Closes the handles; false (and `on_closed` is not called) when none was ever made.
  bool close(std::function<void()> on_closed);

 private:
  void makeHandles();

  uv_loop_t* loop_;
  uint64_t share_ns_;
  std::function<void()> resume_;
  uv_check_t turn_end_{};  // ends the turn's clock
  uv_idle_t next_turn_{};  // active while work waits for the next turn
  enum class State { kNone, kOpen, kClosing } state_ = State::kNone;
  bool timing_ = false;  // the turn's clock runs
  uint64_t turn_started_ns_ = 0;
  CloseCounter closer_;
};

}  // namespace gust
