#pragma once
// The invocations of one app that wait for a free instance (a worker process, or a host
// thread), with the rules both executors keep: a FIFO of at most max_pending (past that,
// 503 with Retry-After at once), and an invocation that waited pending_timeout gets 503
// with Retry-After rather than waiting without end. One place for these rules, so that an
// app answers alike in both isolations.
//
// Owning thread: the executor's loop thread. A member of its executor, not copyable. Each
// waiting invocation's callback is held here until the executor takes the invocation back
// (popFront) or the queue answers it (refused, expired, failAll); never both, never twice.
// The clock is borrowed and must outlive the queue.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "functions/manifest.h"
#include "runtime/base/clock.h"
#include "runtime/protocol/invocation.h"

namespace gust {

struct PendingInvocation {
  Invocation invocation;
  uint32_t function_index;
  std::chrono::milliseconds timeout;
  OutcomeCallback done;
  // When it joined the queue; set by PendingQueue, which measures pending_timeout from it.
  std::chrono::steady_clock::time_point enqueued;
};

class PendingQueue {
 public:
  // `app` and `slot` name, in the 503 messages, the app and what its invocations wait for
  // ("instance", "thread"). Only max_pending and pending_timeout of `settings` are read.
  PendingQueue(const Clock& clock, std::string app, std::string slot, const PoolSettings& settings);
  PendingQueue(const PendingQueue&) = delete;
  PendingQueue& operator=(const PendingQueue&) = delete;

  // Queues `pending` at the back, or, when max_pending wait already, answers it 503 now
  // (kOverloaded, Retry-After 1 s). Returns whether it was queued.
  bool pushOrRefuse(PendingInvocation&& pending);

  // Puts back at the front an invocation that was handed out and came back unserved (its
  // worker died before running it). Its wait starts again now; max_pending does not apply,
  // since it held its place already. Called newest first keeps the oldest at the front.
  void pushFront(PendingInvocation&& pending);

  // The oldest waiting invocation, now the caller's. Requires !empty().
  PendingInvocation popFront();

  // Answers 503 (kOverloaded, Retry-After 1 s) to the invocations at the front that have
  // waited pending_timeout or longer by the clock. Safe if a callback queues more work.
  void failExpired();

  // Answers every waiting invocation with a copy of `outcome`, leaving the queue empty.
  void failAll(const Outcome& outcome);

  // When failExpired() has work next, if anything waits: for the executor's timer.
  std::optional<std::chrono::steady_clock::time_point> nextDeadline() const;

  size_t size() const { return queue_.size(); }
  bool empty() const { return queue_.empty(); }

 private:
  const Clock& clock_;
  std::string app_;
  std::string slot_;
  uint32_t max_pending_;
  std::chrono::milliseconds pending_timeout_;
  std::deque<PendingInvocation> queue_;
};

}  // namespace gust
