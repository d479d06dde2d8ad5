#include "runtime/exec/app_cgroups.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace gust {
namespace {

namespace fs = std::filesystem;

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    size_t at = text.find(sep);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

bool contains(std::string_view list, std::string_view item, char sep) {
  for (auto part : split(list, sep)) {
    if (part == item) return true;
  }
  return false;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeMountField(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      bool octal = true;
      for (size_t j = 1; j <= 3; ++j) {
        if (field[i + j] < '0' || field[i + j] > '7') octal = false;
        else value = value * 8 + (field[i + j] - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

// The directory of cgroup `path` in a hierarchy mounted at `mount_point`, whose mount shows
// the hierarchy from `root` down; empty if the path lies outside what the mount shows.
std::string dirOf(const std::string& mount_point, const std::string& root, std::string_view path) {
  if (root == "/") return path == "/" ? mount_point : mount_point + std::string(path);
  if (path.substr(0, root.size()) != root || (path.size() > root.size() && path[root.size()] != '/')) return {};
  return mount_point + std::string(path.substr(root.size()));
}

Result<void> writeFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (out) out << value;
  if (out) out.flush();
  if (!out) return makeError(ErrorKind::kIo, "cannot write " + value + " to " + path + ": " + strerror(errno));
  return {};
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool makeDir(const std::string& dir, std::string& why) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return true;
  why = "cannot create " + dir + ": " + strerror(errno);
  return false;
}

// Kills what is left in the cgroup `dir` (cgroup.kill where the kernel has it) and removes
// it; false while it is still busy.
bool killAndRemove(const std::string& dir) {
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
  if (errno != EBUSY) {
    spdlog::warn("cannot remove cgroup {}: {}", dir, strerror(errno));
    return true;  // nothing a retry would change
  }
  if (::access((dir + "/cgroup.kill").c_str(), W_OK) == 0) {
    (void)writeFile(dir + "/cgroup.kill", "1");
  } else {
    std::istringstream procs(readFile(dir + "/cgroup.procs"));
    for (pid_t pid; procs >> pid;) ::kill(pid, SIGKILL);
  }
  return ::rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

// Removes `dir` and every cgroup below it, deepest first, waiting up to `patience` for
// killed processes to be reaped.
void removeTree(const std::string& dir, std::chrono::milliseconds patience) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) removeTree(entry.path().string(), patience);
  }
  auto give_up = std::chrono::steady_clock::now() + patience;
  while (!killAndRemove(dir) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Removes the bases of hosts that are gone (gust-<pid> whose process does not exist).
void removeStaleBases(const std::string& own) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(own, ec)) {
    int pid = hostPidOfCgroupName(entry.path().filename().string());
    if (pid <= 0 || !entry.is_directory(ec)) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    spdlog::info("removing cgroup {} of a host that is gone", entry.path().string());
    removeTree(entry.path().string(), std::chrono::milliseconds(1000));
  }
}

uint64_t mib(uint64_t n) { return n << 20; }

}  // namespace

OwnCgroups findOwnCgroups(std::string_view proc_self_cgroup, std::string_view mountinfo) {
  // hierarchy-id:controllers:path
  std::string v2_path, memory_path, pids_path;
  bool has_v2 = false, has_memory = false, has_pids = false;
  for (auto line : split(proc_self_cgroup, '\n')) {
    auto fields = split(line, ':');
    if (fields.size() < 3) continue;
    // The path may itself hold ':'; it is everything after the second.
    std::string_view path = line.substr(fields[0].size() + fields[1].size() + 2);
    if (fields[0] == "0" && fields[1].empty()) {
      v2_path = path, has_v2 = true;
    } else {
      if (contains(fields[1], "memory", ',')) memory_path = path, has_memory = true;
      if (contains(fields[1], "pids", ',')) pids_path = path, has_pids = true;
    }
  }
  // id parent major:minor root mount-point options [optional...] - fstype source super-options
  OwnCgroups own;
  for (auto line : split(mountinfo, '\n')) {
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    auto before = split(line.substr(0, dash), ' ');
    auto after = split(line.substr(dash + 3), ' ');
    if (before.size() < 5 || after.size() < 3) continue;
    std::string root = unescapeMountField(before[3]);
    std::string mount_point = unescapeMountField(before[4]);
    if (after[0] == "cgroup2" && has_v2 && own.v2.empty()) {
      own.v2 = dirOf(mount_point, root, v2_path);
    } else if (after[0] == "cgroup") {
      if (has_memory && own.v1_memory.empty() && contains(after[2], "memory", ',')) {
        own.v1_memory = dirOf(mount_point, root, memory_path);
      }
      if (has_pids && own.v1_pids.empty() && contains(after[2], "pids", ',')) {
        own.v1_pids = dirOf(mount_point, root, pids_path);
      }
    }
  }
  return own;
}

int hostPidOfCgroupName(std::string_view name) {
  if (name.substr(0, 5) != "gust-") return 0;
  name.remove_prefix(5);
  int pid = 0;
  size_t digits = 0;
  while (digits < name.size() && digits < 9 && name[digits] >= '0' && name[digits] <= '9') {
    pid = pid * 10 + (name[digits++] - '0');
  }
  if (digits == 0 || (digits < name.size() && name[digits] != '-')) return 0;
  return pid;
}

OwnCgroups AppCgroups::ownCgroupsOfThisProcess() {
  return findOwnCgroups(readFile("/proc/self/cgroup"), readFile("/proc/self/mountinfo"));
}

AppCgroups::AppCgroups(const OwnCgroups& own, int host_pid) {
  std::string why_not_v2 = "no cgroup v2 hierarchy";
  if (!own.v2.empty()) {
    if (tryV2(own.v2, host_pid)) return;
    why_not_v2 = reason_;
  }
  std::string why_not_v1 = "no cgroup v1 memory and pids hierarchies";
  if (!own.v1_memory.empty() && !own.v1_pids.empty()) {
    if (tryV1(own.v1_memory, own.v1_pids, host_pid)) return;
    why_not_v1 = reason_;
  }
  reason_ = why_not_v2 + "; " + why_not_v1;
}

bool AppCgroups::tryV2(const std::string& own, int host_pid) {
  std::string controllers = readFile(own + "/cgroup.controllers");
  if (!contains(controllers.substr(0, controllers.find('\n')), "memory", ' ') ||
      !contains(controllers.substr(0, controllers.find('\n')), "pids", ' ')) {
    reason_ = "cgroup v2 " + own + " does not offer the memory and pids controllers";
    return false;
  }
  if (::access((own + "/cgroup.subtree_control").c_str(), W_OK) != 0) {
    reason_ = "cgroup v2 " + own + " is not delegated to this user";
    return false;
  }
  removeStaleBases(own);
  // A cgroup that holds processes cannot pass controllers down (the "no internal
  // processes" rule): the host moves itself into a leaf of its own first, as a delegated
  // cgroup (systemd's Delegate=yes) usually holds the host itself.
  if (!writeFile(own + "/cgroup.subtree_control", "+memory +pids")) {
    std::string leaf = own + "/gust-" + std::to_string(host_pid) + "-host";
    std::string why;
    if (!makeDir(leaf, why) || !writeFile(leaf + "/cgroup.procs", "0") ||
        !writeFile(own + "/cgroup.subtree_control", "+memory +pids")) {
      reason_ = "cannot enable the memory and pids controllers below cgroup v2 " + own +
                " (it holds processes other than the host's)";
      return false;
    }
  }
  std::string base = own + "/gust-" + std::to_string(host_pid);
  if (!makeDir(base, reason_)) return false;
  if (auto enabled = writeFile(base + "/cgroup.subtree_control", "+memory +pids"); !enabled) {
    reason_ = enabled.error().message;
    ::rmdir(base.c_str());
    return false;
  }
  version_ = CgroupVersion::kV2;
  bases_ = {base};
  return true;
}

bool AppCgroups::tryV1(const std::string& memory, const std::string& pids, int host_pid) {
  removeStaleBases(memory);
  removeStaleBases(pids);
  std::string name = "/gust-" + std::to_string(host_pid);
  if (!makeDir(memory + name, reason_)) return false;
  if (!makeDir(pids + name, reason_)) {
    ::rmdir((memory + name).c_str());
    return false;
  }
  // Without hierarchical accounting a v1 parent would not count its children's memory.
  // New kernels always account hierarchically; on old ones, ask for it while it is empty.
  if (readFile(memory + name + "/memory.use_hierarchy").starts_with("0")) {
    (void)writeFile(memory + name + "/memory.use_hierarchy", "1");
  }
  version_ = CgroupVersion::kV1;
  bases_ = {memory + name, pids + name};
  return true;
}

AppCgroups::~AppCgroups() {
  for (const auto& base : bases_) removeTree(base, std::chrono::milliseconds(2000));
}

Result<void> AppCgroups::configureApp(const std::string& app, const PoolSettings& settings) {
  uint64_t memory = mib(settings.memory_mb) * settings.max_instances;
  for (const auto& base : bases_) {
    std::string dir = base + "/" + app, why;
    if (!makeDir(dir, why)) return makeError(ErrorKind::kIo, why);
    if (version_ == CgroupVersion::kV2) {
      if (auto r = writeFile(dir + "/cgroup.subtree_control", "+memory +pids"); !r) return r;
      if (auto r = writeFile(dir + "/memory.max", std::to_string(memory)); !r) return r;
      if (::access((dir + "/memory.swap.max").c_str(), W_OK) == 0) (void)writeFile(dir + "/memory.swap.max", "0");
      if (auto r = writeFile(dir + "/pids.max", std::to_string(settings.max_processes)); !r) return r;
    } else if (&base == &bases_[0]) {
      if (auto r = writeFile(dir + "/memory.limit_in_bytes", std::to_string(memory)); !r) return r;
    } else {
      if (auto r = writeFile(dir + "/pids.max", std::to_string(settings.max_processes)); !r) return r;
    }
  }
  return {};
}

Result<std::vector<std::string>> AppCgroups::addWorker(const std::string& app, const PoolSettings& settings) {
  if (version_ == CgroupVersion::kNone) return std::vector<std::string>{};
  retryLeftovers();
  if (auto configured = configureApp(app, settings); !configured) return configured.error();
  uint32_t memory_mb = settings.memory_mb;
  std::string name = "/" + app + "/w" + std::to_string(next_worker_++);
  std::vector<std::string> dirs;
  auto undo = [&](Error error) {
    removeWorker(dirs);
    return error;
  };
  for (const auto& base : bases_) {
    std::string dir = base + name, why;
    if (!makeDir(dir, why)) return undo(makeError(ErrorKind::kIo, why));
    dirs.push_back(dir);
    Result<void> limited = {};
    if (version_ == CgroupVersion::kV2) {
      limited = writeFile(dir + "/memory.max", std::to_string(mib(memory_mb)));
      if (limited && ::access((dir + "/memory.swap.max").c_str(), W_OK) == 0) {
        (void)writeFile(dir + "/memory.swap.max", "0");
      }
    } else if (&base == &bases_[0]) {
      limited = writeFile(dir + "/memory.limit_in_bytes", std::to_string(mib(memory_mb)));
    }
    if (!limited) return undo(limited.error());
  }
  return dirs;
}

void AppCgroups::removeWorker(const std::vector<std::string>& dirs) {
  // The worker's own process is reaped by now, but what ran in its PID namespace may still
  // be dying: give the kernel a moment (on the loop thread, so only a short one) before the
  // directory is left for a later retry.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  for (const auto& dir : dirs) {
    bool removed = killAndRemove(dir);
    while (!removed && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      removed = killAndRemove(dir);
    }
    if (!removed) leftovers_.push_back(dir);
  }
}

