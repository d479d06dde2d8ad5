#include "runtime/exec/thread_executor.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>

#include "functions/worker/invoke_module.h"
#include "functions/worker/module_loader.h"
#include "runtime/protocol/frame.h"
#include "runtime/exec/worker_process.h"

namespace gust {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// Like a worker process's captured output: at most this much of one invocation's log.
constexpr size_t kMaxLogPerInvocation = 64 * 1024;

// A function's ctx.log lines, kept with its job (on the job's thread) and logged by the loop
// when the job comes back, attributed as a worker process's lines are (see emitLogs).
struct JobLog final : public InvocationLog {
  void line(uint64_t, uint32_t level, std::string_view message) override {
    if (bytes >= kMaxLogPerInvocation) {
      dropped += message.size() + 1;
      return;
    }
    bytes += message.size() + 1;
    lines.emplace_back(level, std::string(message));
  }

  std::vector<std::pair<uint32_t, std::string>> lines;
  size_t bytes = 0, dropped = 0;
};

// The InvokeFrame a worker would decode for `invocation`, borrowing from it.
InvokeFrame frameOf(const Invocation& invocation, uint32_t function_index, milliseconds timeout) {
  const Payload& p = invocation.payload;
  InvokeFrame f;
  f.invocation_id = invocation.id;
  f.function_index = function_index;
  f.timeout_ms = static_cast<uint32_t>(timeout.count());
  f.trigger = p.trigger;
  f.method = p.method;
  f.path = p.path;
  f.query = p.query;
  f.headers.reserve(p.headers.size());
  for (const auto& [k, v] : p.headers) f.headers.emplace_back(k, v);
  f.params.reserve(p.params.size());
  for (const auto& [k, v] : p.params) f.params.emplace_back(k, v);
  f.body = p.body;
  f.traceparent = invocation.trace.traceparent;
  f.tracestate = invocation.trace.tracestate;
  f.connection_id = p.connection_id;
  f.binary = p.binary;
  f.close_code = p.close_code;
  f.messages.reserve(p.messages.size());
  for (const QueueMessage& m : p.messages) {
    InvokeMessage im;
    im.id = m.id;
    im.queue = m.queue;
    im.body = m.body;
    im.headers.reserve(m.headers.size());
    for (const auto& [k, v] : m.headers) im.headers.emplace_back(k, v);
    im.attempt = m.attempt;
    im.enqueued_at_ms = m.enqueued_at_ms;
    f.messages.push_back(std::move(im));
  }
  return f;
}

size_t resultBytes(const ResultFrame& r) {
  size_t n = r.body.size();
  for (const auto& [k, v] : r.headers) n += k.size() + v.size();
  for (const Publish& p : r.publishes) n += p.queue.size() + p.id.size() + p.body.size();
  return n;
}

}  // namespace

// One invocation handed to a thread. The loop thread owns it (running_) until the thread
// has put it on Shared::finished; the thread reads `invocation` and writes `result` only.
struct ThreadExecutor::Job {
  Invocation invocation;
  uint32_t function_index = 0;
  gust_function_fn fn = nullptr;
  milliseconds timeout{0};
  steady_clock::time_point deadline;
  OutcomeCallback done;  // empty once answered: the caller got its 504 (or 503 at close)
  bool cold = false;
  ResultFrame result;
  JobLog log;
};

// What the loop thread and the worker threads share. Held by shared_ptr because a thread
// left running at close must outlive the executor.
struct ThreadExecutor::Shared {
  std::string app;
  StateStore* state = nullptr;
  ConnectionSink* connections = nullptr;  // called on the loop thread only
  milliseconds idle_timeout{0};
  size_t keep = 0;  // threads that do not idle out: min_instances x concurrency

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job*> queue;       // handed over, not taken yet
  std::vector<Job*> finished;   // run, waiting for the loop thread
  std::vector<std::thread::id> exited;
  size_t live = 0;     // threads started and not exited
  size_t waiting = 0;  // threads blocked for work
  bool stopping = false;
  uv_async_t* async = nullptr;  // null once the loop side stopped listening
  std::vector<std::unique_ptr<Job>> orphans;  // jobs of threads detached at close

  // A connection call a handler thread waits on: the loop thread answers it (serveConnectionCalls)
  // or, once it stopped listening, answerAbandonedCalls does. Lives on the asking thread's stack.
  struct PendingCall {
    const ConnectionCall* call;
    int32_t status = 0;
    bool answered = false;
  };
  std::deque<PendingCall*> calls;  // posted, not taken by the loop yet
  std::condition_variable answered;

