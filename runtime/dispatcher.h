#pragma once
// The one place every trigger hands its invocations to: it finds the app's pool and the
// function, applies the function's timeout, and answers with one Outcome. It knows nothing
// of HTTP, cron or queues.
//
// Owning thread: the loop thread. Owned by the Host; close() closes every pool and calls
// back once they are all closed.

#include <uv.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "functions/manifest.h"
#include "runtime/clock.h"
#include "runtime/invocation.h"
#include "runtime/pool.h"

namespace gust {

struct AppInfo {
  Manifest manifest;
  std::filesystem::path dir;
};

class Dispatcher {
 public:
  // With `fork_client`, workers are forked from the host's fork server (see ForkClient).
  Dispatcher(uv_loop_t* loop, const Clock& clock, std::string executable, WorkerContainment containment,
             ForkClient* fork_client = nullptr);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Registers an app and starts its pool (min_instances workers).
  Result<void> addApp(AppInfo app);

  // `done` runs exactly once, on the loop thread.
  void invoke(Invocation&& invocation, OutcomeCallback&& done);

  const AppInfo* app(const std::string& name) const;
  std::vector<std::string> appNames() const;
  const Pool* pool(const std::string& app) const;

  void close(std::function<void()> on_closed);

 private:
  struct App {
    AppInfo info;
    std::map<std::string, std::pair<uint32_t, std::chrono::milliseconds>, std::less<>> functions;
    std::unique_ptr<Pool> pool;
  };

  uv_loop_t* loop_;
  const Clock& clock_;
  std::string executable_;
  WorkerContainment containment_;
  ForkClient* fork_client_;
  std::map<std::string, std::unique_ptr<App>, std::less<>> apps_;
  bool closing_ = false;
  size_t pools_open_ = 0;
  std::function<void()> on_closed_;
};

}  // namespace gust
