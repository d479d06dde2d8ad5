#pragma once
// Deploys that reach every host of a cluster (docs/scale-out.md "Deploys reach every host").
// A deploy, rollback or removal through any host is stored in the cluster's Redis: the
// module's bytes under their SHA-256, and what every host is to serve of the app (its
// manifest and module digest, or its removal) under one revision counter. Every host reads
// the counter every half second and, when it moved, brings each app to what is stored with
// its own AppManager: the same zero-downtime swap as a local deploy. A host that starts or
// reconnects later catches up the same way. An app's variables (`gust env`) are shared the
// same way, under the same counter, and applied before its deploys.
//
// Contract:
// - Owning thread: the loop's. Borrows the loop, the client and the app manager; close()
//   and wait for its callback before any of them goes.
// - publish() is the app manager's change hook: it runs after a deploy, rollback or removal
//   has taken effect here, and calls `then` once the change is stored (or failed to be: a
//   deploy that serves here but could not be shared is logged, and the next one shares it).
// - Apps served from a folder (`gust serve DIR`) are this host's own: they are not shared,
//   but a version of the same name that the cluster holds replaces them here too.

#include <uv.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "runtime/apps/app_manager.h"
#include "runtime/base/uv_close.h"
#include "runtime/store/redis_script.h"

namespace gust {

class ClusterApps {
 public:
  ClusterApps(uv_loop_t* loop, RedisClient& client, AppManager& apps, std::string prefix = "gust:");
  ClusterApps(const ClusterApps&) = delete;
  ClusterApps& operator=(const ClusterApps&) = delete;

  // Reads the cluster's apps now and then every `every`.
  void start(std::chrono::milliseconds every = std::chrono::milliseconds(500));
  void publish(const std::string& app, UniqueFunction<void()> then);
  // The app manager's env hook: stores the app's variables for every host (logged when it
  // cannot; the next change shares them).
  void publishEnv(const std::string& app, const AppEnv& env);
  void close(std::function<void()> on_closed);

 private:
  void poll();
  void sync(const RedisReply& apps, const RedisReply& envs, const std::string& revision);
  void store(const std::string& app, std::string desired, UniqueFunction<void()> then);
  // What this host serves of `app` as the cluster names it (a digest of its manifest and
  // module), "removed", or empty when it serves nothing of it.
  std::string localDigest(const std::string& app);

  RedisClient& client_;
  AppManager& apps_;
  RedisScript script_;
  std::string prefix_;
  uv_timer_t timer_{};
  CloseCounter closer_;
  bool closing_ = false;
  bool polling_ = false;    // a poll or its deploys are under way
  std::string revision_;    // the revision this host has caught up with
  std::map<std::string, std::string> applied_;  // app -> digest this host serves
  std::set<std::string> applying_;  // apps being brought to the cluster's version
  std::set<std::string> applying_env_;  // apps being given the cluster's variables
  // Apps whose variables this host is storing: a look read before the store landed would
  // otherwise take this host back to the old ones.
  std::map<std::string, int> publishing_env_;
};

}  // namespace gust
