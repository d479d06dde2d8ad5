#pragma once
// The executor of an app with `"isolation": "thread"`: its module is loaded into the host
// process and its functions run on a pool of host threads. No process start, no frames, no
// context switch to another process: the lowest latency Gust offers, for trusted code only.
//
// The trade-off, in full:
//   - a crash in a handler (SIGSEGV, abort, exit) takes the whole host down, with every app;
//   - the module's constructors and destructors run in the host, and it stays loaded while
//     this executor lives, even when every thread has been reaped (scale to zero keeps no
//     thread, but keeps the mapping); it is unloaded when the executor closes, unless a
//     handler was still running then;
//   - what a handler prints with printf goes to the host's own stdout/stderr, unattributed;
//     ctx.log lines reach the host log and the app log stream with the invocation's fields
//     (trace id included) when the handler returns;
//   - memory_mb is not enforced (there is no process to limit);
//   - a thread cannot be killed: at its timeout the caller gets 504 at once, but the thread
//     runs on until the handler returns, and its slot stays busy until then (its late result
//     is dropped, with a warning naming the function). A handler that hangs therefore costs
//     one slot for good; once every slot is stuck, new work waits and then gets 503.
//
// The rules are the process pool's: at most max_instances x concurrency invocations run at
// once, each on its own thread, started on demand; the rest wait in a FIFO bounded by
// max_pending and pending_timeout (then 503 with Retry-After); a thread idle for
// idle_timeout exits, down to min_instances x concurrency threads.
//
// Owning thread: the loop thread, for every public method. Worker threads touch only the
// state shared under `Shared::mutex` and the job each one runs. Results come back through
// one uv_async_t, unref'd while nothing runs, so a thread app keeps the loop alive only
// while it has work. Owned by the Dispatcher; close() calls back once every thread has been
// joined (or, past `stop_grace`, left running detached: see close()), after which the owner
// may free it.

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "functions/manifest.h"
#include "gust/abi.h"
#include "runtime/base/clock.h"
#include "runtime/exec/connection_sink.h"
#include "runtime/exec/executor.h"
#include "runtime/protocol/invocation.h"
#include "runtime/observe/logging.h"
#include "runtime/exec/pending_queue.h"
#include "runtime/base/uv_close.h"
#include "runtime/store/state_store.h"

namespace gust {

struct ThreadExecutorConfig {
  std::string app;
  std::string module_path;  // absolute
  std::vector<std::string> functions;
  PoolSettings settings;
  // How long close() waits for handlers that are still running before it gives up on them.
  std::chrono::milliseconds stop_grace{2000};
  // Where the functions' ctx.log lines go besides the host log, as a worker's output does.
  LogFanout* logs = nullptr;
  StateStore* state = nullptr;  // what functions' state reads read; null: they fail
  // Where functions' connection calls go; a handler thread posts each to the loop thread
  // and waits for its answer. Null: they answer GUST_E_NOT_FOUND.
  ConnectionSink* connections = nullptr;
};

class ThreadExecutor final : public Executor {
 public:
  ThreadExecutor(uv_loop_t* loop, const Clock& clock, ThreadExecutorConfig config);
  ~ThreadExecutor() override;
  ThreadExecutor(const ThreadExecutor&) = delete;
  ThreadExecutor& operator=(const ThreadExecutor&) = delete;

  // Loads the module and starts min_instances x concurrency threads.
  void start() override;
  // Loads the module (dlopen, the ABI version, every function's symbol): a failure says why.
  void warmUp(UniqueFunction<void(Result<void>)> on_ready) override;
  void submit(Invocation&& invocation, uint32_t function_index, std::chrono::milliseconds timeout,
              OutcomeCallback&& done) override;
  void drain(std::function<void()> on_closed) override;
  // Fails what is pending (503), lets what runs answer, tells the threads to stop, and
  // calls back once they are joined. A handler still running after stop_grace is logged by
  // name, its caller gets 503, and its thread is detached rather than killed (a thread
  // cannot be): it keeps the executor's shared state and the module loaded until it
  // returns, or the host exits without waiting for it.
  void close(std::function<void()> on_closed) override;
  PoolStats stats() const override;

  // Re-evaluates pending deadlines and invocation timeouts against the clock. Called by the
  // housekeeping timer, and by tests after they move an injected clock.
  void tick();

  const ThreadExecutorConfig& config() const { return config_; }

 private:
  struct Job;
  struct Shared;

  using Pending = PendingInvocation;

  Result<void> loadModule();
  void run(Pending&& pending);
  void serveNext();
  void onAsync();
  // Answers the connection calls handler threads posted (loop thread).
  void serveConnectionCalls();
  // Logs what the job's function logged, with its invocation's fields (loop thread).
  void emitLogs(Job& job);
  void finish(Job& job);
  void startThreads(size_t count);
  void joinExited();
  void rearm();
  void updateRef();
  void closeIfDrained();
  void onGraceOver();
  void closeHandles();
  size_t slots() const;

  uv_loop_t* loop_;
  const Clock& clock_;
  ThreadExecutorConfig config_;

  void* module_ = nullptr;
  std::vector<gust_function_fn> functions_;
  std::string load_error_;
  std::chrono::steady_clock::time_point next_load_allowed_{};
  bool served_first_ = false;  // the first invocation after the module loaded is the cold one

  std::shared_ptr<Shared> shared_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Job>> running_;  // handed to a thread, answered or not
  PendingQueue pending_;

  uv_async_t async_{};
  uv_timer_t timer_{};
  CloseCounter closer_;
  bool closing_ = false;
  bool draining_ = false;
  bool detached_ = false;  // a thread was left running at close: the module stays loaded
  std::function<void()> on_drained_;
  std::function<void()> on_closed_;
  PoolStats counters_;
};

}  // namespace gust
