#include "runtime/exec/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "runtime/exec/thread_executor.h"
#include "runtime/exec/worker_environment.h"

namespace gust {
namespace {

// A failure in place of the function's answer, still saying whether it was a cold start.
Outcome failureInstead(const Outcome& answered, OutcomeKind kind, std::string message,
                       std::chrono::milliseconds retry_after = std::chrono::milliseconds(0)) {
  Outcome failed = failedOutcome(kind, std::move(message), retry_after);
  failed.cold_start = answered.cold_start;
  failed.cold_start_ms = answered.cold_start_ms;
  return failed;
}

}  // namespace

Dispatcher::Dispatcher(uv_loop_t* loop, const Clock& clock, std::string executable, WorkerContainment containment,
                       ForkClient* fork_client)
    : loop_(loop),
      clock_(clock),
      executable_(std::move(executable)),
      containment_(containment),
      app_uids_(containment.uids),
      fork_client_(fork_client) {}

Dispatcher::~Dispatcher() { assert((apps_.empty() && starting_.empty() && draining_.empty()) || closing_); }

Result<std::unique_ptr<Dispatcher::App>> Dispatcher::makeApp(AppInfo info) {
  auto app = std::make_unique<App>();
  PoolConfig config;
  config.app = info.manifest.name;
  config.app_dir = std::filesystem::absolute(info.dir).string();
  config.module_path = std::filesystem::absolute(info.dir / info.manifest.module).string();
  config.executable = executable_;
  config.settings = info.manifest.pool;
  config.containment = containment_;
  config.fork_client = fork_client_;
  if (info.manifest.isolation == Isolation::kProcess) config.cgroups = cgroups_;
  config.environment = workerEnvironment(info.env);
  config.state = state_;
  config.connections = connections_;
  if (telemetry_ != nullptr) {
    config.logs = &telemetry_->logs();
    // Taken once per version, so a cold start costs two adds.
    Counter* starts = &telemetry_->metrics().cold_starts->labels({info.manifest.name});
    Histogram* took = &telemetry_->metrics().cold_start_duration->labels({info.manifest.name});
    config.on_cold_start = [starts, took](double seconds) {
      starts->inc();
      took->observe(seconds);
    };
  }
  uint32_t index = 0;
  for (const auto& f : info.manifest.functions) {
    config.functions.push_back(f.name);
    Function& fn = app->functions[f.name];
    fn.index = index++;
    fn.timeout = info.manifest.timeoutOf(f);
    if (telemetry_ != nullptr) {
      // The series of every trigger are taken here, so an invocation never looks one up.
      for (size_t i = 0; i < fn.series.size(); ++i) {
        fn.series[i] = telemetry_->invocationSeries(info.manifest.name, f.name,
                                                    recordTriggerName(static_cast<RecordTrigger>(i)));
      }
    }
  }
  if (info.manifest.isolation == Isolation::kThread) {
    // Trusted code only: its module is loaded into this process (see thread_executor.h).
    ThreadExecutorConfig threads;
    threads.app = std::move(config.app);
    threads.module_path = std::move(config.module_path);
    threads.functions = std::move(config.functions);
    threads.settings = config.settings;
    threads.logs = config.logs;
    threads.state = config.state;
    threads.connections = config.connections;
    app->executor = std::make_unique<ThreadExecutor>(loop_, clock_, std::move(threads));
    app->containment = "none: runs in the host process (isolation thread)";
  } else {
    if (config.containment.drop_user) {
      auto uid = app_uids_.acquire(config.app);
      if (!uid) return uid.error();
      config.containment.uid = config.containment.gid = *uid;
    }
    app->containment = config.containment.describe();
    app->executor = std::make_unique<Pool>(loop_, clock_, std::move(config));
  }
  app->info = std::move(info);
  return app;
}

Result<void> Dispatcher::addApp(AppInfo info) {
  const std::string name = info.manifest.name;
  if (apps_.count(name) > 0) {
    return makeError(ErrorKind::kBadInput, "two apps are named \"" + name + "\" (" + apps_[name]->info.dir.string() +
                                               " and " + info.dir.string() + "); app names must be unique");
  }
  auto app = makeApp(std::move(info));
  if (!app) return app.error();
  (*app)->executor->start();
  apps_[name] = std::move(*app);
  return {};
}

void Dispatcher::deploy(AppInfo info, UniqueFunction<void()> on_activate, UniqueFunction<void(Result<void>)> done) {
  if (closing_) {
    done(makeError(ErrorKind::kUnavailable, "the host is shutting down"));
    return;
  }
  auto app = makeApp(std::move(info));
  if (!app) {
    done(app.error());
    return;
  }
  starting_.push_back(std::move(*app));
  App* raw = starting_.back().get();
  raw->executor->start();
  raw->executor->warmUp([this, raw, on_activate = std::move(on_activate),
                         done = std::move(done)](Result<void> ready) mutable {
    auto it = std::find_if(starting_.begin(), starting_.end(), [raw](const auto& a) { return a.get() == raw; });
    if (it == starting_.end()) {  // the host closed it meanwhile
      done(makeError(ErrorKind::kUnavailable, "the host is shutting down"));
      return;
    }
    std::unique_ptr<App> app = std::move(*it);
    starting_.erase(it);
    if (!ready || closing_) {
      std::string why = ready ? "the host is shutting down" : ready.error().message;
      retire(std::move(app));
      done(makeError(ErrorKind::kUnavailable, why));
      return;
    }
    const std::string name = app->info.manifest.name;
    spdlog::info("[{}] version {} is ready and takes traffic", name, app->info.version);
    std::unique_ptr<App>& slot = apps_[name];
    std::unique_ptr<App> old = std::move(slot);
    slot = std::move(app);
    on_activate();
    if (old) retire(std::move(old));
    done({});
  });
}

Result<void> Dispatcher::removeApp(const std::string& name) {
  auto it = apps_.find(name);
  if (it == apps_.end()) return makeError(ErrorKind::kNotFound, "no app named \"" + name + "\"");
  std::unique_ptr<App> app = std::move(it->second);
  apps_.erase(it);
  retire(std::move(app));
  return {};
}

void Dispatcher::retire(std::unique_ptr<App> app) {
  App* raw = app.get();
  draining_.push_back(std::move(app));
  // The callback runs from the executor's last close callback, never from inside its own
  // code, so the version may be freed there.
  raw->executor->drain([this, raw] {
    spdlog::debug("[{}] version {} stopped", raw->info.manifest.name, raw->info.version);
    std::string name = raw->info.manifest.name;
    std::erase_if(draining_, [raw](const auto& a) { return a.get() == raw; });
    releaseUidIfGone(name);
    if (closing_ && --executors_open_ == 0) {
      auto done = std::move(on_closed_);
      if (done) done();
    }
  });
}

void Dispatcher::releaseUidIfGone(const std::string& name) {
  auto named = [&name](const auto& a) { return a->info.manifest.name == name; };
  if (apps_.count(name) > 0 || std::any_of(starting_.begin(), starting_.end(), named) ||
      std::any_of(draining_.begin(), draining_.end(), named)) {
    return;
  }
  app_uids_.release(name);
}

std::string Dispatcher::containmentOf(const std::string& app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? std::string() : it->second->containment;
}

void Dispatcher::invoke(Invocation&& invocation, OutcomeCallback&& done) {
  auto it = apps_.find(invocation.app);
  if (it == apps_.end()) {
    done(failedOutcome(OutcomeKind::kNotFound, "no app named \"" + invocation.app + "\""));
    return;
  }
  App& app = *it->second;
  auto fn = app.functions.find(invocation.function);
  if (fn == app.functions.end()) {
    done(failedOutcome(OutcomeKind::kNotFound,
                       "app \"" + invocation.app + "\" has no function \"" + invocation.function + "\""));
    return;
  }
  if (invocation.trace.traceparent.empty()) {
    invocation.trace.traceparent = trace_ids_.newRoot().traceparent();
    invocation.trace.tracestate.clear();
  }
  const Function& f = fn->second;
  // The executor calls the outermost wrapper: publishes commit first, so a failed commit
  // is observed as the invocation's failure.
  if (telemetry_ != nullptr) done = observed(f, invocation, std::move(done));
  if (invocation.payload.messages.empty()) done = committingPublishes(invocation.app, invocation.trace, std::move(done));
  done = checkingPublishes(invocation.app, invocation.function, std::move(done));
  app.executor->submit(std::move(invocation), f.index, f.timeout, std::move(done));
}

OutcomeCallback Dispatcher::observed(const Function& fn, const Invocation& invocation, OutcomeCallback&& done) {
  return [observer = InvocationObserver::begin(*telemetry_, recorder_, clock_, fn.series, invocation),
          done = std::move(done)](Outcome&& outcome) mutable {
    observer.finish(outcome);
    done(std::move(outcome));
  };
}

OutcomeCallback Dispatcher::committingPublishes(std::string app, const TraceContext& trace, OutcomeCallback&& done) {
  return [this, app = std::move(app), trace, done = std::move(done)](Outcome&& outcome) mutable {
    if (outcome.kind != OutcomeKind::kOk || (outcome.publishes.empty() && outcome.state_writes.empty())) {
      done(std::move(outcome));
      return;
    }
    if (!publisher_) {
      done(failureInstead(outcome, OutcomeKind::kFunctionError,
                          outcome.state_writes.empty()
                              ? "the function published " + std::to_string(outcome.publishes.size()) +
                                    " message(s), but this host has no queue store"
                              : "the function wrote " + std::to_string(outcome.state_writes.size()) +
                                    " state key(s), but this host has no store for them"));
      return;
    }
    auto publishes = std::move(outcome.publishes);
    outcome.publishes.clear();
    AppStateWrites state{app, std::move(outcome.state_writes), {}};
    outcome.state_writes.clear();
    publisher_(std::move(publishes), std::move(state), trace,
               [outcome = std::move(outcome), done = std::move(done)](Result<void> published) mutable {
                 if (!published && published.error().kind == ErrorKind::kConflict) {
                   done(failureInstead(outcome, OutcomeKind::kConflict, published.error().message));
                   return;
                 }
                 if (!published) {
                   // The function's answer would claim work that was not queued. Bad input is
                   // the function's (a name or size the queue refuses); anything else is ours.
                   bool theirs = published.error().kind == ErrorKind::kBadInput;
                   done(failureInstead(outcome, theirs ? OutcomeKind::kFunctionError : OutcomeKind::kUnavailable,
                                       "cannot queue what the function published: " + published.error().message,
                                       std::chrono::seconds(1)));
                   return;
                 }
                 done(std::move(outcome));
               });
  };
}

OutcomeCallback Dispatcher::checkingPublishes(std::string app, std::string function, OutcomeCallback&& done) {
  return [this, app = std::move(app), function = std::move(function), done = std::move(done)](Outcome&& outcome) mutable {
    if (outcome.kind != OutcomeKind::kOk || outcome.publishes.empty()) {
      done(std::move(outcome));
      return;
    }
    auto it = apps_.find(app);
    const std::string source = "/apps/" + app + "/functions/" + function;
    for (Publish& p : outcome.publishes) {
      p.source = source;
      if (it != apps_.end() && it->second->info.manifest.mayPublishTo(p.queue)) continue;
      done(failureInstead(outcome, OutcomeKind::kFunctionError,
                          "the function published to \"" + p.queue + "\", which app \"" + app +
                              "\" neither lists in \"publishes\" (queues) or \"topics\" in its gust.json nor "
                              "consumes; add it there"));
      return;
    }
    done(std::move(outcome));
  };
}

void Dispatcher::setTelemetry(Telemetry* telemetry) {
  telemetry_ = telemetry;
  if (telemetry_ != nullptr) telemetry_->onScrape([this] { refreshGauges(); });
}

void Dispatcher::refreshGauges() {
  const GustMetrics& m = telemetry_->metrics();
  std::vector<std::string> now;
  for (const auto& [name, app] : apps_) {
    PoolStats stats = app->executor->stats();
    m.instances->labels({name, "starting"}).set(static_cast<double>(stats.starting));
    m.instances->labels({name, "idle"}).set(static_cast<double>(stats.idle));
    m.instances->labels({name, "busy"}).set(static_cast<double>(stats.busy));
    m.instances->labels({name, "draining"}).set(static_cast<double>(stats.stopping));
    m.pending_invocations->labels({name}).set(static_cast<double>(stats.pending));
    now.push_back(name);
  }
  // A removed app's gauges go with it rather than report its last values forever.
  for (const auto& gone : gauged_apps_) {
    if (apps_.count(gone) > 0) continue;
    for (const char* state : {"starting", "idle", "busy", "draining"}) m.instances->remove({gone, state});
    m.pending_invocations->remove({gone});
  }
  gauged_apps_ = std::move(now);
}

const AppInfo* Dispatcher::app(const std::string& name) const {
  auto it = apps_.find(name);
  return it == apps_.end() ? nullptr : &it->second->info;
}

std::vector<std::string> Dispatcher::appNames() const {
  std::vector<std::string> names;
  for (const auto& [name, app] : apps_) names.push_back(name);
  return names;
}

const Executor* Dispatcher::pool(const std::string& app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? nullptr : it->second->executor.get();
}

void Dispatcher::warmUp(const std::string& app, UniqueFunction<void(Result<void>)> on_ready) {
  auto it = apps_.find(app);
  if (it == apps_.end()) {
    on_ready(makeError(ErrorKind::kNotFound, "no app named " + app));
    return;
  }
  it->second->executor->warmUp(std::move(on_ready));
}

void Dispatcher::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  // Every executor goes through retire(), whose callback counts it down; then each is
  // closed at once rather than left to drain.
  executors_open_ = apps_.size() + starting_.size() + draining_.size() + 1;  // +1 until the loop ends
  for (auto& [name, app] : apps_) retire(std::move(app));
  apps_.clear();
  auto starting = std::move(starting_);
  starting_.clear();
  for (auto& app : starting) retire(std::move(app));
  std::vector<Executor*> all;
  for (auto& app : draining_) all.push_back(app->executor.get());
  for (Executor* e : all) e->close(nullptr);
  if (--executors_open_ == 0) {
    auto done = std::move(on_closed_);
    if (done) done();
  }
}

}  // namespace gust
