#pragma once
// How long the event loop is kept from waiting: each iteration's busy time (running
// callbacks, everything but the wait for I/O), so that a stall shows in the metrics and
// the real-time bench can check the bound it promises (docs/architecture.md "Processes and
// threads": one loop thread serves every connection, so its longest iteration is every
// client's worst extra latency).
//
// How: a prepare handle runs just before the loop waits and a check handle just after, and
// libuv's UV_METRICS_IDLE_TIME tells how much of the span between them was the wait itself
// (the rest of that span ran I/O callbacks). One iteration's busy time is then
//   (check - prepare - wait) + (next prepare - check).
// Two uv_hrtime() reads per iteration; nothing else.
//
// Owning thread: the loop thread. The handles are unref'ed (they never keep the loop
// alive); close() them before the loop is closed.

#include <uv.h>

#include <cstdint>
#include <functional>

#include "runtime/observe/metrics.h"

namespace gust {

class LoopMonitor {
 public:
  // Turns on the loop's idle-time metric and starts measuring; `iterations` gets each
  // iteration's busy time in seconds.
  LoopMonitor(uv_loop_t* loop, Histogram& iterations);
  LoopMonitor(const LoopMonitor&) = delete;
  LoopMonitor& operator=(const LoopMonitor&) = delete;

  // The longest iteration seen, in seconds.
  double longestSeconds() const { return static_cast<double>(longest_ns_) / 1e9; }

  // `on_closed` runs once both handles are closed; the monitor may be freed then.
  void close(std::function<void()> on_closed);

 private:
  void beforeWait();
  void afterWait();

  uv_loop_t* loop_;
  Histogram& iterations_;
  uv_prepare_t prepare_{};
  uv_check_t check_{};
  uint64_t prepare_ns_ = 0;  // 0 until the first prepare
  uint64_t idle_at_prepare_ns_ = 0;
  uint64_t check_ns_ = 0;
  uint64_t poll_busy_ns_ = 0;
  uint64_t longest_ns_ = 0;
  int open_handles_ = 0;
  std::function<void()> on_closed_;
};

}  // namespace gust
