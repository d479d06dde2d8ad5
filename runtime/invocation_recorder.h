#pragma once
// Writes invocation records in batches. The dispatcher hands it one record per finished
// invocation; it keeps them on the loop thread and stores them with one writer job per
// flush (every `flush_interval`, or at once when `flush_at` are waiting), so recording
// costs an invocation a vector push and never floods the writer's queue that queue
// commits share. It never waits: past `max_buffered` waiting records, or when the store
// refuses a batch, records are dropped and counted (gust_invocation_records_dropped_total).
//
// Owning thread: the loop thread. Borrows the store and the counter; both outlive it.
// close() stores what is waiting, then calls back; the writer must still be open then.

#include <uv.h>

#include <chrono>
#include <functional>
#include <vector>

#include "runtime/invocation_store.h"
#include "runtime/metrics.h"

namespace gust {

struct InvocationRecorderOptions {
  std::chrono::milliseconds flush_interval{100};
  size_t flush_at = 512;
  size_t max_buffered = 50000;
};

class InvocationRecorder {
 public:
  InvocationRecorder(uv_loop_t* loop, InvocationStore& store, Counter& dropped, InvocationRecorderOptions options = {});
  ~InvocationRecorder() = default;  // after close() called back
  InvocationRecorder(const InvocationRecorder&) = delete;
  InvocationRecorder& operator=(const InvocationRecorder&) = delete;

  void add(InvocationRecord record);
  // Flushes, waits for that batch's commit, and calls back once the timer is closed.
  void close(std::function<void()> on_closed);

 private:
  void flush();
  void maybeClosed();

  InvocationStore& store_;
  Counter& dropped_;
  const InvocationRecorderOptions options_;
  std::vector<InvocationRecord> buffered_;
  uv_timer_t timer_{};
  bool timer_armed_ = false;
  bool timer_open_ = true;
  size_t batches_in_flight_ = 0;
  bool closing_ = false;
  std::function<void()> on_closed_;
};

}  // namespace gust
