#pragma once
// One worker process of an app, seen from the host: the child process, its IPC channel
// (length-prefixed frames over a socketpair), its captured stdout/stderr, and the timer of
// the invocation it runs. Deadlines and last use are read from the injected Clock; the
// timer only wakes it up to look (see tick()).
//
// Owning thread: the loop thread. Owned by its Pool through unique_ptr; the Pool frees it
// only from the callback of close(), after every handle's close callback ran. The listener
// is called from loop callbacks and may call close() from inside them; no other method may
// be called after close().

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/token_bucket.h"
#include "runtime/exec/app_uids.h"
#include "runtime/exec/connection_sink.h"
#include "runtime/exec/fork_client.h"
#include "runtime/store/state_store.h"
#include "runtime/protocol/frame.h"
#include "runtime/protocol/invocation.h"
#include "runtime/observe/logging.h"
#include "runtime/base/result.h"
#include "runtime/base/uv_close.h"

namespace gust {

class WorkerProcess;

// How far workers are fenced off from the host (see functions/worker/sandbox.h).
struct WorkerContainment {
  // PID and mount namespaces, with the worker's own filesystem view.
  bool namespaces = true;
  // And a user namespace: the host is not root (the worker keeps the host's uid, without
  // any capability).
  bool user_namespace = false;
  uint32_t tmp_mb = 64;     // the size of the worker's private /tmp
  bool drop_user = false;   // switch to uid/gid (a root host: the app's own uid)
  uint32_t uid = 65534;
  uint32_t gid = 65534;
  // Where the apps' uids come from on a root host (see AppUids); the Dispatcher sets uid
  // and gid per app from it.
  UidRange uids;

  // What is in force, in one line for `gust ps` and `gust describe`:
  // "namespaces: pid, mount; uid 200003; seccomp".
  std::string describe() const;
};

struct WorkerSpawnOptions {
  std::string executable;  // the gust binary
  std::string app;
  std::string app_dir;
  std::string module_path;
  std::vector<std::string> functions;
  uint32_t concurrency = 1;  // invocations the worker runs at once, each on its own thread
  // With concurrency 1, invocations the host may queue in the worker behind the running one,
  // so that one wake-up of the worker serves many (see invoke()).
  uint32_t pipeline = 1;
  uint32_t memory_mb = 0;    // address-space limit; 0: none
  // The worker's own cgroup directories, which it joins before anything else (see
  // AppCgroups::addWorker); empty without cgroups.
  std::vector<std::string> cgroups;
  size_t max_output_per_invocation = 64 * 1024;
  WorkerContainment containment;
  // Forks the worker from the host's fork server when set and running; otherwise (or if
  // that fails) the worker is spawned from `executable`.
  ForkClient* fork_client = nullptr;
  // The worker's whole environment, "KEY=VALUE" each (see worker_environment.h); it never
  // travels on the command line, which every local user can read in /proc.
  std::vector<std::string> environment;
  // Every output and log line also goes here, for `gust logs` (null: only to the host's log).
  LogFanout* logs = nullptr;
  // Answers the worker's state reads, always for `app` (never a name the worker sends).
  // Null: reads fail with a message saying the host keeps no state.
  StateStore* state = nullptr;
  // Carries out the worker's connection calls, always for `app`. Null: every call answers
  // GUST_E_NOT_FOUND (this host has no WebSocket routes).
  ConnectionSink* connections = nullptr;
};

// The Outcome of a function's RESULT for an invocation with a batch of `batch` messages:
// its response, or a function error; a batch gets one settlement per message, in order (an
// ack for each message the function did not settle). An error when the settlements do not
// fit the batch. Worker processes and the thread executor both answer through it, so that
// an app's callers see the same whatever its isolation.
Result<Outcome> outcomeOfResult(ResultFrame&& result, size_t batch);

// How a worker process ended.
struct WorkerExit {
  int64_t exit_status = 0;
  int term_signal = 0;
  std::string describe() const;  // "killed by signal SIGSEGV (Segmentation fault)"
};

class WorkerListener {
 public:
  virtual ~WorkerListener() = default;
  virtual void onWorkerReady(WorkerProcess& worker) = 0;
  // The invocation the worker ran is finished (answered, failed, timed out or crashed).
  virtual void onInvocationDone(WorkerProcess& worker, Outcome&& outcome, OutcomeCallback&& done) = 0;
  // Invocations queued in a serial worker that died or was killed before it started them;
  // they may run elsewhere. Oldest first.
  struct Returned {
    Invocation invocation;
    uint32_t function_index;
    std::chrono::milliseconds timeout;
    OutcomeCallback done;
  };
  virtual void onInvocationsReturned(WorkerProcess& worker, std::vector<Returned>&& returned) = 0;
  // The process is gone. `init_error` is what it reported if it died before READY.
  virtual void onWorkerExit(WorkerProcess& worker, const WorkerExit& exit, const std::string& init_error) = 0;
};

class WorkerProcess {
 public:
  // kReady covers both idle and busy; inFlight() tells them apart.
  enum class State { kStarting, kReady, kStopping, kExited };