  // Nobody will serve the calls still posted (the caller holds `mutex`): with the executor
  // gone, the function reaches no connection.
  void answerAbandonedCalls() {
    for (PendingCall* c : calls) {
      c->status = GUST_E_NOT_FOUND;
      c->answered = true;
    }
    calls.clear();
    answered.notify_all();
  }

  // Tells the loop thread; the caller holds `mutex`.
  void notifyLoop() {
    if (async != nullptr) uv_async_send(async);
  }

  static void threadMain(std::shared_ptr<Shared> s) {
    std::unique_lock<std::mutex> lock(s->mutex);
    for (;;) {
      if (s->queue.empty()) {
        if (s->stopping) break;
        ++s->waiting;
        // Real time, not the injected clock: the thread decides for itself, where no tick
        // reaches it. The rules the loop applies (timeouts, pending) go by the clock.
        bool woken = s->wake.wait_for(lock, s->idle_timeout, [&] { return s->stopping || !s->queue.empty(); });
        --s->waiting;
        if (!woken && s->live > s->keep) break;  // idle past idle_timeout
        continue;
      }
      Job* job = s->queue.front();
      s->queue.pop_front();
      lock.unlock();
      runJob(*s, *job);
      lock.lock();
      s->finished.push_back(job);
      s->notifyLoop();
    }
    --s->live;
    s->exited.push_back(std::this_thread::get_id());
    s->notifyLoop();
  }

  // A function's state reads, on its own thread: the store runs them on the writer
  // thread and this one waits, as a worker process waits for its STATE_VALUE.
  class BlockingStateReader final : public StateReader {
   public:
    BlockingStateReader(StateStore* store, const std::string& app) : store_(store), app_(app) {}
    Result<std::optional<StateValue>> get(uint64_t, std::string_view key) override {
      if (store_ == nullptr) return makeError(ErrorKind::kUnavailable, "this host keeps no app state (it has no data dir)");
      auto item = store_->getBlocking(app_, std::string(key));
      if (!item) return item.error();
      if (!*item) return std::optional<StateValue>();
      return std::optional<StateValue>(StateValue{std::move((*item)->value), (*item)->version});
    }

   private:
    StateStore* store_;
    const std::string& app_;
  };

  // A function's connection calls, on its own thread: the registry lives on the loop
  // thread, so the call is posted there and this thread waits for its answer.
  class PostingConnectionCaller final : public ConnectionCaller {
   public:
    explicit PostingConnectionCaller(Shared& shared) : shared_(shared) {}
    int32_t call(uint64_t, const ConnectionCall& call) override {
      PendingCall pending{&call};
      std::unique_lock<std::mutex> lock(shared_.mutex);
      if (shared_.async == nullptr) return GUST_E_NOT_FOUND;
      shared_.calls.push_back(&pending);
      shared_.notifyLoop();
      shared_.answered.wait(lock, [&] { return pending.answered; });
      return pending.status;
    }

   private:
    Shared& shared_;
  };

  static void runJob(Shared& s, Job& job) {
    const std::string& app = s.app;
    const Invocation& inv = job.invocation;
    try {
      InvokeFrame frame = frameOf(inv, job.function_index, job.timeout);
      BlockingStateReader reader(s.state, app);
      PostingConnectionCaller connections(s);
      job.result = invokeModule(job.fn, frame, app, inv.function, job.log, &reader, &connections);
      if (size_t bytes = resultBytes(job.result); bytes > kMaxFramePayload) {
        // The limit a worker process keeps, so that an app answers alike in both isolations.
        ResultFrame too_big;
        too_big.kind = ResultKind::kError;
        too_big.status = 500;
        too_big.body = "the function's response of " + std::to_string(bytes) + " bytes is larger than the limit of " +
                       std::to_string(kMaxFramePayload) + " bytes";
        job.result = std::move(too_big);
      }
    } catch (const std::exception& e) {
      // invokeModule does not throw, but copying a huge request may run out of memory.
      job.result = ResultFrame{};
      job.result.kind = ResultKind::kError;
      job.result.status = 500;
      job.result.body = std::string("the host could not run the function: ") + e.what();
    }
  }
};

