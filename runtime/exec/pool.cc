#include "runtime/exec/pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace gust {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

Pool::Pool(uv_loop_t* loop, const Clock& clock, PoolConfig config)
    : loop_(loop),
      clock_(clock),
      config_(std::move(config)),
      pending_(clock_, config_.app, "instance", config_.settings) {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

Pool::~Pool() { assert(closing_ && workers_.empty() && closing_workers_.empty()); }

void Pool::start() {
  for (uint32_t i = 0; i < config_.settings.min_instances; ++i) startWorker();
}

void Pool::warmUp(UniqueFunction<void(Result<void>)> on_ready) {
  if (closing_) {
    on_ready(makeError(ErrorKind::kUnavailable, "the pool is closing"));
    return;
  }
  if (countState(WorkerProcess::State::kReady) > 0) {
    on_ready({});
    return;
  }
  warm_up_waiters_.push_back(std::move(on_ready));
  if (countState(WorkerProcess::State::kStarting) == 0) startWorker();
}

void Pool::answerWarmUp(Result<void> result) {
  auto waiters = std::move(warm_up_waiters_);
  warm_up_waiters_.clear();
  for (auto& w : waiters) w(Result<void>(result));
}

void Pool::drain(std::function<void()> on_closed) {
  if (closing_) return;
  draining_ = true;
  on_drained_ = std::move(on_closed);
  closeIfDrained();
}

void Pool::closeIfDrained() {
  if (!draining_ || closing_ || !pending_.empty()) return;
  for (const auto& w : workers_) {
    if (w->inFlight() > 0) return;
  }
  close(nullptr);
}

Outcome Pool::unavailable(const std::string& why) const {
  auto wait = std::chrono::duration_cast<milliseconds>(next_start_allowed_ - clock_.now());
  return failedOutcome(OutcomeKind::kUnavailable, "app " + config_.app + " cannot start a worker: " + why,
                       std::max(wait, milliseconds(1000)));
}

void Pool::submit(Invocation&& invocation, uint32_t function_index, milliseconds timeout, OutcomeCallback&& done) {
  if (closing_) {
    done(failedOutcome(OutcomeKind::kUnavailable, "the host is shutting down", milliseconds(1000)));
    return;
  }
  if (WorkerProcess* worker = pickWorker()) {
    run(*worker, Pending{std::move(invocation), function_index, timeout, std::move(done), clock_.now()});
    return;
  }
  // In a crash loop with nothing alive, say why now instead of queueing for nothing.
  if (consecutive_start_failures_ > 0 && workers_.empty() && clock_.now() < next_start_allowed_) {
    done(unavailable(counters_.last_start_error));
    return;
  }
  if (!pending_.pushOrRefuse(Pending{std::move(invocation), function_index, timeout, std::move(done), {}})) return;
  maybeStartForPending();
  rearm();
}

WorkerProcess* Pool::pickWorker() const {
  size_t live = workers_.size() - countState(WorkerProcess::State::kStopping);
  // An instance on its way, or room for one, beats queueing behind a busy one.
  bool can_grow = live < config_.settings.max_instances || countState(WorkerProcess::State::kStarting) > 0;
  bool serial = config_.settings.concurrency == 1;
  // A serial instance takes one invocation at a time while the pool can still grow; past
  // that, work queues inside the least loaded instance (the pipeline). A concurrent
  // instance takes up to its concurrency, packed onto the busiest one with room and then
  // the most recently used, so that the rest stay idle long enough to be reaped.
  WorkerProcess* best = nullptr;
  for (const auto& w : workers_) {
    if (!w->hasCapacity()) continue;
    if (serial) {
      if (w->inFlight() > 0 && can_grow) continue;
      if (best == nullptr || w->inFlight() < best->inFlight() ||
          (w->inFlight() == best->inFlight() && w->lastUsed() > best->lastUsed())) {
        best = w.get();
      }
    } else if (best == nullptr || w->inFlight() > best->inFlight() ||
               (w->inFlight() == best->inFlight() && w->lastUsed() > best->lastUsed())) {
      best = w.get();
    }
  }
  return best;
}

void Pool::maybeStartForPending() {
  if (closing_ || clock_.now() < next_start_allowed_) return;
  size_t starting = countState(WorkerProcess::State::kStarting);
  size_t live = workers_.size() - countState(WorkerProcess::State::kStopping);
  // Start instances for the waiting invocations that starting instances will not take.
  size_t per_instance = config_.settings.concurrency;
  while (pending_.size() > starting * per_instance && live < config_.settings.max_instances) {
    startWorker();
    ++starting;
    ++live;
    if (consecutive_start_failures_ > 0) break;  // probing after failures: one at a time
  }
}

void Pool::startWorker() {
  auto failed = [this](const std::string& why) {
    spdlog::error("[{}] {}", config_.app, why);
    counters_.last_start_error = why;
    ++consecutive_start_failures_;
    next_start_allowed_ = clock_.now() + milliseconds(1000);
    if (workers_.empty()) pending_.failAll(unavailable(why));
    answerWarmUp(makeError(ErrorKind::kUnavailable, why));
  };
  WorkerSpawnOptions options;
  if (config_.cgroups != nullptr) {
    // A worker outside its cgroup would escape the app's limits: it does not start.
    auto cgroups = config_.cgroups->addWorker(config_.app, config_.settings);
    if (!cgroups) return failed("cannot create the worker's cgroup: " + cgroups.error().message);
    options.cgroups = std::move(*cgroups);
  }
  auto worker = std::make_unique<WorkerProcess>(loop_, clock_, *this, next_worker_id_++);
  options.executable = config_.executable;
  options.app = config_.app;
  options.app_dir = config_.app_dir;
  options.module_path = config_.module_path;
  options.functions = config_.functions;
  options.concurrency = config_.settings.concurrency;
  options.pipeline = config_.settings.pipeline;
  options.memory_mb = config_.settings.memory_mb;
  options.containment = config_.containment;
  options.fork_client = config_.fork_client;
  options.logs = config_.logs;
  options.state = config_.state;
  options.connections = config_.connections;
  options.environment = config_.environment;
  if (auto spawned = worker->spawn(options); !spawned) {
    closeWorker(std::move(worker), nullptr);
    return failed(spawned.error().message);
  }
  workers_.push_back(std::move(worker));
}

void Pool::onWorkerReady(WorkerProcess& worker) {
  consecutive_start_failures_ = 0;
  counters_.last_cold_start_ms =
      std::chrono::duration<double, std::milli>(clock_.now() - worker.spawnedAt()).count();
  spdlog::debug("[{}] worker {} (pid {}) ready in {:.1f} ms", config_.app, worker.id(), worker.pid(),
                counters_.last_cold_start_ms);
  if (config_.on_cold_start) config_.on_cold_start(counters_.last_cold_start_ms / 1000.0);
  // The invocations it takes now waited for it to start: they are cold starts.
  serving_cold_ = true;
  serveNextOrIdle(worker);
  serving_cold_ = false;
  answerWarmUp({});
}

void Pool::run(WorkerProcess& worker, Pending&& pending) {
  bool cold = serving_cold_;
  if (cold) ++counters_.cold_starts;
  OutcomeCallback done = std::move(pending.done);
  if (cold) {
    // Wrap only cold invocations, keeping the warm path free of another allocation.
    done = [inner = std::move(done), took = counters_.last_cold_start_ms](Outcome&& o) mutable {
      o.cold_start = true;
      o.cold_start_ms = took;
      inner(std::move(o));
    };
  }
  worker.invoke(std::move(pending.invocation), pending.function_index, pending.timeout, std::move(done));
}

void Pool::serveNextOrIdle(WorkerProcess& worker) {
  if (closing_) return;
  (void)worker;
  // The freed capacity may be this worker's, or (for a pipeline) better used elsewhere.
  while (!pending_.empty()) {
    WorkerProcess* next_worker = pickWorker();
    if (next_worker == nullptr) break;
    run(*next_worker, pending_.popFront());
  }
  rearm();
  closeIfDrained();
}

void Pool::onInvocationsReturned(WorkerProcess& worker, std::vector<Returned>&& returned) {
  if (closing_) {
    for (auto& r : returned) {
      r.done(failedOutcome(OutcomeKind::kUnavailable, "the host is shutting down", milliseconds(1000)));
    }
    return;
  }
  // They waited already: back to the front of the queue, oldest first.
  for (auto it = returned.rbegin(); it != returned.rend(); ++it) {
    pending_.pushFront(Pending{std::move(it->invocation), it->function_index, it->timeout, std::move(it->done), {}});
  }
  serveNextOrIdle(worker);
  maybeStartForPending();
}

void Pool::onInvocationDone(WorkerProcess& worker, Outcome&& outcome, OutcomeCallback&& done) {
  if (outcome.kind == OutcomeKind::kCrashed) ++counters_.crashes;
  done(std::move(outcome));
  serveNextOrIdle(worker);
}

void Pool::onWorkerExit(WorkerProcess& worker, const WorkerExit& exit, const std::string& init_error) {
  bool before_ready = !init_error.empty();
  if (before_ready) {
    ++counters_.crashes;
    ++counters_.start_failures;
    ++consecutive_start_failures_;
    counters_.last_start_error = init_error;
    // Exponential backoff: 100 ms, 200 ms, ... up to max_backoff.
    auto backoff = milliseconds(100) * (1u << std::min<uint32_t>(consecutive_start_failures_ - 1, 16));
    backoff = std::min(backoff, config_.max_backoff);
    next_start_allowed_ = clock_.now() + backoff;
    spdlog::error("[{}] worker {} failed to start ({}): {}; next start in {} ms", config_.app, worker.id(),
                  exit.describe(), init_error, backoff.count());
  } else if (worker.state() != WorkerProcess::State::kStopping || exit.term_signal != SIGTERM) {
    spdlog::debug("[{}] worker {} (pid {}) {}", config_.app, worker.id(), worker.pid(), exit.describe());
  }
  removeWorker(worker);
  if (before_ready && countState(WorkerProcess::State::kStarting) == 0 && workers_.empty()) {
    pending_.failAll(unavailable(init_error));
  }
  if (before_ready) answerWarmUp(makeError(ErrorKind::kUnavailable, init_error));
  maybeStartForPending();
  rearm();
  closeIfDrained();
}

void Pool::removeWorker(WorkerProcess& worker) {
  auto it = std::find_if(workers_.begin(), workers_.end(), [&](const auto& w) { return w.get() == &worker; });
  if (it == workers_.end()) return;
  std::unique_ptr<WorkerProcess> owned = std::move(*it);
  workers_.erase(it);
  closeWorker(std::move(owned), [this] {
    if (closing_ && workers_.empty() && closing_workers_.empty() && on_closed_) {
      closer_.closeAll({reinterpret_cast<uv_handle_t*>(&timer_)}, std::move(on_closed_));
    }
  });
}

void Pool::closeWorker(std::unique_ptr<WorkerProcess> worker, std::function<void()> then) {
  WorkerProcess* raw = worker.get();
  closing_workers_.push_back(std::move(worker));
  raw->close([this, raw, then = std::move(then)] {
    // Its process is reaped by now, so its cgroup can go (the kernel may still be tearing
    // down a PID namespace: AppCgroups retries what is busy).
    if (config_.cgroups != nullptr) config_.cgroups->removeWorker(raw->cgroups());
    std::erase_if(closing_workers_, [raw](const auto& w) { return w.get() == raw; });
    if (then) then();
  });
}

void Pool::tick() {
  if (closing_) return;
  // Each worker's own deadlines first: an invocation past its timeout frees its instance.
  // A worker that answers may make the pool close or remove workers, so go by a copy (a
  // removed worker is freed only later, from its close callback, and ignores the tick).
  std::vector<WorkerProcess*> ticking;
  for (const auto& w : workers_) ticking.push_back(w.get());
  for (WorkerProcess* w : ticking) w->tick();
  if (closing_) return;
  auto now = clock_.now();
  // Invocations that waited too long get 503 rather than waiting without end.
  pending_.failExpired();
  // Reap the least recently used idle instances, keeping min_instances.
  for (;;) {
    size_t live = workers_.size() - countState(WorkerProcess::State::kStopping);
    WorkerProcess* oldest = oldestIdle();
    if (oldest == nullptr || live <= config_.settings.min_instances ||
        now - oldest->lastUsed() < config_.settings.idle_timeout) {
      break;
    }
    spdlog::debug("[{}] worker {} idle for {} ms: stopping it", config_.app, oldest->id(),
                  config_.settings.idle_timeout.count());
    oldest->stop(config_.stop_grace);
  }
  maybeStartForPending();
  rearm();
  closeIfDrained();
}

void Pool::rearm() {
  if (closing_) return;
  auto now = clock_.now();
  std::optional<steady_clock::time_point> wake;
  auto consider = [&](steady_clock::time_point t) {
    if (!wake || t < *wake) wake = t;
  };
  if (auto deadline = pending_.nextDeadline()) consider(*deadline);
  if (!pending_.empty() && now < next_start_allowed_) consider(next_start_allowed_);
  size_t live = workers_.size() - countState(WorkerProcess::State::kStopping);
  if (WorkerProcess* oldest = oldestIdle(); oldest != nullptr && live > config_.settings.min_instances) {
    consider(oldest->lastUsed() + config_.settings.idle_timeout);
  }
  if (!wake) {
    uv_timer_stop(&timer_);
    return;
  }
  auto delay = std::chrono::duration_cast<milliseconds>(*wake - now).count();
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<Pool*>(t->data)->tick(); },
                 static_cast<uint64_t>(std::max<int64_t>(delay, 0)) + 1, 0);
}

