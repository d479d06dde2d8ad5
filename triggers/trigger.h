#pragma once
// The one seam between the deployed apps (runtime/apps) and the triggers that turn events
// into invocations: HTTP routes, timers and queue consumers each bind an app's active
// version and let go of it. The app manager holds a list of them and loops over it, so a
// new trigger is one more entry in that list, not another hand-written step of each deploy.
//
// Owning thread: the loop thread, like every trigger.

#include <string>

#include "functions/app_store.h"
#include "runtime/base/result.h"

namespace gust {

class Trigger {
 public:
  virtual ~Trigger() = default;
  // What addApp would say, without changing anything: a deploy asks every trigger before it
  // starts workers, so that a version that can't be bound (a route taken by another app)
  // is refused before it costs anything.
  virtual Result<void> checkApp(const AppInfo& app) const = 0;
  // Binds `app`'s version, replacing an earlier version of the same app.
  virtual Result<void> addApp(const AppInfo& app) = 0;
  virtual void removeApp(const std::string& name) = 0;
  // A short name for messages: "routes", "timers", "queues".
  virtual const char* name() const = 0;
};

}  // namespace gust
