#pragma once
// The cluster's hosts as any host's admin API shows them (docs/admin-api.md "Cluster"):
// every host of a cluster (docs/scale-out.md) reports its name, its public URL and its apps'
// pools to Redis every 2 s; GET /v1/cluster answers with every host heard from in the last
// 15 s, and how long ago. A host that stops cleanly takes itself out at once.
//
// Contract: loop thread; borrows the loop, the client and the API. close() and wait for
// its callback before the loop ends.

#include <uv.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/admin/admin_api.h"
#include "runtime/base/uv_close.h"
#include "runtime/store/redis_script.h"

namespace gust {

class ClusterHosts {
 public:
  // A host not heard from for this long (it died, or lost Redis) has left the cluster: it is
  // no longer shown, and others take over its unfinished async invocations.
  static constexpr std::chrono::milliseconds kGoneAfter{15'000};

  // `report` answers what this host reports of itself (its apps and their pools).
  ClusterHosts(uv_loop_t* loop, RedisClient& client, const Clock& clock, std::function<nlohmann::json()> report,
               std::string prefix = "gust:");
  ClusterHosts(const ClusterHosts&) = delete;
  ClusterHosts& operator=(const ClusterHosts&) = delete;

  void addRoutes(AdminApi& api);
  // Reports under `name` (unique in the cluster: the host's name and HTTP port) from now on.
  void start(std::string name);
  void close(std::function<void()> on_closed);
  const std::string& name() const { return name_; }

 private:
  void beat(bool leaving);
  int64_t nowMs() const;

  RedisClient& client_;
  const Clock& clock_;
  std::string name_;
  std::function<nlohmann::json()> report_;
  RedisScript script_;
  uv_timer_t timer_{};
  CloseCounter closer_;
};

}  // namespace gust
