#pragma once
// The one place every trigger hands its invocations to: it finds the app's pool and the
// function, applies the function's timeout, and answers with one Outcome. It knows nothing
// of HTTP, cron or queues.
//
// An app has one active version at a time. A deploy starts the new version's executor next
// to the active one; once an instance has passed its ready handshake the new version takes
// every new invocation in the same loop turn, and the old one finishes what it holds, then
// stops. A version that cannot start never takes traffic.
//
// Owning thread: the loop thread. Owned by the Host; close() closes every executor and
// calls back once they are all closed.

#include <uv.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "functions/app_env.h"
#include "functions/manifest.h"
#include "runtime/base/clock.h"
#include "runtime/protocol/invocation.h"
#include "runtime/observe/invocation_recorder.h"
#include "runtime/exec/connection_sink.h"
#include "runtime/exec/executor.h"
#include "runtime/exec/invocation_observer.h"
#include "runtime/exec/pool.h"
#include "runtime/observe/telemetry.h"
#include "runtime/protocol/trace_context.h"
#include "runtime/store/state_store.h"

namespace gust {

struct AppInfo {
  Manifest manifest;
  std::filesystem::path dir;
  std::string version;  // empty for an app served from its source directory
  AppEnv env;           // its own variables, given to its workers (see worker_environment.h)
};

class Dispatcher {
 public:
  // With `fork_client`, workers are forked from the host's fork server (see ForkClient).
  Dispatcher(uv_loop_t* loop, const Clock& clock, std::string executable, WorkerContainment containment,
             ForkClient* fork_client = nullptr);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Registers an app and starts its executor (min_instances instances); it takes traffic at
  // once. Used at startup.
  Result<void> addApp(AppInfo app);

  // Starts `app` as a new version of its app (or a new app) and makes it active once one
  // instance is ready. `done` runs once: with success after the swap, or with why the
  // version could not start (the active version, if any, keeps serving). Before `done`
  // reports success, `on_activate` runs in the same loop turn as the swap, so that the
  // caller can switch routes and timers at the very moment the version takes traffic.
  void deploy(AppInfo app, UniqueFunction<void()> on_activate, UniqueFunction<void(Result<void>)> done);

  // Stops routing to `app`; its active version drains, then stops.
  Result<void> removeApp(const std::string& name);

  // Where invocations are counted, timed, traced and their workers' output sent; set once,
  // before the first addApp. Without it nothing is recorded.
  void setTelemetry(Telemetry* telemetry);
  Telemetry* telemetry() const { return telemetry_; }
  // The cgroups each worker process gets (see AppCgroups); set once, before the first
  // addApp. Without it workers keep only their per-process rlimits.
  void setCgroups(AppCgroups* cgroups) { cgroups_ = cgroups; }
  const AppCgroups* cgroups() const { return cgroups_; }
  // Where a record of every finished invocation goes (with telemetry set); set once,
  // before the first addApp. It must outlive every invocation's outcome.
  void setRecorder(InvocationRecorder* recorder) { recorder_ = recorder; }
  // Where functions' state reads go (docs/architecture.md "App state"); set once, before
  // the first addApp. Without it a read fails (GUST_E_UNAVAILABLE) and says why.
  void setStateStore(StateStore* state) { state_ = state; }
  // Where functions' calls on WebSocket connections go (see connection_sink.h); set once,
  // before the first addApp. Without it every such call answers GUST_E_NOT_FOUND.
  void setConnectionSink(ConnectionSink* connections) { connections_ = connections; }

