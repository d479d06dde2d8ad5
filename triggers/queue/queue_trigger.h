#pragma once
// The queue trigger: one consumer per (app, function, queue) of each app's active version,
// and one per topic subscription (a function with "topic" consumes its subscription's
// queue, runtime/base/names.h subscriptionQueue; the trigger binds the app's topics in the
// backend when the app is added, and unbinds them when it is removed).
// A consumer leases batches from the queue backend and hands each to the dispatcher as one
// Invocation; the Outcome decides each message's fate, committed in one settle together
// with what the function published (all or nothing, see queue_backend.h).
//
// Delivery: at least once. Attempts are counted at lease, so a message that kills its
// worker runs out of attempts too. A failed batch (crash, timeout, error, overload) is
// retried whole with exponential backoff and jitter, or dead-lettered on its last attempt.
//
// Scaling: a consumer keeps up to the app's capacity (max_instances x concurrency) batches
// in flight; the dispatcher's pool grows with them and starts an app scaled to zero.
// An idle consumer sleeps until the queue's next visible message (an unref'd timer: an
// idle queue keeps nothing alive) or until notify() says something was sent.
//
// Contract:
// - Owning thread: the loop thread; every call and callback happens there.
// - Borrows the dispatcher, the queue backend and the clock. Outlives the backend's close
//   (its callbacks land here) and the dispatcher's: free it after the loop has run down.
// - close(): stops leasing and closes the timers (the sweep's too); calls back once they
//   are closed. Batches
//   still in flight settle when their outcome arrives if the backend still takes calls;
//   otherwise their messages come back when the lease expires.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/base/ids.h"
#include "runtime/store/queue_backend.h"
#include "triggers/trigger.h"

namespace gust {

struct QueueTriggerStats {
  uint64_t batches = 0;         // invocations handed to the dispatcher
  uint64_t messages = 0;        // messages leased
  uint64_t acked = 0;           // committed settlements by action
  uint64_t retried = 0;
  uint64_t dead_lettered = 0;   // by a settlement, or by a lease (out of attempts, expired)
  uint64_t failed_batches = 0;  // outcomes other than kOk
  uint64_t stale_settles = 0;   // settles refused because a lease had expired
  uint64_t settle_errors = 0;   // settles the backend could not run or commit
};

// The delay before retrying a failed batch on attempt `attempts` (1 for the first):
// min(cap, base * 2^(attempts-1)), scaled by `jitter` in [0.5, 1].
std::chrono::milliseconds queueBackoff(std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                       int attempts, double jitter);

class QueueTrigger final : public Trigger {
 public:
  QueueTrigger(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, QueueBackend& queues);
  ~QueueTrigger() override;
  QueueTrigger(const QueueTrigger&) = delete;
  QueueTrigger& operator=(const QueueTrigger&) = delete;

  // Starts a consumer for every queue and topic function of `app`, replacing those of an
  // earlier version (whose batches in flight still settle), and binds the app's topics
  // (declared and subscribed) in the backend before any later publish is committed.
  Result<void> addApp(const AppInfo& app) override;
  // A queue consumer can always be bound: queues are created by their first message.
  Result<void> checkApp(const AppInfo&) const override { return {}; }
  // Stops the app's consumers and drops its topic subscriptions (their queues keep what they
  // hold).
  void removeApp(const std::string& name) override;
  const char* name() const override { return "queues"; }

  // Hands a batch to whoever consumes a queue that is not a function's (a webhook): it runs
  // `done` once with the outcome, which settles the batch exactly as a function's would
  // (kOk with one settlement per message acks them; anything else retries with backoff).
  using BatchHandler = std::function<void(Invocation&&, OutcomeCallback&&)>;
  // Consumes `spec.queue` under `key` (replacing a consumer of that key; keys of apps are
  // "<app>/<function>"), with at most `capacity` batches in flight. `label` names it in logs
  // and as the invocation's app; `topic`, when set, is the topic whose commits wake it.
  void addConsumer(const std::string& key, std::string label, QueueTriggerSpec spec, size_t capacity,
                   BatchHandler handler, std::string topic = {});
  void removeConsumer(const std::string& key);

  // Something was committed to `name` (a queue or a topic): wake its consumers now.
  void notify(const std::string& name);
  // A backend shared with other hosts (docs/scale-out.md): what they send wakes nobody
  // here, so an idle consumer looks at its queue again at least this often. 0 (the
  // default, for a backend of this host alone): it sleeps until notify() or its next
  // visible message.
  void setIdleRecheck(std::chrono::milliseconds every) { idle_recheck_ = every; }

  // The host's bounds for every queue; an app that consumes a queue may set its own in
  // its manifest (StorageBounds), which the backend gets on each addApp and removeApp.
  void setDefaultBounds(QueueBounds defaults);
  // Asks the backend to sweep (QueueBackend::sweep: retention, dedupe ids) every `every`,
  // on an unref'd timer that close() closes, and runs `with_each` too (the host's other
  // stores sweep on the same beat). Call at most once.
  void startSweeping(std::chrono::milliseconds every, std::function<void()> with_each = {});

  // Commits what a function outside a queue batch (an HTTP, async or timer invocation)
  // published, stamped with `trace`, in one transaction across all its queues; `done` runs
  // once, after the commit or with why nothing was committed.
  void publish(std::vector<Publish> publishes, AppStateWrites state, const TraceContext& trace,
               UniqueFunction<void(Result<void>)> done);

  void close(std::function<void()> on_closed);

  const QueueTriggerStats& stats() const { return stats_; }
  size_t consumers() const { return consumers_.size(); }

 private:
  struct Consumer;
  struct Batch;

  // Stops consumers of `app` without touching its topic bindings (a new version replaces them).
  void retireApp(const std::string& app);
  Consumer& startConsumer(const std::string& key, std::unique_ptr<Consumer> c);
  void pump(Consumer& c);
  void onLeased(Consumer& c, Result<LeaseResult> leased);
  void sleep(Consumer& c);
  void arm(Consumer& c, std::chrono::milliseconds delay);
  void invoke(Consumer& c, std::vector<LeasedMessage>&& messages);
  void onOutcome(std::unique_ptr<Batch> batch, Outcome&& outcome);
  void settle(std::unique_ptr<Batch> batch, std::vector<MessageSettlement> settlements,
              std::vector<MessagePublish> publishes, AppStateWrites state);
  // Counts retries and dead letters of `queue` in the metrics (with telemetry).
  void countSettled(const std::string& queue, SettleAction action, size_t count);
  void batchDone(Consumer& c);
  // Hands a consumer that no longer leases to retired_ until its work is done.
  void retire(std::unique_ptr<Consumer> c);
  void maybeFree(Consumer& c);
  void maybeClosed();
  // Gives the backend the bounds of every consumed queue (see setDefaultBounds).
  void pushBounds();

  uv_loop_t* loop_;
  const Clock& clock_;
  Dispatcher& dispatcher_;
  QueueBackend& queues_;
  IdGenerator ids_;
  std::mt19937_64 rng_;
  // "app/function" -> its consumer.
  std::map<std::string, std::unique_ptr<Consumer>> consumers_;
  std::vector<std::unique_ptr<Consumer>> retired_;
  QueueBounds default_bounds_;
  uv_timer_t sweep_timer_{};
  bool sweep_timer_open_ = false;
  std::function<void()> with_each_sweep_;
  QueueTriggerStats stats_;
  bool closing_ = false;
  std::chrono::milliseconds idle_recheck_{0};
  std::function<void()> on_closed_;
};

}  // namespace gust
