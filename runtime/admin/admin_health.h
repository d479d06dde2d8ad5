#pragma once
// /healthz and /readyz, and Readiness, the one place that decides whether this host should
// take traffic (docs/admin-api.md "Health"). /healthz answers 200 whenever the loop turns:
// the process is alive. /readyz answers 200 only once the host has loaded its apps (their
// warm instances included) and its store has taken a write, and 503 again from the moment
// it begins to drain. Both stay unauthenticated (probes carry no token), so their answers
// name kinds of not-ready only, never why a store failed.
//
// The store's answer comes from a probe, a real write to each of the host's stores (gust.db,
// and the backend Redis: runtime/host/store_probe.h), started when someone asks and the last
// answer is older than kProbeInterval: asking costs at most one small write a second, an
// idle host writes nothing, and a store that stopped taking writes shows from the next probe
// on. A probe still unanswered after kProbeDeadline counts as a store that takes no writes
// (a writer stuck on a lock, a hung disk).
//
// Owning thread: the loop thread. Owned by the Host; it must outlive the stores' clients,
// whose answers end its probes.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "runtime/admin/admin_api.h"
#include "runtime/base/clock.h"
#include "runtime/base/unique_function.h"

namespace gust {

struct ReadinessReport {
  bool draining = false;
  std::vector<std::string> waiting_for;  // "apps", "store": what keeps it from being ready
  bool ready() const { return !draining && waiting_for.empty(); }
};

class Readiness {
 public:
  // Starts one write to the host's store and calls `done` once, on the loop thread (perhaps
  // before returning), with whether it committed.
  using StoreProbe = std::function<void(UniqueFunction<void(bool writable)> done)>;

  static constexpr std::chrono::milliseconds kProbeInterval{1000};
  static constexpr std::chrono::milliseconds kProbeDeadline{3000};

  Readiness(const Clock& clock, StoreProbe probe);
  Readiness(const Readiness&) = delete;
  Readiness& operator=(const Readiness&) = delete;

  // The host's apps are loaded and their warm instances started (AppManager::
  // awaitWarmInstances).
  void appsLoaded() { apps_loaded_ = true; }
  // The store's answer to a write the host made itself (at startup, before the loop runs),
  // taken as a probe's.
  void storeAnswered(bool writable);
  // The host began to drain (a first SIGTERM or SIGINT); it stays not ready until it exits.
  void drainBegan() { draining_ = true; }

  // Now's answer; starts a store probe when the last answer is stale and none is running.
  ReadinessReport check();

 private:
  bool storeWritable() const;

  const Clock& clock_;
  StoreProbe probe_;
  bool apps_loaded_ = false;
  bool draining_ = false;
  bool writable_ = false;  // the last probe's answer; false before any
  std::optional<std::chrono::steady_clock::time_point> answered_at_;
  std::optional<std::chrono::steady_clock::time_point> probe_started_;  // while one runs
};

// The /readyz answer for `report`: 200 {"status":"ready"}; 503 {"status":"draining"}; or
// 503 {"status":"not ready","waiting_for":[...]}.
HttpResponse readinessResponse(const ReadinessReport& report);

// Adds GET /healthz and GET /readyz.
void addHealthRoutes(AdminApi& api, Readiness& readiness);

}  // namespace gust
