#pragma once
// Memory and task limits per app and per worker, with cgroups (issue 13). An app's workers
// share one cgroup, <base>/<app>, limited to memory_mb × max_instances and max_processes
// tasks; each worker has its own below it, <base>/<app>/w<n>, limited to memory_mb, so
// that neither a worker's children together nor the app's workers together exceed what
// the manifest grants. <base> is gust-<host pid> below the host's own cgroup of each
// hierarchy: cgroup v2 where the host may enable the memory and pids controllers below
// its cgroup, else the v1 memory and pids hierarchies. The host creates the directories;
// the worker joins its own first thing in enterSandbox (functions/worker/sandbox.h), so
// that nothing it forks escapes them.
//
// Without a cgroup the host can use (an unprivileged host without delegation), version()
// is kNone, reason() says why, and each worker is bounded alone: its processes' memory
// together by its namespace's init (functions/worker/sandbox.cc), its tasks by RLIMIT_NPROC.
//
// Owning thread: the loop thread. Owned by the Host; its destructor kills what is left in
// its cgroups and removes them.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "functions/manifest.h"
#include "runtime/base/result.h"

namespace gust {

enum class CgroupVersion { kNone, kV1, kV2 };

// The host's own cgroup directory in each hierarchy that matters; empty where there is none.
struct OwnCgroups {
  std::string v2;
  std::string v1_memory;
  std::string v1_pids;
};

// Reads /proc/self/cgroup and /proc/self/mountinfo texts (taken as strings so that tests
// can give any layout).
OwnCgroups findOwnCgroups(std::string_view proc_self_cgroup, std::string_view mountinfo);

// The pid in a directory name gust-<pid>[-...]; 0 if it is not one of ours.
int hostPidOfCgroupName(std::string_view name);

class AppCgroups {
 public:
  // Detects and creates <base> for the host with pid `host_pid`, removing the bases of
  // hosts that are gone. Never fails: see version() and reason().
  AppCgroups(const OwnCgroups& own, int host_pid);
  // Reads the host's own cgroups from /proc/self.
  static OwnCgroups ownCgroupsOfThisProcess();
  ~AppCgroups();
  AppCgroups(const AppCgroups&) = delete;
  AppCgroups& operator=(const AppCgroups&) = delete;

  CgroupVersion version() const { return version_; }
  // Why there is no cgroup, when version() is kNone.
  const std::string& reason() const { return reason_; }
  // The base directory of each hierarchy in use.
  const std::vector<std::string>& bases() const { return bases_; }

  // Creates a cgroup for a new worker of `app`, limited to settings.memory_mb, below the
  // app's (created if needed, and its limits set from `settings`: an app's versions share
  // it, and the one that started a worker last sets them). Returns the directories the
  // worker must join, one per hierarchy.
  Result<std::vector<std::string>> addWorker(const std::string& app, const PoolSettings& settings);
  // Kills what is left in a worker's cgroup and removes it; a directory that is still busy
  // (its processes are not reaped yet) is retried on later calls and at the end.
  void removeWorker(const std::vector<std::string>& dirs);
  // Removes the app's cgroup once none of its workers is left in it (another version's
  // workers keep it).
  void removeApp(const std::string& app);
  // Tries again to remove what removeWorker and removeApp found busy; cheap when nothing
  // is left. The host calls it every second.
  void retryLeftovers();

  // What is in force for an app with `settings`, for `gust ps` and `gust describe`:
  // "cgroup v1 (memory 2048 MiB, 512 tasks for the app; 512 MiB per worker)" or
  // "per worker (no cgroup: ...): 512 MiB for a worker's processes together, 512 tasks".
  std::string describe(const PoolSettings& settings) const;

 private:
  bool tryV2(const std::string& own, int host_pid);
  bool tryV1(const std::string& memory, const std::string& pids, int host_pid);
  Result<void> configureApp(const std::string& app, const PoolSettings& settings);

  CgroupVersion version_ = CgroupVersion::kNone;
  std::string reason_;
  std::vector<std::string> bases_;        // v2: one; v1: memory, then pids
  std::vector<std::string> leftovers_;    // worker directories not removed yet
  std::vector<std::string> empty_apps_;   // app directories to remove once empty
  uint64_t next_worker_ = 1;
};

// One line for the host's log when there is no cgroup: the limits that are lost, and how
// to get them.
std::string noCgroupWarning(const AppCgroups& cgroups);

}  // namespace gust
