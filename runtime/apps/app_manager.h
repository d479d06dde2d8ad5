#pragma once
// Brings app versions into service and out of it: apps served from their source folders
// (`gust serve DIR`), every app's active version from the app store at startup, and
// deploys, rollbacks and removals from the admin API. A version takes traffic only once
// one of its instances is ready; its routes, timers and queue consumers switch in the same
// loop turn as the dispatcher, so no request sees half of a swap.
//
// Owning thread: the loop thread. Writing an upload to disk runs on libuv's thread pool.

#include <uv.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "functions/app_env.h"
#include "functions/app_store.h"
#include "runtime/base/clock.h"
#include "runtime/exec/dispatcher.h"
#include "triggers/trigger.h"

namespace gust {

// What `gust env set/rm` changed: the app's variables now, and whether its workers were
// replaced by ones that have them (only a served app with process isolation has workers).
struct EnvChange {
  std::string app;
  AppEnv env;
  bool rolled = false;
  std::string version;  // the version whose workers were replaced, when rolled
};

struct DeployReport {
  std::string app;
  std::string version;
  std::chrono::milliseconds took{0};
};

class AppManager {
 public:
  // Every app's active version is bound to each of `triggers`, in their order; they outlive
  // the manager. A deploy's report says how long it took by `clock`. `pool_defaults` (the
  // host's default_* settings) fill in what an app's manifest leaves out.
  AppManager(uv_loop_t* loop, const Clock& clock, AppStore& store, AppEnvStore& env_store, Dispatcher& dispatcher,
             std::vector<Trigger*> triggers, PoolSettings pool_defaults);

  // Startup: an app served from its folder (it cannot be rolled back; a deploy replaces it).
  Result<void> addFromDir(const std::filesystem::path& dir);
  // Startup: every stored app's active version, except those already served from a folder.
  Result<void> addFromStore();
  // Startup, after the two above: calls `done` once every app that keeps warm instances
  // (min_instances above 0) has one ready or could not start one (logged), so that the host
  // says it is ready only then (runtime/admin/admin_health.h); at once when none keeps any.
  void awaitWarmInstances(UniqueFunction<void()> done);

  using DeployDone = UniqueFunction<void(Result<DeployReport>)>;
  // Stores a new version of `app` and makes it active once it is ready.
  void deploy(const std::string& app, std::string manifest, std::string module, DeployDone done);
  // Makes `version` (by default the one before the active one) active the same way.
  void rollback(const std::string& app, std::optional<std::string> version, DeployDone done);
  // Stops serving `app` and deletes its versions.
  Result<void> remove(const std::string& app);

  using EnvDone = UniqueFunction<void(Result<EnvChange>)>;
  // Sets the variables of `set` and removes those named in `unset` (each must be set, and
  // none may be required by the active version), stores the result, then replaces a served
  // app's workers the way a deploy does: new ones with the new environment take traffic
  // once one is ready, the old ones finish what they hold. Nothing is dropped. A
  // thread-isolated app has no workers: its triggers are bound again with the new values.
  void changeEnv(const std::string& app, AppEnv set, std::vector<std::string> unset, EnvDone done);
  AppEnvStore& envStore() { return env_store_; }

  AppStore& store() { return store_; }

  // Hears of each deploy, rollback and removal once it took effect (not of the apps loaded
  // at startup); the deploy's or rollback's answer waits for `then` (runtime/apps/cluster_apps.h).
  using ChangeHook = std::function<void(const std::string& app, UniqueFunction<void()> then)>;
  void setOnChange(ChangeHook hook) { on_change_ = std::move(hook); }
  // Hears of each change of an app's variables once it is stored here (before its workers
  // are replaced), with the variables it now has.
  using EnvHook = std::function<void(const std::string& app, const AppEnv& env)>;
  void setOnEnvChange(EnvHook hook) { on_env_change_ = std::move(hook); }

 private:
  // Serves the version in `dir` once it is ready; then records it as active in the store.
  void activate(AppInfo info, bool record, std::chrono::steady_clock::time_point started, DeployDone done);
  Result<void> checkTriggers(const AppInfo& info) const;
  // Gives `info` its app's variables; fails if its manifest requires one that is not set.
  Result<void> attachEnv(AppInfo& info) const;
  // Binds `info` to every trigger, then to the dispatcher; stops at the first failure.
  Result<void> bind(const AppInfo& info);
  Result<VersionInfo> rollbackTarget(const std::string& app, const std::optional<std::string>& version) const;

  uv_loop_t* loop_;
  const Clock& clock_;
  AppStore& store_;
  AppEnvStore& env_store_;
  Dispatcher& dispatcher_;
  std::vector<Trigger*> triggers_;
  const PoolSettings pool_defaults_;
  std::set<std::string> busy_;  // apps with a deploy or rollback in progress
  ChangeHook on_change_;
  EnvHook on_env_change_;
};

}  // namespace gust
