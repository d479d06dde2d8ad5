#pragma once
// Writes invocation records in batches. The dispatcher hands it one record per finished
// invocation; it keeps them on the loop thread and stores them with one writer job per
// flush (every `flush_interval`, or at once when `flush_at` are waiting), so recording
// costs an invocation a vector push and never floods the writer's queue that queue
// commits share. It never waits: past `max_buffered` waiting records, or when the store
// refuses a batch, records are dropped and counted (gust_invocation_records_dropped_total).
// The flush interval and the success budget go by the injected Clock.
//
// Owning thread: the loop thread. Borrows the store and the counter; both outlive it.
// close() stores what is waiting, then calls back; the writer must still be open then.

#include <uv.h>

#include <chrono>
#include <functional>
#include <unordered_map>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/store/invocation_store.h"
#include "runtime/observe/metrics.h"

namespace gust {

struct InvocationRecorderOptions {
  // Plain successes recorded per second per function (a token bucket with a burst of as
  // many); see admits().
  uint32_t successes_per_second = 100;
  std::chrono::milliseconds flush_interval{100};
  size_t flush_at = 512;
  size_t max_buffered = 50000;
};

class InvocationRecorder {
 public:
  InvocationRecorder(uv_loop_t* loop, const Clock& clock, InvocationStore& store, Counter& dropped,
                     InvocationRecorderOptions options = {});
  ~InvocationRecorder() = default;  // after close() called back
  InvocationRecorder(const InvocationRecorder&) = delete;
  InvocationRecorder& operator=(const InvocationRecorder&) = delete;

  // Whether to record one more plain success (ok, warm, first attempt) of the function
  // `key` stands for (any pointer that is stable per function): at most
  // successes_per_second of them. A function serving thousands of requests a second would
  // otherwise spend more on its records than on its requests; what an operator looks for
  // (failures, cold starts, retries) is recorded regardless, and metrics count everything.
  bool admits(const void* key);
  void add(InvocationRecord record);
  // Flushes, waits for that batch's commit, and calls back once the timer is closed.
  void close(std::function<void()> on_closed);
  // Flushes once flush_interval has passed by the clock since the first record waiting.
  // Called by the timer, and by tests after they move an injected clock.
  void tick();

 private:
  void flush();
  // Wakes tick() at flush_due_ by the clock.
  void armTimer();
  void maybeClosed();

  struct Budget {
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled;
  };

  const Clock& clock_;
  InvocationStore& store_;
  Counter& dropped_;
  const InvocationRecorderOptions options_;
  std::vector<InvocationRecord> buffered_;
  std::unordered_map<const void*, Budget> budgets_;
  uv_timer_t timer_{};
  bool timer_armed_ = false;  // records wait for a flush at flush_due_
  std::chrono::steady_clock::time_point flush_due_;
  bool timer_open_ = true;
  size_t batches_in_flight_ = 0;
  bool closing_ = false;
  std::function<void()> on_closed_;
};

}  // namespace gust
