#include "runtime/exec/pending_queue.h"

#include <cassert>
#include <utility>

namespace gust {

using std::chrono::milliseconds;

PendingQueue::PendingQueue(const Clock& clock, std::string app, std::string slot, const PoolSettings& settings)
    : clock_(clock),
      app_(std::move(app)),
      slot_(std::move(slot)),
      max_pending_(settings.max_pending),
      pending_timeout_(settings.pending_timeout) {}

bool PendingQueue::pushOrRefuse(PendingInvocation&& pending) {
  if (queue_.size() >= max_pending_) {
    pending.done(failedOutcome(OutcomeKind::kOverloaded,
                               "app " + app_ + " has " + std::to_string(queue_.size()) +
                                   " invocations waiting already (max_pending); try again shortly",
                               milliseconds(1000)));
    return false;
  }
  pending.enqueued = clock_.now();
  queue_.push_back(std::move(pending));
  return true;
}

void PendingQueue::pushFront(PendingInvocation&& pending) {
  pending.enqueued = clock_.now();
  queue_.push_front(std::move(pending));
}

PendingInvocation PendingQueue::popFront() {
  assert(!queue_.empty());
  PendingInvocation front = std::move(queue_.front());
  queue_.pop_front();
  return front;
}

void PendingQueue::failExpired() {
  auto now = clock_.now();
  // Off the queue before its callback runs: the callback may submit again.
  while (!queue_.empty() && now - queue_.front().enqueued >= pending_timeout_) {
    PendingInvocation expired = popFront();
    expired.done(failedOutcome(OutcomeKind::kOverloaded,
                               "app " + app_ + " had no free " + slot_ + " within its pending_timeout of " +
                                   std::to_string(pending_timeout_.count()) + " ms",
                               milliseconds(1000)));
  }
}

void PendingQueue::failAll(const Outcome& outcome) {
  std::deque<PendingInvocation> failed;
  failed.swap(queue_);
  for (auto& p : failed) p.done(Outcome(outcome));
}

std::optional<std::chrono::steady_clock::time_point> PendingQueue::nextDeadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().enqueued + pending_timeout_;
}

}  // namespace gust