ThreadExecutor::ThreadExecutor(uv_loop_t* loop, const Clock& clock, ThreadExecutorConfig config)
    : loop_(loop),
      clock_(clock),
      config_(std::move(config)),
      shared_(std::make_shared<Shared>()),
      pending_(clock_, config_.app, "thread", config_.settings) {
  shared_->app = config_.app;
  shared_->state = config_.state;
  shared_->connections = config_.connections;
  shared_->idle_timeout = config_.settings.idle_timeout;
  shared_->keep = static_cast<size_t>(config_.settings.min_instances) * std::max<uint32_t>(1, config_.settings.concurrency);
  uv_async_init(loop_, &async_, [](uv_async_t* a) { static_cast<ThreadExecutor*>(a->data)->onAsync(); });
  async_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
  shared_->async = &async_;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

ThreadExecutor::~ThreadExecutor() { assert(closing_ && threads_.empty()); }

size_t ThreadExecutor::slots() const {
  return std::max<size_t>(1, static_cast<size_t>(config_.settings.max_instances) *
                                 std::max<uint32_t>(1, config_.settings.concurrency));
}

Result<void> ThreadExecutor::loadModule() {
  if (module_ != nullptr) return {};
  if (!load_error_.empty() && clock_.now() < next_load_allowed_) {
    return makeError(ErrorKind::kUnavailable, load_error_);
  }
  auto started = steady_clock::now();
  // Its constructors run here, in the host: the trade-off of thread isolation.
  auto module = gust::loadModule(config_.module_path, config_.functions);
  if (!module) {
    const std::string& why = module.error().message;
    if (why != load_error_) spdlog::error("[{}] {}", config_.app, why);
    load_error_ = why;
    counters_.last_start_error = why;
    ++counters_.start_failures;
    // A module does not change under a running host, but `gust build` may replace it.
    next_load_allowed_ = clock_.now() + milliseconds(1000);
    return module.error();
  }
  module_ = module->handle;
  functions_ = std::move(module->functions);
  load_error_.clear();
  served_first_ = false;
  counters_.last_cold_start_ms = std::chrono::duration<double, std::milli>(steady_clock::now() - started).count();
  spdlog::debug("[{}] module loaded into the host (isolation thread) in {:.1f} ms", config_.app,
                counters_.last_cold_start_ms);
  return {};
}

void ThreadExecutor::start() {
  if (closing_ || !loadModule()) return;
  startThreads(shared_->keep);
}

void ThreadExecutor::warmUp(UniqueFunction<void(Result<void>)> on_ready) {
  if (closing_) {
    on_ready(makeError(ErrorKind::kUnavailable, "the executor is closing"));
    return;
  }
  on_ready(loadModule());
}

void ThreadExecutor::startThreads(size_t count) {
  for (size_t i = 0; i < count; ++i) {
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      ++shared_->live;
    }
    try {
      threads_.emplace_back(Shared::threadMain, shared_);
    } catch (const std::system_error& e) {
      {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        --shared_->live;
      }
      // What was handed over waits for a thread; its timeout answers it if none comes.
      spdlog::error("[{}] cannot start a thread for the app: {} (the process or user thread limit?)", config_.app,
                    e.what());
      return;
    }
  }
}

void ThreadExecutor::submit(Invocation&& invocation, uint32_t function_index, milliseconds timeout,
                            OutcomeCallback&& done) {
  if (closing_) {
    done(failedOutcome(OutcomeKind::kUnavailable, "the host is shutting down", milliseconds(1000)));
    return;
  }
  if (auto loaded = loadModule(); !loaded) {
    done(failedOutcome(OutcomeKind::kUnavailable,
                       "app " + config_.app + " cannot load its module: " + loaded.error().message,
                       milliseconds(1000)));
    return;
  }
  Pending p{std::move(invocation), function_index, timeout, std::move(done), clock_.now()};
  if (pending_.empty() && running_.size() < slots()) {
    run(std::move(p));
    rearm();
    return;
  }
  if (!pending_.pushOrRefuse(std::move(p))) return;
  rearm();
}

void ThreadExecutor::run(Pending&& pending) {
  auto job = std::make_unique<Job>();
  job->invocation = std::move(pending.invocation);
  job->function_index = pending.function_index;
  job->fn = functions_[pending.function_index];
  job->timeout = pending.timeout;
  job->deadline = clock_.now() + pending.timeout;
  job->done = std::move(pending.done);
  job->cold = !served_first_;
  served_first_ = true;
  if (job->cold) ++counters_.cold_starts;
  Job* raw = job.get();
  running_.push_back(std::move(job));
  bool need_thread;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->queue.push_back(raw);
    // Every handed-over job has a slot, so there is room for a thread when none waits.
    need_thread = shared_->queue.size() > shared_->waiting;
  }
  shared_->wake.notify_one();
  if (need_thread) startThreads(1);
  updateRef();
}

