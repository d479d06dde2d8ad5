#include "runtime/host/drain.h"

#include <spdlog/spdlog.h>

namespace gust {

Drain::Drain(uv_loop_t* loop, const Clock& clock) : loop_(loop), clock_(clock) {}

void Drain::start(std::chrono::milliseconds timeout, std::function<size_t()> in_flight, std::function<void()> done) {
  deadline_ = clock_.now() + timeout;
  in_flight_ = std::move(in_flight);
  done_ = std::move(done);
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<Drain*>(t->data)->tick(); }, 0, 10);
}

void Drain::tick() {
  if (!done_) return;
  size_t left = in_flight_();
  if (left == 0) {
    spdlog::info("drained; stopping workers");
  } else if (clock_.now() >= deadline_) {
    spdlog::warn("drain deadline passed with {} request(s) in flight; stopping anyway", left);
  } else {
    return;
  }
  uv_timer_stop(&timer_);
  auto done = std::move(done_);
  done_ = nullptr;
  done();
}

void Drain::close(std::function<void()> on_closed) {
  done_ = nullptr;
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&timer_)}, std::move(on_closed));
}

}  // namespace gust
