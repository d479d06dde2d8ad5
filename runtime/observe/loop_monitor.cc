#include "runtime/observe/loop_monitor.h"

#include <algorithm>
#include <utility>

namespace gust {

LoopMonitor::LoopMonitor(uv_loop_t* loop, Histogram& iterations) : loop_(loop), iterations_(iterations) {
  uv_loop_configure(loop_, UV_METRICS_IDLE_TIME);
  uv_prepare_init(loop_, &prepare_);
  uv_check_init(loop_, &check_);
  prepare_.data = this;
  check_.data = this;
  uv_prepare_start(&prepare_, [](uv_prepare_t* h) { static_cast<LoopMonitor*>(h->data)->beforeWait(); });
  uv_check_start(&check_, [](uv_check_t* h) { static_cast<LoopMonitor*>(h->data)->afterWait(); });
  uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  open_handles_ = 2;
}

void LoopMonitor::beforeWait() {
  uint64_t now = uv_hrtime();
  if (check_ns_ != 0) {
    uint64_t busy = poll_busy_ns_ + (now - check_ns_);
    longest_ns_ = std::max(longest_ns_, busy);
    iterations_.observe(static_cast<double>(busy) / 1e9);
  }
  prepare_ns_ = now;
  idle_at_prepare_ns_ = uv_metrics_idle_time(loop_);
}

void LoopMonitor::afterWait() {
  if (prepare_ns_ == 0) return;  // started between a prepare and its check
  uint64_t now = uv_hrtime();
  uint64_t waited = uv_metrics_idle_time(loop_) - idle_at_prepare_ns_;
  uint64_t span = now - prepare_ns_;
  poll_busy_ns_ = span > waited ? span - waited : 0;
  check_ns_ = now;
}

void LoopMonitor::close(std::function<void()> on_closed) {
  on_closed_ = std::move(on_closed);
  auto closed = [](uv_handle_t* h) {
    auto* self = static_cast<LoopMonitor*>(h->data);
    if (--self->open_handles_ == 0 && self->on_closed_) std::exchange(self->on_closed_, nullptr)();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), closed);
}

}  // namespace gust