WorkerProcess* Pool::oldestIdle() const {
  WorkerProcess* oldest = nullptr;
  for (const auto& w : workers_) {
    if (w->idle() && (oldest == nullptr || w->lastUsed() < oldest->lastUsed())) oldest = w.get();
  }
  return oldest;
}

size_t Pool::countState(WorkerProcess::State state) const {
  return static_cast<size_t>(
      std::count_if(workers_.begin(), workers_.end(), [&](const auto& w) { return w->state() == state; }));
}

PoolStats Pool::stats() const {
  PoolStats s = counters_;
  s.starting = countState(WorkerProcess::State::kStarting);
  for (const auto& w : workers_) {
    if (w->state() == WorkerProcess::State::kReady) (w->idle() ? s.idle : s.busy)++;
  }
  s.stopping = countState(WorkerProcess::State::kStopping);
  s.pending = pending_.size();
  return s;
}

void Pool::close(std::function<void()> on_closed) {
  if (closing_) return;
  closing_ = true;
  // A draining pool told to close now still owes its drain callback.
  on_closed_ = [this, drained = std::exchange(on_drained_, nullptr), closed = std::move(on_closed)] {
    if (config_.cgroups != nullptr) config_.cgroups->removeApp(config_.app);
    if (closed) closed();
    if (drained) drained();
  };
  answerWarmUp(makeError(ErrorKind::kUnavailable, "the pool is closing"));
  pending_.failAll(failedOutcome(OutcomeKind::kUnavailable, "the host is shutting down", milliseconds(1000)));
  uv_timer_stop(&timer_);
  if (workers_.empty() && closing_workers_.empty()) {
    closer_.closeAll({reinterpret_cast<uv_handle_t*>(&timer_)}, std::move(on_closed_));
    return;
  }
  // Copy: removeWorker edits workers_.
  std::vector<WorkerProcess*> all;
  for (auto& w : workers_) all.push_back(w.get());
  for (WorkerProcess* w : all) removeWorker(*w);
}

}  // namespace gust
