#include "runtime/apps/app_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

namespace gust {

using std::chrono::steady_clock;

AppManager::AppManager(uv_loop_t* loop, const Clock& clock, AppStore& store, AppEnvStore& env_store,
                       Dispatcher& dispatcher, std::vector<Trigger*> triggers, PoolSettings pool_defaults)
    : loop_(loop),
      clock_(clock),
      store_(store),
      env_store_(env_store),
      dispatcher_(dispatcher),
      triggers_(std::move(triggers)),
      pool_defaults_(std::move(pool_defaults)) {}

Result<void> AppManager::attachEnv(AppInfo& info) const {
  auto env = env_store_.load(info.manifest.name);
  if (!env) return env.error();
  if (auto ok = checkRequiredEnv(info.manifest, *env); !ok) return ok;
  info.env = std::move(*env);
  return {};
}

Result<void> AppManager::checkTriggers(const AppInfo& info) const {
  for (const Trigger* t : triggers_) {
    if (auto ok = t->checkApp(info); !ok) return ok;
  }
  return {};
}

Result<void> AppManager::bind(const AppInfo& info) {
  for (Trigger* t : triggers_) {
    if (auto r = t->addApp(info); !r) return r;
  }
  return dispatcher_.addApp(info);
}

Result<void> AppManager::addFromDir(const std::filesystem::path& dir) {
  auto manifest = loadManifest(dir, pool_defaults_);
  if (!manifest) return manifest.error();
  std::error_code ec;
  std::filesystem::path module = dir / manifest->module;
  if (!std::filesystem::is_regular_file(module, ec)) {
    return makeError(ErrorKind::kNotFound, "app " + manifest->name + ": its module " + module.string() +
                                               " does not exist; build it with `gust build " + dir.string() + "`");
  }
  AppInfo info{std::move(*manifest), dir, "", {}};
  if (auto ok = attachEnv(info); !ok) return ok;
  return bind(info);
}

Result<void> AppManager::addFromStore() {
  ActiveApps stored = store_.activeApps();
  for (const auto& problem : stored.problems) spdlog::error("app store: {}", problem);
  for (const auto& version : stored.versions) {
    if (dispatcher_.app(version.app) != nullptr) {
      spdlog::warn("app {} is served from its folder; its deployed versions are not loaded", version.app);
      continue;
    }
    auto manifest = loadManifest(version.dir, pool_defaults_);
    if (!manifest) return manifest.error();
    AppInfo info{std::move(*manifest), version.dir, version.version, {}};
    if (auto ok = attachEnv(info); !ok) {
      // It was accepted when deployed, so it serves; its functions find out what is missing.
      spdlog::error("[{}] {}", version.app, ok.error().message);
      if (auto env = env_store_.load(version.app)) info.env = std::move(*env);
    }
    if (auto added = bind(info); !added) {
      return makeError(added.error().kind, "deployed app " + version.app + " (version " + version.version +
                                               "): " + added.error().message);
    }
    spdlog::info("[{}] serving version {} from the app store", version.app, version.version);
  }
  return {};
}

void AppManager::awaitWarmInstances(UniqueFunction<void()> done) {
  std::vector<std::string> warm;
  for (const auto& name : dispatcher_.appNames()) {
    const AppInfo* app = dispatcher_.app(name);
    if (app != nullptr && app->manifest.pool.min_instances > 0) warm.push_back(name);
  }
  if (warm.empty()) {
    done();
    return;
  }
  // One that could not start counts as done: keeping the whole host out of service would
  // not mend it, and its callers get the start error from any host.
  auto left = std::make_shared<size_t>(warm.size());
  auto all_done = std::make_shared<UniqueFunction<void()>>(std::move(done));
  for (const auto& name : warm) {
    dispatcher_.warmUp(name, [name, left, all_done](Result<void> ready) {
      if (!ready) spdlog::warn("[{}] its warm instances did not start: {}", name, ready.error().message);
      if (--*left == 0) (*all_done)();
    });
  }
}

Result<VersionInfo> AppManager::rollbackTarget(const std::string& app, const std::optional<std::string>& version) const {
  if (version) return store_.version(app, *version);
  auto versions = store_.versions(app);
  if (!versions) return versions.error();
  const AppInfo* serving = dispatcher_.app(app);
  // The newest version older than the one serving.
  std::optional<VersionInfo> target;
  for (const auto& v : *versions) {
    if (serving != nullptr && v.version == serving->version) break;
    target = v;
  }
  if (serving == nullptr || serving->version.empty() || !target) {
    return makeError(ErrorKind::kNotFound, "app " + app + " has no version older than the one serving (" +
                                               (serving ? serving->version : std::string("none")) +
                                               "); name one with `gust rollback " + app + " VERSION`");
  }
  return *target;
}

void AppManager::deploy(const std::string& app, std::string manifest, std::string module, DeployDone done) {
  if (busy_.count(app) > 0) {
    done(makeError(ErrorKind::kConflict, "a deploy or rollback of " + app + " is in progress; retry when it ends"));
    return;
  }
  busy_.insert(app);
  // Checking and writing up to 64 MiB (with fsyncs) would stall every request: it runs on
  // libuv's thread pool, touching only this app's folder in the store.
  struct Work {
    uv_work_t req{};
    AppManager* self;
    std::string app, manifest, module;
    DeployDone done;
    steady_clock::time_point started;
    Result<VersionInfo> stored = makeError(ErrorKind::kInternal, "not run");
  };
  auto* work = new Work{{}, this, app, std::move(manifest), std::move(module), std::move(done), clock_.now()};
  work->req.data = work;
  int rc = uv_queue_work(
      loop_, &work->req,
      [](uv_work_t* req) {
        auto* w = static_cast<Work*>(req->data);
        // A version that lacks a required variable is refused before it is stored (its
        // file is replaced atomically, so reading it here is safe), and checked again once
        // stored, against a change meanwhile.
        auto manifest = parseManifest(w->manifest);
        auto env = w->self->env_store_.load(w->app);
        if (manifest && env) {
          if (auto ok = checkRequiredEnv(*manifest, *env); !ok) {
            w->stored = ok.error();
            return;
          }
        }
        w->stored = w->self->store_.deploy(w->app, w->manifest, w->module);
        std::string().swap(w->module);
      },
      [](uv_work_t* req, int) {
        std::unique_ptr<Work> w(static_cast<Work*>(req->data));
        AppManager& self = *w->self;
        if (!w->stored) {
          self.busy_.erase(w->app);
          w->done(w->stored.error());
          return;
        }
        auto manifest = loadManifest(w->stored->dir, self.pool_defaults_);
        if (!manifest) {
          self.busy_.erase(w->app);
          w->done(manifest.error());
          return;
        }
        AppInfo info{std::move(*manifest), w->stored->dir, w->stored->version, {}};
        if (auto ok = self.attachEnv(info); !ok) {
          self.busy_.erase(w->app);
          w->done(ok.error());
          return;
        }
        self.activate(std::move(info), true, w->started, std::move(w->done));
      });
  if (rc != 0) {
    busy_.erase(app);
    std::unique_ptr<Work> w(work);
    w->done(makeError(ErrorKind::kIo, std::string("cannot queue the deploy: ") + uv_strerror(rc)));
  }
}

void AppManager::rollback(const std::string& app, std::optional<std::string> version, DeployDone done) {
  if (busy_.count(app) > 0) {
    done(makeError(ErrorKind::kConflict, "a deploy or rollback of " + app + " is in progress; retry when it ends"));
    return;
  }
  auto target = rollbackTarget(app, version);
  if (!target) {
    done(target.error());
    return;
  }
  auto manifest = loadManifest(target->dir, pool_defaults_);
  if (!manifest) {
    done(manifest.error());
    return;
  }
  AppInfo info{std::move(*manifest), target->dir, target->version, {}};
  if (auto ok = attachEnv(info); !ok) {
    done(ok.error());
    return;
  }
  busy_.insert(app);
  activate(std::move(info), true, clock_.now(), std::move(done));
}

void AppManager::activate(AppInfo info, bool record, steady_clock::time_point started, DeployDone done) {
  std::string app = info.manifest.name;
  if (auto ok = checkTriggers(info); !ok) {
    busy_.erase(app);
    done(ok.error());
    return;
  }
  auto shared = std::make_shared<AppInfo>(info);
  dispatcher_.deploy(
      std::move(info),
      [this, shared] {
        // Checked before the workers started; nothing since could make them fail but a
        // concurrent deploy of another app taking a route, which we then report.
        for (Trigger* t : triggers_) {
          if (auto r = t->addApp(*shared); !r) spdlog::error("[{}] {}: {}", shared->manifest.name, t->name(), r.error().message);
        }
      },
      [this, shared, record, started, done = std::move(done)](Result<void> ready) mutable {
        const std::string& app = shared->manifest.name;
        busy_.erase(app);
        if (!ready) {
          done(makeError(ErrorKind::kUnavailable, "version " + shared->version + " of " + app +
                                                      " did not start, so it takes no traffic: " +
                                                      ready.error().message));
          return;
        }
        if (record) {
          if (auto r = store_.activate(app, shared->version); !r) {
            spdlog::error("[{}] version {} serves, but recording it as active failed: {}", app, shared->version,
                          r.error().message);
          }
        }
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - started);
        spdlog::info("[{}] version {} active ({} ms)", app, shared->version, took.count());
        DeployReport report{app, shared->version, took};
        if (!record || !on_change_) return done(std::move(report));
        on_change_(app, [done = std::move(done), report = std::move(report)]() mutable { done(std::move(report)); });
      });
}

