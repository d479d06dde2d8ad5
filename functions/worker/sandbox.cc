#include "functions/worker/sandbox.h"

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

#include "functions/worker/syscall_filter.h"
#include "functions/worker/worker_view.h"

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

Result<void> dropCapabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capset, &header, data) != 0) return sysError("cannot drop the worker's capabilities");
  return {};
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
    pid_t worker = fork();
    if (worker < 0) _exit(1);
    if (worker > 0) {
      // Reap everything; when the worker itself ends, report it and end the namespace.
      // init needs no privilege for that, and in a user namespace it shares the worker's uid:
      // not dumpable, its /proc entries (its namespaces, its memory) stay closed to the worker.
      dropBoundingAndAmbient();
      (void)dropCapabilities();
      prctl(PR_SET_DUMPABLE, 0);
      for (;;) {
        int status = 0;
        pid_t done = wait(&status);
        if (done < 0 && errno == EINTR) continue;
        if (done == worker || done < 0) {
          ssize_t ignored = write(status_pipe[1], &status, sizeof status);
          (void)ignored;
          _exit(0);
        }
      }
    }
    close(status_pipe[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (auto view = enterWorkerView(ViewOptions{options.tmp_bytes}); !view) return view;
  }

  if (options.memory_bytes > 0 && !kAddressSanitizer && !setLimit(RLIMIT_AS, options.memory_bytes, options.memory_bytes)) {
    return sysError("cannot limit the worker's address space");
  }
  if (!setLimit(RLIMIT_NOFILE, options.max_open_files, options.max_open_files)) {
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
  if (options.drop_user) {
    if (!setLimit(RLIMIT_NPROC, options.max_processes, options.max_processes)) {
      return sysError("cannot limit the worker's processes");
    }
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