  WorkerProcess(uv_loop_t* loop, const Clock& clock, WorkerListener& listener, uint64_t id);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  Result<void> spawn(const WorkerSpawnOptions& options);

  // Sends one invocation; the worker must have capacity. The outcome arrives through
  // onInvocationDone with `done`. Frames are written once per loop turn, so invocations
  // dispatched together reach the worker in one write. A serial worker (concurrency 1)
  // runs its queue in order: the timeout of each starts when the one before it answered.
  void invoke(Invocation&& invocation, uint32_t function_index, std::chrono::milliseconds timeout,
              OutcomeCallback&& done);

  // Asks the process to stop: SIGTERM to its process group, SIGKILL after `grace`.
  void stop(std::chrono::milliseconds grace);
  // Kills its process group now.
  void kill();

  // Applies the deadlines that passed by the clock: an invocation past its timeout is
  // answered 504 and the process killed; a stop grace that is over kills the process.
  // Called by its timer, and (through Pool::tick) by tests after they move an injected clock.
  void tick();

  // Kills the process if it still runs and closes every handle once it has exited; then
  // `on_closed` runs, after which the owner may free this object. No listener call follows.
  void close(std::function<void()> on_closed);

  State state() const { return state_; }
  size_t inFlight() const { return in_flight_.size(); }
  bool hasCapacity() const { return state_ == State::kReady && in_flight_.size() < capacity_; }
  bool idle() const { return state_ == State::kReady && in_flight_.empty(); }
  uint64_t id() const { return id_; }
  int pid() const { return pid_; }
  const std::vector<std::string>& cgroups() const { return cgroups_; }
  std::chrono::steady_clock::time_point lastUsed() const { return last_used_; }
  std::chrono::steady_clock::time_point spawnedAt() const { return spawned_at_; }

 private:
  struct OutputStream {
    WorkerProcess* owner = nullptr;
    uv_pipe_t pipe{};
    std::string partial;  // an unfinished line
    const char* name = "";
    bool paused = false;  // not read while the output budget is spent (see onOutput)
  };

