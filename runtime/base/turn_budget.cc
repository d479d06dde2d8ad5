#include "runtime/base/turn_budget.h"

#include <utility>

namespace gust {

TurnBudget::TurnBudget(uv_loop_t* loop, uint64_t share_ns, std::function<void()> resume)
    : loop_(loop), share_ns_(share_ns), resume_(std::move(resume)) {}

void TurnBudget::makeHandles() {
  uv_check_init(loop_, &turn_end_);
  uv_idle_init(loop_, &next_turn_);
  turn_end_.data = this;
  next_turn_.data = this;
  // The turn's end is bookkeeping: it must not keep the loop running. Work waiting for the
  // next turn does.
  uv_unref(reinterpret_cast<uv_handle_t*>(&turn_end_));
  state_ = State::kOpen;
}

bool TurnBudget::left() {
  if (state_ == State::kClosing) return true;  // closing: whatever remains runs now
  if (state_ == State::kNone) makeHandles();
  const uint64_t now = uv_hrtime();
  if (!timing_) {
    timing_ = true;
    turn_started_ns_ = now;
    uv_check_start(&turn_end_, [](uv_check_t* h) {
      auto* self = static_cast<TurnBudget*>(h->data);
      self->timing_ = false;
      uv_check_stop(h);
    });
    return true;
  }
  return now - turn_started_ns_ < share_ns_;
}

void TurnBudget::resumeNextTurn() {
  if (state_ == State::kClosing) return;
  if (state_ == State::kNone) makeHandles();
  uv_idle_start(&next_turn_, [](uv_idle_t* h) {
    auto* self = static_cast<TurnBudget*>(h->data);
    uv_idle_stop(h);
    self->resume_();  // may ask for the next turn again
  });
}

bool TurnBudget::close(std::function<void()> on_closed) {
  if (state_ != State::kOpen) return false;
  state_ = State::kClosing;
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&turn_end_), reinterpret_cast<uv_handle_t*>(&next_turn_)},
                   std::move(on_closed));
  return true;
}

}  // namespace gust
