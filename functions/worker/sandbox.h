#pragma once
// Containment of a worker process, applied by the worker itself before it loads user
// code: PID and mount namespaces (and a user namespace when the host is not root) with a
// filesystem view of its own (worker_view.h), resource limits, an identity of its own (the
// app's uid on a root host; no capabilities at all otherwise), no_new_privs and a seccomp
// filter (syscall_filter.h). User code can then neither see, signal nor trace the host or
// other apps, read their files, nor leave processes behind.
//
// With a PID namespace the worker becomes three processes:
//   outer (the process the host started) -> init (PID 1 of the namespace) -> worker (PID 2)
// The outer process reproduces the worker's end (its exit status, or its signal) so that
// the host sees one process. When the worker ends, init ends, and the kernel kills every
// other process of the namespace: a daemon the function started does not survive it.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "functions/worker/syscall_filter.h"
#include "runtime/base/result.h"

namespace gust {

struct SandboxOptions {
  uint64_t memory_bytes = 0;      // RLIMIT_AS; 0: unlimited
  uint64_t max_open_files = 1024;  // RLIMIT_NOFILE, or the hard limit where that is lower
  uint64_t max_file_bytes = 1ull << 30;  // RLIMIT_FSIZE
  uint64_t cpu_seconds = 3600;    // RLIMIT_CPU soft limit; the worker retires before it
  uint64_t max_processes = 256;   // RLIMIT_NPROC, applied only with a dedicated user
  // PID and mount namespaces and the worker's own filesystem view.
  bool namespaces = false;
  // With the namespaces, a user namespace too: a host that is not root needs one to create
  // the others. The host's uid and gid are mapped to themselves inside.
  bool user_namespace = false;
  uint64_t tmp_bytes = 64ull << 20;  // the size of the private /tmp
  bool drop_user = false;            // switch to uid/gid (a root host)
  uid_t uid = 65534;
  gid_t gid = 65534;
  // The seccomp filter, compiled beforehand (by the fork server, see workerSyscallFilter);
  // when null it is compiled here.
  const SyscallFilter* filter = nullptr;
  // cgroup directories the worker joins first (runtime/exec/app_cgroups.h): its own, one
  // per hierarchy, below its app's.
  std::vector<std::string> cgroups;
};

// The seccomp filter every worker loads last.
Result<SyscallFilter> workerSyscallFilter();

// Applies the options. Returns only in the process that goes on to serve; the outer and
// init processes of a PID namespace never return from it.
Result<void> enterSandbox(const SandboxOptions& options);

// True once the process has used most of its CPU-time limit: the worker then retires after
// its current invocation, rather than being killed by SIGXCPU in the middle of one.
bool cpuBudgetNearlySpent(const SandboxOptions& options);

}  // namespace gust
