#include "runtime/observe/invocation_recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace gust {

InvocationRecorder::InvocationRecorder(uv_loop_t* loop, const Clock& clock, InvocationStore& store, Counter& dropped,
                                       InvocationRecorderOptions options)
    : clock_(clock), store_(store), dropped_(dropped), options_(options) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  // Records waiting for their flush never keep the loop alive on their own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

bool InvocationRecorder::admits(const void* key) {
  const double rate = options_.successes_per_second;
  if (rate <= 0) return false;
  auto now = clock_.now();
  auto [it, added] = budgets_.try_emplace(key, Budget{rate, now});
  Budget& b = it->second;
  if (!added) {
    b.tokens = std::min(rate, b.tokens + rate * std::chrono::duration<double>(now - b.refilled).count());
    b.refilled = now;
  }
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void InvocationRecorder::add(InvocationRecord record) {
  if (closing_ || buffered_.size() >= options_.max_buffered) {
    dropped_.inc();
    return;
  }
  buffered_.push_back(std::move(record));
  if (buffered_.size() >= options_.flush_at) {
    flush();
    return;
  }
  if (!timer_armed_) {
    timer_armed_ = true;
    flush_due_ = clock_.now() + options_.flush_interval;
    armTimer();
  }
}

void InvocationRecorder::armTimer() {
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<InvocationRecorder*>(t->data)->tick(); },
      millisecondsUntil(clock_, flush_due_), 0);
}

void InvocationRecorder::tick() {
  if (!timer_armed_) return;
  // The timer may fire early: libuv counts from the loop's cached time, which can be well
  // behind when the loop was busy before the first record came.
  if (clock_.now() < flush_due_) {
    armTimer();
    return;
  }
  flush();
}

void InvocationRecorder::flush() {
  if (timer_armed_) {
    uv_timer_stop(&timer_);
    timer_armed_ = false;
  }
  if (buffered_.empty()) return;
  std::vector<InvocationRecord> batch;
  batch.swap(buffered_);
  const size_t count = batch.size();
  ++batches_in_flight_;
  auto posted = store_.addRecords(std::move(batch), [this, count](Result<void> stored) {
    --batches_in_flight_;
    if (!stored) {
      dropped_.inc(count);
      spdlog::warn("{} invocation record(s) not stored: {}", count, stored.error().message);
    }
    maybeClosed();
  });
  if (!posted) {
    --batches_in_flight_;
    dropped_.inc(count);
    spdlog::warn("{} invocation record(s) not stored: {}", count, posted.error().message);
  }
}

void InvocationRecorder::close(std::function<void()> on_closed) {
  flush();
  closing_ = true;
  on_closed_ = std::move(on_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<InvocationRecorder*>(h->data);
    self->timer_open_ = false;
    self->maybeClosed();
  });
}

void InvocationRecorder::maybeClosed() {
  if (!closing_ || timer_open_ || batches_in_flight_ > 0 || !on_closed_) return;
  auto done = std::move(on_closed_);
  on_closed_ = nullptr;
  done();
}

}  // namespace gust
