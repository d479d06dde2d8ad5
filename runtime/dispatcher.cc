#include "runtime/dispatcher.h"

namespace gust {

Dispatcher::Dispatcher(uv_loop_t* loop, const Clock& clock, std::string executable, WorkerContainment containment,
                       ForkClient* fork_client)
    : loop_(loop),
      clock_(clock),
      executable_(std::move(executable)),
      containment_(containment),
      fork_client_(fork_client) {}

Dispatcher::~Dispatcher() { assert(apps_.empty() || closing_); }

Result<void> Dispatcher::addApp(AppInfo info) {
  const std::string name = info.manifest.name;
  if (apps_.count(name) > 0) {
    return makeError(ErrorKind::kBadInput, "two apps are named \"" + name + "\" (" + apps_[name]->info.dir.string() +
                                               " and " + info.dir.string() + "); app names must be unique");
  }
  auto app = std::make_unique<App>();
  PoolConfig config;
  config.app = name;
  config.app_dir = std::filesystem::absolute(info.dir).string();
  config.module_path = std::filesystem::absolute(info.dir / info.manifest.module).string();
  config.executable = executable_;
  config.settings = info.manifest.pool;
  config.containment = containment_;
  config.fork_client = fork_client_;
  uint32_t index = 0;
  for (const auto& f : info.manifest.functions) {
    config.functions.push_back(f.name);
    app->functions[f.name] = {index++, info.manifest.timeoutOf(f)};
  }
  app->info = std::move(info);
  app->pool = std::make_unique<Pool>(loop_, clock_, std::move(config));
  app->pool->start();
  apps_[name] = std::move(app);
  return {};
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
  app.pool->submit(std::move(invocation), fn->second.first, fn->second.second, std::move(done));
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

const Pool* Dispatcher::pool(const std::string& app) const {
  auto it = apps_.find(app);
  return it == apps_.end() ? nullptr : it->second->pool.get();
}

void Dispatcher::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  pools_open_ = apps_.size() + 1;  // +1 held until every close() below was called
  auto released = [this] {
    if (--pools_open_ == 0) {
      apps_.clear();
      auto done = std::move(on_closed_);
      if (done) done();
    }
  };
  for (auto& [name, app] : apps_) app->pool->close(released);
  released();
}

}  // namespace gust