void AppCgroups::removeApp(const std::string& app) {
  retryLeftovers();
  // rmdir fails while the app's cgroup has a worker's below it: another version's, or one
  // still being torn down, which a later retry (or the host's exit) takes care of.
  for (const auto& base : bases_) {
    std::string dir = base + "/" + app;
    if (::rmdir(dir.c_str()) != 0 && errno == EBUSY) empty_apps_.push_back(dir);
  }
}

void AppCgroups::retryLeftovers() {
  std::erase_if(leftovers_, [](const std::string& dir) { return killAndRemove(dir); });
  // Never killed: another version's workers may live below.
  std::erase_if(empty_apps_, [](const std::string& dir) { return ::rmdir(dir.c_str()) == 0 || errno != EBUSY; });
}

std::string AppCgroups::describe(const PoolSettings& settings) const {
  if (version_ == CgroupVersion::kNone) {
    return "per worker (no cgroup: " + reason_ + "): " + std::to_string(settings.memory_mb) +
           " MiB for a worker's processes together, " + std::to_string(settings.max_processes) + " tasks";
  }
  return std::string(version_ == CgroupVersion::kV2 ? "cgroup v2" : "cgroup v1") + " (memory " +
         std::to_string(uint64_t{settings.memory_mb} * settings.max_instances) + " MiB, " +
         std::to_string(settings.max_processes) + " tasks for the app; " + std::to_string(settings.memory_mb) +
         " MiB per worker)";
}

std::string noCgroupWarning(const AppCgroups& cgroups) {
  return "no cgroup for app limits (" + cgroups.reason() +
         "): each worker is limited alone (memory_mb for its processes together, max_processes tasks), so an "
         "app may hold max_instances times as much, and the kernel's OOM killer does not take a worker's "
         "side. Run the host as root, or in a delegated cgroup v2 (e.g. "
         "`systemd-run --user -p Delegate=yes gust serve ...`)";
}

}  // namespace gust
