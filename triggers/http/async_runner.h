#pragma once
// Runs the async invocations the HTTP trigger stored (`Prefer: respond-async`).
//
// Each run persists `running` with attempts+1 BEFORE the function starts, so a host that
// dies mid-run leaves a visible `running` record. The outcome is stored as `succeeded`
// (the function answered below 500) or `failed` (500 or more, or any other outcome) with
// the response as a synchronous caller would have had it (responseFor). A crash, timeout,
// overload or unavailable app is retried after first_retry_delay x2^(attempt-1) until
// max_attempts runs, then fails. Once the final state is committed, a callback is queued
// when the invocation has a callback URL; if the sender gives it up, the reason is stored
// in the record's callback_error (reported from a delivery thread through a uv_async_t).
//
// Delivery is at least once: start() resumes every queued or running record, so an
// invocation whose host died while it ran is run again. On a cluster, every adopt_every it
// also takes over those of hosts that left (InvocationStore::adoptOrphanedAsync). At most max_running run at once;
// the others wait in memory by id (their requests stay in gust.db).
//
// A store write that fails (writer overloaded or closing) is logged and the record left as
// it is; the next start() resumes it. Records past their retention are deleted by an
// unref'd timer every expire_every. When a retry is due goes by the injected Clock.
//
// Owning thread: the loop thread. Borrows the dispatcher, store and sender, which must
// outlive it; close() stops its timers and makes every later completion a no-op (what is
// in flight is left for the next start), so close it before the dispatcher and writer.

#include <uv.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "triggers/http/callback_sender.h"
#include "runtime/base/clock.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/store/invocation_store.h"
#include "runtime/base/uv_close.h"

namespace gust {

struct AsyncRunnerOptions {
  int max_attempts = 3;
  std::chrono::milliseconds first_retry_delay{500};
  size_t max_running = 64;
  size_t resume_limit = 100000;
  std::chrono::milliseconds expire_every{60'000};
  // How often to take over the invocations of hosts that left; 0 (one machine): never.
  std::chrono::milliseconds adopt_every{0};
  // Show failures in full to whoever polls (see responseFor); else only their kind.
  bool expose_errors = false;
  // Async invocations of one app queued or running, for an app whose manifest sets none.
  size_t max_pending_async = 10000;
};

// Builds the Invocation that runs a stored request (route parameters, payload).
using AsyncInvocationBuilder = std::function<Invocation(const AsyncInvocation&)>;

class AsyncRunner {
 public:
  AsyncRunner(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, InvocationStore& store,
              CallbackSender& callbacks, AsyncInvocationBuilder build, AsyncRunnerOptions options = {});
  ~AsyncRunner();
  AsyncRunner(const AsyncRunner&) = delete;
  AsyncRunner& operator=(const AsyncRunner&) = delete;

  // Resumes unfinished records and starts the expiry timer. Call once, after the apps are
  // loaded.
  void start();
  // `invocation` was just committed as queued.
  void submit(AsyncInvocation invocation);
  void close(std::function<void()> on_closed);

  // Runs the retries that are due by the clock. Called by the retry timer, and by tests
  // after they move an injected clock.
  void tick();

  size_t running() const { return running_; }
  const CallbackSender& callbacks() const { return callbacks_; }

  // Counts toward each app's bound on async invocations queued or running (its
  // max_pending_async): what the store held at start() plus what was admitted since, less
  // what finished. admit() counts one more unless `app` already has `bound`; a request the
  // store then did not keep as a new record (its key matched, or the write failed) is given
  // back with unadmit().
  // `own_bound` is the app's max_pending_async; without one, the options' default.
  bool admit(const std::string& app, std::optional<size_t> own_bound);
  size_t boundOf(std::optional<size_t> own_bound) const { return own_bound.value_or(options_.max_pending_async); }
  void unadmit(const std::string& app);
  size_t unfinished(const std::string& app) const;

 private:
  void enqueue(std::string id);
  void pump();
  void begin(AsyncInvocation invocation);
  void finish(AsyncInvocation invocation, Outcome&& outcome);
  void retryLater(const std::string& id, int attempts_done, std::string error);
  void release();
  void armRetryTimer();
  AsyncResponse capped(AsyncResponse response) const;
  void storeCallbackErrors();
  void adoptOrphans();

  uv_loop_t* loop_;
  const Clock& clock_;
  Dispatcher& dispatcher_;
  InvocationStore& store_;
  CallbackSender& callbacks_;
  AsyncInvocationBuilder build_;
  const AsyncRunnerOptions options_;

  size_t running_ = 0;                          // slots taken (fetching, updating or running)
  std::map<std::string, size_t> unfinished_;    // app -> queued or running (see admit)
  std::deque<std::string> waiting_;             // ids waiting for a slot
  std::multimap<std::chrono::steady_clock::time_point, std::string> retries_;  // due -> id
  uv_timer_t retry_timer_{};
  uv_timer_t expire_timer_{};
  uv_timer_t adopt_timer_{};
  uv_async_t callback_errors_async_{};
  std::mutex callback_errors_mutex_;  // the sender's threads append, the loop thread takes
  std::vector<std::pair<std::string, std::string>> callback_errors_;  // id, why its callback was given up
  CloseCounter closer_;
  bool started_ = false;
  bool closing_ = false;
};

}  // namespace gust