  struct InFlight {
    uint64_t seq;
    Invocation invocation;  // kept, so that a serial worker's queue can run elsewhere
    uint32_t function_index;
    std::chrono::milliseconds timeout;
    std::chrono::steady_clock::time_point deadline;
    OutcomeCallback done;
    size_t output_bytes = 0;
    size_t output_dropped = 0;
    size_t state_reads = 0;
    bool state_read_pending = false;  // one read at a time per invocation
    size_t connection_calls = 0;
  };
  void onStateGet(std::string_view payload);
  void answerState(uint64_t seq, StateValueFrame&& answer);
  void onConnectionCall(std::string_view payload);
  // Starts `gust worker` with uv_spawn, its stdio on `child_ends`.
  Result<void> spawnProcess(const WorkerSpawnOptions& options, std::vector<std::string> args,
                            const std::array<int, kForkRequestFds>& child_ends);
  void onIpcRead(ssize_t nread, const uv_buf_t* buf);
  void drainIpcNow();
  void onFrame(FrameType type, std::string_view payload);
  void onOutput(OutputStream& stream, const char* data, size_t size, bool eof);
  void startReading(OutputStream& stream);
  // Output that is nobody's (see currentInFlight) is paid from output_budget_; false when
  // the budget is spent: the stream then pauses until it refills.
  bool spendOutputBudget(OutputStream& stream, size_t line_bytes);
  void resumeOutput();
  void resumeOutputLater();
  void drainOutputNow();
  // Logs one line of the worker's output, attributed to `inv` when known.
  void emitLine(InFlight* inv, const char* stream, std::string_view line, int level);
  InFlight* findInFlight(uint64_t seq);
  // Whose output stdout/stderr carry now: the running one of a serial worker, or the only
  // one of a concurrent worker; nobody's when several run at once.
  InFlight* currentInFlight() {
    if (in_flight_.empty() || (concurrency_ > 1 && in_flight_.size() > 1)) return nullptr;
    return &in_flight_.front();
  }
  // Hands in_flight_[from...] back to the listener (they never started).
  void returnQueued(size_t from);
  void flush();
  void finishInvocation(uint64_t seq, Outcome&& outcome);
  void failAllInFlight(OutcomeKind kind, const std::string& message);
  // Arms the timer for the earliest deadline of what is in flight.
  void armTimer();
  // Wakes tick() at `deadline` by the clock.
  void startTimer(std::chrono::steady_clock::time_point deadline);
  void onExit(int64_t exit_status, int term_signal);
  void protocolError(const std::string& why);
  void write(std::string&& bytes);
  void closeHandles();

  uv_loop_t* loop_;
  const Clock& clock_;
  WorkerListener& listener_;
  uint64_t id_;
  State state_ = State::kStarting;
  int pid_ = 0;
  std::string app_;
  std::vector<std::string> functions_;
  std::vector<std::string> cgroups_;
  LogFanout* logs_ = nullptr;
  StateStore* state_store_ = nullptr;
  ConnectionSink* connections_ = nullptr;
  // Tells a state read's completion whether this worker still exists: the store may answer
  // after the pool freed it. Shared with those completions only.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  size_t max_output_;

  uv_process_t process_{};  // only when spawned; a forked worker's exit comes from its ForkClient
  uv_pipe_t ipc_{};
  OutputStream out_, err_;
  uv_timer_t timer_{};
  // Output with no invocation to charge it to (a thread the function left printing) is
  // bounded by this budget (see spendOutputBudget); the timer resumes reading.
  TokenBucket output_budget_;
  uv_timer_t output_timer_{};
  uint64_t output_dropped_ = 0;  // bytes of a line cut short when the budget ran out
  bool output_throttled_ = false;  // the notice was logged
  CloseCounter closer_;
  std::function<void()> on_closed_;
  bool closing_ = false;
  bool exited_ = false;

  FrameDecoder decoder_;
  std::string init_error_;
  std::string fatal_reason_;  // set when the host killed it for misbehaving

  uint32_t concurrency_ = 1;
  size_t capacity_ = 1;  // concurrency, or the pipeline depth of a serial worker
  uint64_t next_seq_ = 0;
  uv_prepare_t flusher_{};
  std::string out_buffer_;  // frames waiting for the end of this loop turn
  std::vector<InFlight> in_flight_;  // a few at most: a vector beats a map here

  std::chrono::steady_clock::time_point last_used_;
  std::chrono::steady_clock::time_point spawned_at_;
  // Set by stop(): when the process is killed if SIGTERM has not ended it.
  std::optional<std::chrono::steady_clock::time_point> kill_at_;
};

}  // namespace gust
