#pragma once
// The seccomp filter of a worker: every system call is allowed but those no function needs
// and that would let it reach past its sandbox or the machine's state (ptrace, mount,
// namespaces, kernel modules, keyrings, the clock, BPF...), which fail with EPERM. Loaded
// last, after the worker's view and identity are set, just before the module is loaded;
// it holds for the worker's threads and every process it starts.

#include <linux/filter.h>

#include <vector>

#include "runtime/base/result.h"

namespace gust {

struct SyscallFilterOptions {
  // LeakSanitizer stops the process with ptrace to scan its memory at exit, so a sanitized
  // worker keeps ptrace (see kAddressSanitizer in sandbox.cc).
  bool allow_ptrace = false;
};

// The filter as a BPF program. libseccomp takes about a millisecond to compile it, so the
// fork server compiles it once, before it forks workers, and each worker only loads it.
class SyscallFilter {
 public:
  static Result<SyscallFilter> build(const SyscallFilterOptions& options);
  // Loads it into the calling thread's process; no_new_privs must be set.
  Result<void> load() const;

 private:
  std::vector<sock_filter> program_;
};

}  // namespace gust