void ThreadExecutor::serveConnectionCalls() {
  std::deque<Shared::PendingCall*> calls;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    calls.swap(shared_->calls);
  }
  if (calls.empty()) return;
  // Outside the lock: the sink may take its time, and the threads go on meanwhile. Each
  // call's thread waits on its stack until answered, so the pointer stays good; the answer
  // may come later (a connection on another host), after this executor closed, hence the
  // shared state it holds.
  for (Shared::PendingCall* c : calls) {
    auto answer = [shared = shared_, c](int32_t status) {
      std::lock_guard<std::mutex> lock(shared->mutex);
      c->status = status;
      c->answered = true;
      shared->answered.notify_all();
    };
    if (shared_->connections == nullptr) {
      answer(GUST_E_NOT_FOUND);
    } else {
      shared_->connections->call(config_.app, *c->call, std::move(answer));
    }
  }
}

void ThreadExecutor::onAsync() {
  serveConnectionCalls();
  std::vector<Job*> finished;
  std::vector<std::thread::id> exited;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    finished.swap(shared_->finished);
    exited.swap(shared_->exited);
  }
  for (Job* raw : finished) {
    auto it = std::find_if(running_.begin(), running_.end(), [raw](const auto& j) { return j.get() == raw; });
    assert(it != running_.end());
    std::unique_ptr<Job> job = std::move(*it);
    running_.erase(it);
    finish(*job);
  }
  for (std::thread::id id : exited) {
    auto it = std::find_if(threads_.begin(), threads_.end(), [id](const std::thread& t) { return t.get_id() == id; });
    if (it == threads_.end()) continue;
    it->join();  // it has left threadMain: this returns at once
    threads_.erase(it);
  }
  if (closing_) {
    if (threads_.empty()) closeHandles();
    return;
  }
  serveNext();
  updateRef();
  rearm();
  closeIfDrained();
}

void ThreadExecutor::emitLogs(Job& job) {
  const Invocation& inv = job.invocation;
  std::string_view trace_id = traceIdIn(inv.trace.traceparent);
  const InvocationFields fields{config_.app, inv.function, inv.id, trace_id};
  for (auto& [level, text] : job.log.lines) {
    auto spd_level = functionLogLevel(level);
    logInvocation(spd_level, fields, "log: " + text);
    if (config_.logs != nullptr) {
      config_.logs->append(invocationLogLine(fields, LogStream::kLog, spd_level, std::move(text)));
    }
  }
  if (job.log.dropped > 0) {
    spdlog::warn("[{}/{} {}] output truncated: {} more bytes dropped (limit {} bytes per invocation)", config_.app,
                 inv.function, inv.id, job.log.dropped, kMaxLogPerInvocation);
  }
  job.log = JobLog{};
}

void ThreadExecutor::finish(Job& job) {
  const Invocation& inv = job.invocation;
  // Before the outcome, so that the invocation's record finds its lines.
  emitLogs(job);
  if (!job.done) {
    auto late = std::chrono::duration_cast<milliseconds>(clock_.now() - job.deadline);
    spdlog::warn("[{}/{} {}] the function returned {} ms after its timeout; its result is dropped and its thread is "
                 "free again",
                 config_.app, inv.function, inv.id, late.count());
    return;
  }
  auto outcome = outcomeOfResult(std::move(job.result), inv.payload.messages.size());
  Outcome answer = outcome ? std::move(*outcome) : failedOutcome(OutcomeKind::kFunctionError, outcome.error().message);
  answer.cold_start = job.cold;
  if (job.cold) answer.cold_start_ms = counters_.last_cold_start_ms;
  auto done = std::move(job.done);
  done(std::move(answer));
}

void ThreadExecutor::serveNext() {
  while (!closing_ && !pending_.empty() && running_.size() < slots()) {
    run(pending_.popFront());
  }
}

void ThreadExecutor::tick() {
  if (closing_) return;
  pending_.failExpired();
  auto now = clock_.now();
  for (auto& job : running_) {
    if (!job->done || now < job->deadline) continue;
    // A thread cannot be stopped: answer now, and let the handler run on in its slot.
    spdlog::warn("[{}/{} {}] the function did not answer within its timeout of {} ms: answered 504; its host thread "
                 "cannot be stopped and stays busy until the function returns (isolation thread)",
                 config_.app, job->invocation.function, job->invocation.id, job->timeout.count());
    auto done = std::move(job->done);
    job->done = nullptr;
    done(failedOutcome(OutcomeKind::kTimedOut,
                       "function did not answer within its timeout; it runs on in its host thread (isolation thread)"));
  }
  rearm();
  closeIfDrained();
}

