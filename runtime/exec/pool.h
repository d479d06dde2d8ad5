#pragma once
// The worker pool of one app: starts worker processes on demand up to max_instances,
// queues invocations (FIFO, bounded by max_pending and pending_timeout) while instances
// start or are busy, reaps instances idle past idle_timeout down to min_instances, and
// backs off when workers keep dying before they are ready.
//
// Owning thread: the loop thread. Owned by the Dispatcher; close() stops every worker and
// calls back once all their handles are closed, after which the owner may free it. Its
// housekeeping timer is unref'd: a pool scaled to zero keeps nothing alive.

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "functions/manifest.h"
#include "runtime/base/clock.h"
#include "runtime/exec/app_cgroups.h"
#include "runtime/exec/executor.h"
#include "runtime/store/state_store.h"
#include "runtime/protocol/invocation.h"
#include "runtime/exec/pending_queue.h"
#include "runtime/exec/worker_process.h"

namespace gust {

struct PoolConfig {
  std::string app;
  std::string app_dir;
  std::string module_path;  // absolute
  std::string executable;   // the gust binary, started in worker mode
  std::vector<std::string> functions;
  PoolSettings settings;
  WorkerContainment containment;
  ForkClient* fork_client = nullptr;  // the host's fork server, if any (see WorkerSpawnOptions)
  LogFanout* logs = nullptr;          // where workers' output lines go too (see WorkerSpawnOptions)
  StateStore* state = nullptr;        // what workers' state reads read (see WorkerSpawnOptions)
  ConnectionSink* connections = nullptr;  // where workers' connection calls go (see WorkerSpawnOptions)
  AppCgroups* cgroups = nullptr;      // the host's cgroups, if it has any: each worker gets its own
  std::vector<std::string> environment;  // each worker's whole environment (see WorkerSpawnOptions)
  // Called when a worker passes its ready handshake, with how long it took from spawn.
  std::function<void(double seconds)> on_cold_start;
  std::chrono::milliseconds stop_grace{2000};
  std::chrono::milliseconds max_backoff{30'000};
};

class Pool final : public Executor, public WorkerListener {
 public:
  Pool(uv_loop_t* loop, const Clock& clock, PoolConfig config);
  ~Pool() override;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void start() override;
  void warmUp(UniqueFunction<void(Result<void>)> on_ready) override;
  void submit(Invocation&& invocation, uint32_t function_index, std::chrono::milliseconds timeout,
              OutcomeCallback&& done) override;
  void drain(std::function<void()> on_closed) override;
  void close(std::function<void()> on_closed) override;
  PoolStats stats() const override;

  // Re-evaluates its workers' invocation timeouts and stop graces, pending deadlines, idle
  // instances and backoff against the clock. Called by the housekeeping timer, and by tests
  // after they move an injected clock.
  void tick();

  const PoolConfig& config() const { return config_; }

 private:
  using Pending = PendingInvocation;

  void onWorkerReady(WorkerProcess& worker) override;
  void onInvocationDone(WorkerProcess& worker, Outcome&& outcome, OutcomeCallback&& done) override;
  void onWorkerExit(WorkerProcess& worker, const WorkerExit& exit, const std::string& init_error) override;
  void onInvocationsReturned(WorkerProcess& worker, std::vector<Returned>&& returned) override;

  WorkerProcess* pickWorker() const;
  WorkerProcess* oldestIdle() const;
  void startWorker();
  void serveNextOrIdle(WorkerProcess& worker);
  void run(WorkerProcess& worker, Pending&& pending);
  void maybeStartForPending();
  void removeWorker(WorkerProcess& worker);
  // Closes a worker that is no longer in workers_, then frees it and its cgroup.
  void closeWorker(std::unique_ptr<WorkerProcess> worker, std::function<void()> then);
  void rearm();
  // Closes a draining pool once nothing is pending or in flight.
  void closeIfDrained();
  void answerWarmUp(Result<void> result);
  size_t countState(WorkerProcess::State state) const;
  Outcome unavailable(const std::string& why) const;

  uv_loop_t* loop_;
  const Clock& clock_;
  PoolConfig config_;
  uint64_t next_worker_id_ = 1;

  std::vector<std::unique_ptr<WorkerProcess>> workers_;
  std::vector<std::unique_ptr<WorkerProcess>> closing_workers_;
  PendingQueue pending_;
  bool serving_cold_ = false;  // set while a worker that just became ready takes its first work

  uv_timer_t timer_{};
  CloseCounter closer_;
  bool closing_ = false;
  bool draining_ = false;
  std::function<void()> on_drained_;
  std::vector<UniqueFunction<void(Result<void>)>> warm_up_waiters_;
  std::function<void()> on_closed_;

  uint32_t consecutive_start_failures_ = 0;
  std::chrono::steady_clock::time_point next_start_allowed_{};
  PoolStats counters_;
};

}  // namespace gust
