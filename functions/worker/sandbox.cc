#include "functions/worker/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "functions/worker/syscall_filter.h"
#include "functions/worker/worker_view.h"
#include "runtime/protocol/worker_contract.h"

namespace gust {
namespace {

Error sysError(const std::string& what) {
  return makeError(ErrorKind::kIo, what + ": " + strerror(errno));
}

bool setLimit(int resource, uint64_t soft, uint64_t hard) {
  rlimit lim{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  return setrlimit(resource, &lim) == 0;
}

// AddressSanitizer reserves terabytes of address space for its shadow memory, so an
// address-space limit would stop a sanitized worker from starting at all; and its
// LeakSanitizer needs ptrace at exit, which the seccomp filter then leaves allowed.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

bool writeProcFile(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

Result<void> enterNamespaces(const SandboxOptions& options) {
  uid_t uid = getuid();
  gid_t gid = getgid();
  int flags = CLONE_NEWPID | CLONE_NEWNS | (options.user_namespace ? CLONE_NEWUSER : 0);
  if (unshare(flags) != 0) {
    std::string why = strerror(errno);
    if (!options.user_namespace) {
      return makeError(ErrorKind::kIo, "cannot create PID and mount namespaces for the worker: " + why);
    }
    return makeError(ErrorKind::kIo,
                     "the kernel refused a user namespace for the worker (" + why +
                         "), which a host not running as root needs to contain it; allow unprivileged user "
                         "namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0; "
                         "on Ubuntu also kernel.apparmor_restrict_unprivileged_userns=0) or run the host as root");
  }
  // The host's ids stay the worker's own: mapped to themselves, and nothing else is mapped.
  if (options.user_namespace &&
      (!writeProcFile("/proc/self/setgroups", "deny") ||
       !writeProcFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1") ||
       !writeProcFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1"))) {
    return sysError("cannot map the worker's user namespace");
  }
  return {};
}

// Empties the capability sets. The bounding and ambient sets first (which takes
// CAP_SETPCAP), so that nothing the process later runs can gain any back.
void dropBoundingAndAmbient() {
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

// Empties the permitted and effective sets, but for `keep` (a CAP_ constant; -1: none).
Result<void> dropCapabilities(int keep = -1) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (keep >= 0) data[CAP_TO_INDEX(keep)].permitted = data[CAP_TO_INDEX(keep)].effective = CAP_TO_MASK(keep);
  if (syscall(SYS_capset, &header, data) != 0) return sysError("cannot drop the worker's capabilities");
  return {};
}

// Adds up the "Key: N kB" lines of a /proc file whose keys are in `keys`; nullopt when it
// cannot be read.
std::optional<uint64_t> sumKib(const std::string& path, std::initializer_list<std::string_view> keys) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  uint64_t total = 0;
  std::string key;
  while (in >> key) {
    uint64_t kib = 0;
    if (std::find(keys.begin(), keys.end(), key) != keys.end() && in >> kib) total += kib;
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return total << 10;
}

// The memory the processes below init hold, in bytes, close to what a memory cgroup would
// charge them: their proportional share of anonymous and shared-memory pages (a page that
// a fork left shared between parent and child counts once), not of the system libraries
// they map. A process whose smaps_rollup init may not read (one still privileged as it
// starts, say) counts its whole resident anonymous memory. Walks init's children, theirs,
// and so on, through /proc (the host's before the worker mounts its own, the namespace's
// after), so that nothing outside the namespace is counted.
uint64_t memoryBelowInit() {
  uint64_t total = 0;
  std::vector<std::string> pending = {"self"};
  while (!pending.empty() && pending.size() < 65536) {
    std::string dir = "/proc/" + pending.back();
    bool is_init = pending.back() == "self";
    pending.pop_back();
    if (!is_init) {
      auto held = sumKib(dir + "/smaps_rollup", {"Pss_Anon:", "Pss_Shmem:"});
      if (!held) held = sumKib(dir + "/status", {"RssAnon:", "RssShmem:"});
      total += held.value_or(0);
    }
    DIR* tasks = opendir((dir + "/task").c_str());
    if (tasks == nullptr) continue;
    while (dirent* task = readdir(tasks)) {
      if (task->d_name[0] == '.') continue;
      std::ifstream children(dir + "/task/" + task->d_name + "/children");
      std::string child;
      while (children >> child) pending.push_back(child);
    }
    closedir(tasks);
  }
  return total;
}

// init's life as PID 1 of the worker's namespace: reaps every process that ends in it and
// returns the worker's wait status once the worker ends. With a `memory_limit` (bytes;
// 0: none), it also measures the memory of all the namespace's processes every 100 ms, and
// past the limit kills them all and returns the status kWorkerOverMemoryStatus, which the
// host reports as such. Without a memory cgroup that is the only bound on a worker's
// processes together: RLIMIT_AS bounds each one alone. A process can overshoot for up to
// one interval, and its own RLIMIT_AS still stops any single allocation past memory_mb.
int runInit(pid_t worker, const sigset_t& child_ended, uint64_t memory_limit) {
  const timespec interval{0, 100 * 1000 * 1000};
  bool over_memory = false;
  for (;;) {
    int status = 0;
    pid_t done;
    while ((done = waitpid(-1, &status, WNOHANG)) > 0) {
      if (done == worker) return over_memory ? W_EXITCODE(kWorkerOverMemoryStatus, 0) : status;
    }
    if (done < 0 && errno == ECHILD) return status;
    if (memory_limit > 0 && !over_memory && memoryBelowInit() > memory_limit) {
      over_memory = true;
      kill(-1, SIGKILL);  // every process of the namespace but init itself
    }
    sigtimedwait(&child_ended, nullptr, memory_limit > 0 ? &interval : nullptr);
  }
}

}  // namespace

Result<void> enterSandbox(const SandboxOptions& options) {
  // Join the worker's cgroups before anything else, while still privileged and before any
  // fork, so that every process and thread it makes is counted against its limits.
  for (const auto& dir : options.cgroups) {
    int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) {
      if (fd >= 0) ::close(fd);
      return sysError("cannot join cgroup " + dir);
    }
    ::close(fd);
  }
  if (options.namespaces) {
    if (auto entered = enterNamespaces(options); !entered) return entered;
    // The status of the worker travels from init to the outer process through this pipe,
    // since init (PID 1) cannot re-raise a signal on itself.
    int status_pipe[2];
    if (pipe(status_pipe) != 0) return sysError("pipe");
    pid_t init = fork();
    if (init < 0) return sysError("cannot fork the worker's init process");
    if (init > 0) {
      close(status_pipe[1]);
      int worker_status = -1;
      ssize_t n;
      while ((n = read(status_pipe[0], &worker_status, sizeof worker_status)) < 0 && errno == EINTR) {
      }
      int init_status = 0;
      while (waitpid(init, &init_status, 0) < 0 && errno == EINTR) {
      }
      if (n == sizeof worker_status && WIFSIGNALED(worker_status)) {
        int sig = WTERMSIG(worker_status);
        signal(sig, SIG_DFL);
        raise(sig);
        _exit(128 + sig);
      }
      if (n == sizeof worker_status && WIFEXITED(worker_status)) _exit(WEXITSTATUS(worker_status));
      // init itself was killed (by the host's SIGKILL of the group, say).
      if (WIFSIGNALED(init_status)) {
        signal(WTERMSIG(init_status), SIG_DFL);
        raise(WTERMSIG(init_status));
      }
      _exit(1);
    }
    // init: PID 1 of the namespace.
    close(status_pipe[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Blocked before the fork, so that a SIGCHLD is never lost between init's waits.
    sigset_t child_ended;
    sigemptyset(&child_ended);
    sigaddset(&child_ended, SIGCHLD);
    sigprocmask(SIG_BLOCK, &child_ended, nullptr);
    pid_t worker = fork();
    if (worker < 0) _exit(1);
    if (worker > 0) {
      // init keeps no privilege but CAP_KILL (the worker may run under another uid), and in
      // a user namespace it shares the worker's uid: not dumpable, its /proc entries (its
      // namespaces, its memory) stay closed to the worker.
      dropBoundingAndAmbient();
      (void)dropCapabilities(CAP_KILL);
      prctl(PR_SET_DUMPABLE, 0);
      // Without a memory cgroup, memory_mb bounds the worker's processes together here.
      bool watch_memory = options.cgroups.empty() && options.memory_bytes > 0 && !kAddressSanitizer;
      int status = runInit(worker, child_ended, watch_memory ? options.memory_bytes : 0);
      ssize_t ignored = write(status_pipe[1], &status, sizeof status);
      (void)ignored;
      _exit(0);
    }
    sigprocmask(SIG_UNBLOCK, &child_ended, nullptr);
    close(status_pipe[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (auto view = enterWorkerView(ViewOptions{options.tmp_bytes}); !view) return view;
  }

  if (options.memory_bytes > 0 && !kAddressSanitizer && !setLimit(RLIMIT_AS, options.memory_bytes, options.memory_bytes)) {
    return sysError("cannot limit the worker's address space");
  }
  // The host raised its own soft limit to the hard one (runtime/host/descriptors.h); a
  // worker goes back to max_open_files, or to the hard limit where that is lower, since
  // raising a hard limit is not allowed (and would not be wanted).
  rlimit files{};
  uint64_t max_files = options.max_open_files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_max != RLIM_INFINITY) {
    max_files = std::min<uint64_t>(max_files, files.rlim_max);
  }
  if (!setLimit(RLIMIT_NOFILE, max_files, max_files)) {
    return sysError("cannot limit the worker's open files");
  }
  if (!setLimit(RLIMIT_FSIZE, options.max_file_bytes, options.max_file_bytes)) {
    return sysError("cannot limit the worker's file size");
  }
  if (!setLimit(RLIMIT_CORE, 0, 0)) return sysError("cannot disable core dumps");
  if (!setLimit(RLIMIT_CPU, options.cpu_seconds, options.cpu_seconds + 10)) {
    return sysError("cannot limit the worker's CPU time");
  }
  if (options.namespaces || options.drop_user) dropBoundingAndAmbient();
  // The kernel counts RLIMIT_NPROC per user and user namespace: with a uid of the app's own
  // (a root host) that bounds the app's tasks, and in a user namespace of the worker's own
  // (an unprivileged host) the worker's, where the host's other processes share its uid.
  if ((options.drop_user || options.user_namespace) &&
      !setLimit(RLIMIT_NPROC, options.max_processes, options.max_processes)) {
    return sysError("cannot limit the worker's processes");
  }
  if (options.drop_user) {
    if (setgroups(0, nullptr) != 0) return sysError("cannot drop supplementary groups");
    if (setgid(options.gid) != 0) return sysError("cannot switch to group " + std::to_string(options.gid));
    if (setuid(options.uid) != 0) return sysError("cannot switch to user " + std::to_string(options.uid));
    // setuid clears the parent-death signal; set it again.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
  // In a user namespace the worker kept every capability there, for the mounts.
  if (options.user_namespace) {
    if (auto dropped = dropCapabilities(); !dropped) return dropped;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sysError("cannot set no_new_privs");
  if (options.filter != nullptr) return options.filter->load();
  auto filter = workerSyscallFilter();
  if (!filter) return filter.error();
  return filter->load();
}

Result<SyscallFilter> workerSyscallFilter() { return SyscallFilter::build(SyscallFilterOptions{kAddressSanitizer}); }

bool cpuBudgetNearlySpent(const SandboxOptions& options) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  uint64_t used = static_cast<uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec);
  return used * 10 >= options.cpu_seconds * 9;
}

}  // namespace gust