void ThreadExecutor::rearm() {
  if (closing_) return;
  std::optional<steady_clock::time_point> wake;
  auto consider = [&](steady_clock::time_point t) {
    if (!wake || t < *wake) wake = t;
  };
  if (auto deadline = pending_.nextDeadline()) consider(*deadline);
  for (const auto& job : running_) {
    if (job->done) consider(job->deadline);
  }
  if (!wake) {
    uv_timer_stop(&timer_);
    return;
  }
  auto delay = std::chrono::duration_cast<milliseconds>(*wake - clock_.now()).count();
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<ThreadExecutor*>(t->data)->tick(); },
                 static_cast<uint64_t>(std::max<int64_t>(delay, 0)) + 1, 0);
}

void ThreadExecutor::updateRef() {
  // Results on their way keep the loop alive, as a worker's pipe does; an idle app does not.
  auto* handle = reinterpret_cast<uv_handle_t*>(&async_);
  if (closing_ || !running_.empty()) uv_ref(handle);
  else uv_unref(handle);
}

void ThreadExecutor::drain(std::function<void()> on_closed) {
  if (closing_) return;
  draining_ = true;
  on_drained_ = std::move(on_closed);
  closeIfDrained();
}

void ThreadExecutor::closeIfDrained() {
  if (!draining_ || closing_ || !pending_.empty()) return;
  // A job already answered (timed out) owes nobody anything: close() waits for its thread.
  for (const auto& job : running_) {
    if (job->done) return;
  }
  close(nullptr);
}

PoolStats ThreadExecutor::stats() const {
  PoolStats s = counters_;
  size_t live;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    live = shared_->live;
  }
  s.busy = running_.size();
  s.idle = live > s.busy ? live - s.busy : 0;
  s.pending = pending_.size();
  return s;
}

void ThreadExecutor::close(std::function<void()> on_closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = [drained = std::exchange(on_drained_, nullptr), closed = std::move(on_closed)] {
    if (closed) closed();
    if (drained) drained();
  };
  std::deque<Job*> untaken;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
    untaken.swap(shared_->queue);
  }
  shared_->wake.notify_all();
  pending_.failAll(failedOutcome(OutcomeKind::kUnavailable, "the host is shutting down", milliseconds(1000)));
  // What no thread took yet never starts; what runs may still answer within the grace.
  for (Job* raw : untaken) {
    auto it = std::find_if(running_.begin(), running_.end(), [raw](const auto& j) { return j.get() == raw; });
    assert(it != running_.end());
    std::unique_ptr<Job> job = std::move(*it);
    running_.erase(it);
    if (job->done) {
      job->done(failedOutcome(OutcomeKind::kUnavailable, "the host is shutting down", milliseconds(1000)));
    }
  }
  uv_timer_stop(&timer_);
  updateRef();
  if (threads_.empty()) {
    closeHandles();
    return;
  }
  // Threads leave as soon as their handler returns; wait for them, but not for ever.
  uv_ref(reinterpret_cast<uv_handle_t*>(&timer_));
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<ThreadExecutor*>(t->data)->onGraceOver(); },
                 static_cast<uint64_t>(config_.stop_grace.count()), 0);
}

void ThreadExecutor::onGraceOver() {
  if (threads_.empty()) return;
  std::string names;
  for (auto& job : running_) {
    names += (names.empty() ? "" : ", ") + job->invocation.function;
    if (!job->done) continue;
    auto done = std::move(job->done);
    job->done = nullptr;
    done(failedOutcome(OutcomeKind::kUnavailable, "the app was stopped before the function answered",
                       milliseconds(1000)));
  }
  spdlog::error("[{}] {} function(s) still running {} ms after the app was stopped ({}): their threads are left "
                "running and the host will exit without waiting for them (isolation thread)",
                config_.app, threads_.size(), config_.stop_grace.count(), names);
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->async = nullptr;
    shared_->answerAbandonedCalls();
    // The threads still write to their jobs: the shared state keeps them.
    for (auto& job : running_) shared_->orphans.push_back(std::move(job));
  }
  running_.clear();
  for (auto& t : threads_) t.detach();
  threads_.clear();
  detached_ = true;
  closeHandles();
}

void ThreadExecutor::closeHandles() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->async = nullptr;
    shared_->answerAbandonedCalls();
  }
  uv_timer_stop(&timer_);
  // Unload only when no thread can be inside the module; a detached one may still be.
  if (module_ != nullptr && !detached_) dlclose(module_);
  module_ = nullptr;
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&async_), reinterpret_cast<uv_handle_t*>(&timer_)},
                   std::move(on_closed_));
}

}  // namespace gust
