#include "functions/worker/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

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
// address-space limit would stop a sanitized worker from starting at all.
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
  if (options.pid_namespace) {
    // Root gets a plain PID namespace; anyone else asks for a user namespace with it.
    if (unshare(CLONE_NEWPID) != 0 && (errno != EPERM || unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0)) {
      return sysError("cannot create a PID namespace for the worker");
    }
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
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sysError("cannot set no_new_privs");
  return {};
}

bool cpuBudgetNearlySpent(const SandboxOptions& options) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  uint64_t used = static_cast<uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec);
  return used * 10 >= options.cpu_seconds * 9;
}

}  // namespace gust
