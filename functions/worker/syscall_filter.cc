#include "functions/worker/syscall_filter.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace gust {
namespace {

// Refused outright, when the architecture has them.
constexpr const char* kRefused[] = {
    "process_vm_readv", "process_vm_writev",
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick", "mount_setattr",
    "unshare", "setns",
    "bpf", "perf_event_open",
    "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct",
    "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "stime",
    "syslog", "userfaultfd",
    "open_by_handle_at", "name_to_handle_at",
    "iopl", "ioperm", "quotactl", "quotactl_fd", "lookup_dcookie", "uselib", "vhangup",
};

constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                        CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET};

Error filterError(const std::string& what, int rc) {
  return makeError(ErrorKind::kIo, "cannot build the worker's seccomp filter: " + what + ": " + strerror(-rc));
}

class Filter {
 public:
  Filter() : ctx_(seccomp_init(SCMP_ACT_ALLOW)) {}
  ~Filter() {
    if (ctx_ != nullptr) seccomp_release(ctx_);
  }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  bool valid() const { return ctx_ != nullptr; }

  // Adds a rule for `name` unless this architecture has no such call.
  Result<void> add(const char* name, uint32_t action, unsigned count = 0, scmp_arg_cmp cmp = {}) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr < 0) return {};
    int rc = count == 0 ? seccomp_rule_add(ctx_, action, nr, 0) : seccomp_rule_add(ctx_, action, nr, 1, cmp);
    if (rc != 0) return filterError(name, rc);
    return {};
  }

  // The BPF program, through a memory file: libseccomp 2.5 exports only to a descriptor.
  Result<std::vector<sock_filter>> program() {
    int fd = memfd_create("gust-seccomp", MFD_CLOEXEC);
    if (fd < 0) return filterError("memfd_create", -errno);
    std::vector<sock_filter> program;
    int rc = seccomp_export_bpf(ctx_, fd);
    off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : 0;
    if (rc == 0 && size > 0 && size % static_cast<off_t>(sizeof(sock_filter)) == 0) {
      program.resize(static_cast<size_t>(size) / sizeof(sock_filter));
      if (pread(fd, program.data(), static_cast<size_t>(size), 0) != size) rc = -EIO;
    } else if (rc == 0) {
      rc = -EINVAL;
    }
    ::close(fd);
    if (rc != 0) return filterError("export", rc);
    return program;
  }

 private:
  scmp_filter_ctx ctx_;
};

}  // namespace

Result<SyscallFilter> SyscallFilter::build(const SyscallFilterOptions& options) {
  Filter filter;
  if (!filter.valid()) return makeError(ErrorKind::kIo, "cannot build the worker's seccomp filter");
  const uint32_t refuse = SCMP_ACT_ERRNO(EPERM);
  for (const char* name : kRefused) {
    if (auto r = filter.add(name, refuse); !r) return r.error();
  }
  if (!options.allow_ptrace) {
    if (auto r = filter.add("ptrace", refuse); !r) return r.error();
  }
  // Threads and processes, but no new namespace. clone3 passes its flags in memory, out of
  // the filter's sight: ENOSYS makes glibc fall back to clone.
  for (uint64_t flag : kNamespaceFlags) {
    if (auto r = filter.add("clone", refuse, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)); !r) return r.error();
  }
  if (auto r = filter.add("clone3", SCMP_ACT_ERRNO(ENOSYS)); !r) return r.error();
  // personality() only to ask (0xffffffff) or for the default (0). A rule has one condition
  // per argument, so the values in between are matched by their low 32 bits: any of them has
  // some bit set whose next bit (cyclically) is clear, and neither 0 nor 0xffffffff does.
  if (auto r = filter.add("personality", refuse, 1, SCMP_A0(SCMP_CMP_GT, 0xffffffffull)); !r) return r.error();
  for (unsigned bit = 0; bit < 32; ++bit) {
    uint64_t set = 1ull << bit;
    uint64_t mask = set | (1ull << ((bit + 1) % 32));
    if (auto r = filter.add("personality", refuse, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, mask, set)); !r) return r.error();
  }
  auto program = filter.program();
  if (!program) return program.error();
  SyscallFilter built;
  built.program_ = std::move(*program);
  return built;
}

Result<void> SyscallFilter::load() const {
  sock_fprog prog{static_cast<unsigned short>(program_.size()), const_cast<sock_filter*>(program_.data())};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    return filterError("load", -errno);
  }
  return {};
}

}  // namespace gust