Result<void> AppManager::remove(const std::string& app) {
  if (busy_.count(app) > 0) {
    return makeError(ErrorKind::kConflict, "a deploy or rollback of " + app + " is in progress; retry when it ends");
  }
  bool served = dispatcher_.app(app) != nullptr;
  bool stored = store_.versions(app).ok();
  if (!served && !stored) return makeError(ErrorKind::kNotFound, "no app named \"" + app + "\"");
  if (served) {
    for (Trigger* t : triggers_) t->removeApp(app);
    if (auto r = dispatcher_.removeApp(app); !r) return r;
  }
  if (stored) {
    if (auto r = store_.remove(app); !r) return r;
  }
  if (on_change_) on_change_(app, [] {});
  return {};
}

void AppManager::changeEnv(const std::string& app, AppEnv set, std::vector<std::string> unset, EnvDone done) {
  if (busy_.count(app) > 0) {
    done(makeError(ErrorKind::kConflict, "a deploy or rollback of " + app + " is in progress; retry when it ends"));
    return;
  }
  const AppInfo* serving = dispatcher_.app(app);
  if (serving != nullptr) {
    for (const auto& key : unset) {
      const auto required = serving->manifest.requiredEnv();
      if (std::find(required.begin(), required.end(), key) != required.end()) {
        done(makeError(ErrorKind::kConflict, "app " + app + " (version " +
                                                 (serving->version.empty() ? "from its folder" : serving->version) +
                                                 ") requires " + key + " (its manifest's required_env, or a "
                                                 "function's verify secret); deploy a version that does not before "
                                                 "removing it"));
        return;
      }
    }
  }
  auto env = env_store_.changed(app, set, unset);
  if (!env) {
    done(env.error());
    return;
  }
  if (auto stored = env_store_.store(app, *env); !stored) {
    done(stored.error());
    return;
  }
  if (on_env_change_) on_env_change_(app, *env);
  EnvChange change{app, *env, false, ""};
  if (serving == nullptr) {
    done(std::move(change));
    return;
  }
  AppInfo info = *serving;
  info.env = std::move(*env);
  // A thread-isolated app runs in the host's own process: it has no workers to replace, but
  // its triggers take the new values at once (a route's verify secret), as a deploy's would.
  if (info.manifest.isolation != Isolation::kProcess) {
    auto bound = checkTriggers(info);
    for (Trigger* t : triggers_) {
      if (bound) bound = t->addApp(info);
    }
    if (!bound) {
      done(makeError(bound.error().kind, "the variables are stored, but " + bound.error().message +
                                             "; the app's routes keep the old ones"));
      return;
    }
    done(std::move(change));
    return;
  }
  change.rolled = true;
  change.version = info.version;
  busy_.insert(app);
  activate(std::move(info), false, clock_.now(),
           [change = std::move(change), done = std::move(done)](Result<DeployReport> report) mutable {
             if (!report) {
               done(makeError(report.error().kind, "the variables are stored, but " + report.error().message +
                                                       "; the workers that were serving keep the old ones"));
               return;
             }
             done(std::move(change));
           });
}

}  // namespace gust
