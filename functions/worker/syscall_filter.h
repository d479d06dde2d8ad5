#pragma once
// The seccomp filter of a worker: every system call is allowed but those no function needs
// and that would let it reach past its sandbox or the machine's state (ptrace, mount,
// namespaces, kernel modules, keyrings, the clock, BPF...), which fail with EPERM. Loaded
// last, after the worker's view and identity are set, just before the module is loaded;
// it holds for the worker's threads and every process it starts.

#include "runtime/base/result.h"

namespace gust {

struct SyscallFilterOptions {
  // LeakSanitizer stops the process with ptrace to scan its memory at exit, so a sanitized
  // worker keeps ptrace (see kAddressSanitizer in sandbox.cc).
  bool allow_ptrace = false;
};

Result<void> loadSyscallFilter(const SyscallFilterOptions& options);

}  // namespace gust