  // Commits what a function published and the app state it wrote, in one transaction:
  // `done` runs once, after the commit or with why it failed (kConflict: a state write's
  // version check failed). The host sets it to the queue trigger's publish().
  using Publisher = std::function<void(std::vector<Publish>, AppStateWrites, const TraceContext&,
                                       UniqueFunction<void(Result<void>)>)>;
  // For every invocation but a queue batch (whose publishes commit with its settlements,
  // see QueueTrigger), what the function published is committed before its outcome goes
  // on, so that any answer a trigger gives afterwards (a 200, a stored async result, a
  // timer run marked ok) means the messages are queued. If the commit fails the outcome
  // becomes a failure. Without a publisher, an invocation that publishes fails. So does
  // one (a queue batch too) that publishes to a queue its app neither declares in
  // "publishes" nor consumes: nothing of it is committed. State writes go the same way;
  // a conflict makes the outcome kConflict (409).
  void setPublisher(Publisher publisher) { publisher_ = std::move(publisher); }

  // `done` runs exactly once, on the loop thread. An invocation without a traceparent gets
  // a new root span here (timers, and queue messages published without one).
  void invoke(Invocation&& invocation, OutcomeCallback&& done);

  const AppInfo* app(const std::string& name) const;
  std::vector<std::string> appNames() const;
  // The active version's executor.
  const Executor* pool(const std::string& app) const;
  // Calls `on_ready` once the active version of `app` has an instance ready, or with why it
  // could not start one (Executor::warmUp); at once with kNotFound for an unknown app.
  void warmUp(const std::string& app, UniqueFunction<void(Result<void>)> on_ready);
  // How the active version's workers are contained, in one line (WorkerContainment::
  // describe()); empty for an unknown app.
  std::string containmentOf(const std::string& app) const;
  // Versions still finishing work after a newer one took over.
  size_t drainingVersions() const { return draining_.size(); }

  void close(std::function<void()> on_closed);

 private:
  struct Function {
    uint32_t index = 0;
    std::chrono::milliseconds timeout{0};
    // Null without telemetry.
    SeriesByTrigger series{};
  };
  struct App {
    AppInfo info;
    std::map<std::string, Function, std::less<>> functions;
    std::unique_ptr<Executor> executor;
    std::string containment;  // WorkerContainment::describe() of its workers
  };

  // Fails only when a root host has no worker uid left for a new app.
  Result<std::unique_ptr<App>> makeApp(AppInfo info);
  // Frees the app's uid once none of its versions is left.
  void releaseUidIfGone(const std::string& name);
  // Accounts for the outcome of `invocation` (see InvocationObserver) on its way to `done`.
  OutcomeCallback observed(const Function& fn, const Invocation& invocation, OutcomeCallback&& done);
  // Commits the outcome's publishes (see setPublisher) on its way to `done`.
  OutcomeCallback committingPublishes(std::string app, const TraceContext& trace, OutcomeCallback&& done);
  // Fails an outcome that published to a queue or topic its app may not publish to (see
  // Manifest::mayPublishTo), by the manifest of the app's version active when it ends, and
  // stamps each publish with its source.
  OutcomeCallback checkingPublishes(std::string app, std::string function, OutcomeCallback&& done);
  // Sets the instance and pending gauges from each active version's stats.
  void refreshGauges();
  // Hands an app that no longer takes traffic to draining_, freeing it once it has stopped.
  void retire(std::unique_ptr<App> app);

  uv_loop_t* loop_;
  const Clock& clock_;
  std::string executable_;
  WorkerContainment containment_;
  AppUids app_uids_;
  ForkClient* fork_client_;
  Telemetry* telemetry_ = nullptr;
  InvocationRecorder* recorder_ = nullptr;
  StateStore* state_ = nullptr;
  ConnectionSink* connections_ = nullptr;
  AppCgroups* cgroups_ = nullptr;
  Publisher publisher_;
  TraceIdGenerator trace_ids_;
  std::vector<std::string> gauged_apps_;  // apps whose gauges the last scrape set
  std::map<std::string, std::unique_ptr<App>, std::less<>> apps_;
  std::vector<std::unique_ptr<App>> starting_;  // deploys waiting for their first instance
  std::vector<std::unique_ptr<App>> draining_;
  bool closing_ = false;
  size_t executors_open_ = 0;
  std::function<void()> on_closed_;
};

}  // namespace gust
