#include "functions/worker/worker_view.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace gust {
namespace {

// The new root is put together on the host's /tmp (shadowed only in this mount namespace);
// pivot_root then makes it "/". The app folder may lie under /tmp: it is bound through a
// descriptor opened before, which the tmpfs does not hide.
constexpr const char* kStaging = "/tmp";

// What of the system a function may use, each only if the host has it.
constexpr const char* kSystemFolders[] = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
constexpr const char* kEtcFiles[] = {"resolv.conf", "hosts", "host.conf", "nsswitch.conf", "gai.conf",
                                     "ld.so.cache", "localtime", "passwd", "group"};
constexpr const char* kEtcFolders[] = {"ssl/certs"};
// The copies of kEtcFiles live in the root's tmpfs (kRootSize): a larger one is left out.
constexpr off_t kMaxEtcFileBytes = 1 << 20;
constexpr const char* kRootSize = "size=4m,mode=0755";
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom"};

Error viewError(const std::string& what) {
  return makeError(ErrorKind::kIo, "cannot set up the worker's filesystem: " + what + ": " + strerror(errno));
}

Result<void> mountAt(const char* source, const std::string& target, const char* type, unsigned long flags,
                     const std::string& data = {}) {
  if (::mount(source, target.c_str(), type, flags, data.empty() ? nullptr : data.c_str()) != 0) {
    return viewError(std::string("mount ") + (type ? type : source) + " on " + target);
  }
  return {};
}

// The flags the kernel locks on a mount that came from a more privileged mount namespace:
// a remount in a user namespace must repeat them.
unsigned long lockedFlags(const std::string& path) {
  struct statvfs s {};
  if (::statvfs(path.c_str(), &s) != 0) return 0;
  unsigned long flags = 0;
  if (s.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (s.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (s.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  if (s.f_flag & ST_NOATIME) flags |= MS_NOATIME;
  if (s.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
  if (s.f_flag & ST_RELATIME) flags |= MS_RELATIME;
  return flags;
}

// A bind mount is read-only only after a remount of its own.
Result<void> bindReadOnly(const std::string& source, const std::string& target) {
  if (auto r = mountAt(source.c_str(), target, nullptr, MS_BIND | MS_REC); !r) return r;
  return mountAt(nullptr, target, nullptr,
                 MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | lockedFlags(target));
}

Result<void> makeDir(const std::string& path, mode_t mode = 0755) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return viewError("mkdir " + path);
  return {};
}

Result<void> makeFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return viewError("create " + path);
  ::close(fd);
  return {};
}

Result<void> makeSymlink(const std::string& target, const std::string& path) {
  if (::symlink(target.c_str(), path.c_str()) != 0) return viewError("symlink " + path);
  return {};
}

// /usr and friends; on a merged-/usr system /bin, /lib... are symlinks into /usr, made again.
Result<void> addSystem(const std::string& root) {
  for (const char* name : kSystemFolders) {
    std::string host = std::string("/") + name;
    struct stat st {};
    if (::lstat(host.c_str(), &st) != 0) continue;
    std::string target = root + host;
    if (S_ISLNK(st.st_mode)) {
      char link[PATH_MAX];
      ssize_t n = ::readlink(host.c_str(), link, sizeof link - 1);
      if (n <= 0) continue;
      if (auto r = makeSymlink(std::string(link, static_cast<size_t>(n)), target); !r) return r;
    } else if (S_ISDIR(st.st_mode)) {
      if (auto r = makeDir(target); !r) return r;
      if (auto r = bindReadOnly(host, target); !r) return r;
    }
  }
  return {};
}

// Copies a small file into the new root, which ends read-only: half the cost of a bind
// mount and its read-only remount. The worker sees the file as it was when it started.
Result<void> copyFile(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return {};  // gone meanwhile: the worker does without it
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  bool ok = out >= 0;
  char buf[16 * 1024];
  for (ssize_t n; ok && (n = ::read(in, buf, sizeof buf)) != 0;) {
    ok = n > 0 && ::write(out, buf, static_cast<size_t>(n)) == n;
  }
  ::close(in);
  if (out >= 0) ::close(out);
  if (!ok) return viewError("copy " + from);
  return {};
}

Result<void> addEtc(const std::string& root) {
  if (auto r = makeDir(root + "/etc"); !r) return r;
  struct stat st {};
  for (const char* name : kEtcFiles) {
    std::string host = std::string("/etc/") + name;
    if (::stat(host.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kMaxEtcFileBytes) continue;
    if (auto r = copyFile(host, root + host); !r) return r;
  }
  for (const char* name : kEtcFolders) {
    std::string host = std::string("/etc/") + name;
    if (::stat(host.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    // Each folder on the way down, then the folder itself.
    for (size_t slash = host.find('/', 5); slash != std::string::npos; slash = host.find('/', slash + 1)) {
      if (auto r = makeDir(root + host.substr(0, slash)); !r) return r;
    }
    if (auto r = makeDir(root + host); !r) return r;
    if (auto r = bindReadOnly(host, root + host); !r) return r;
  }
  return {};
}

Result<void> addDev(const std::string& root, const std::string& shm_size) {
  std::string dev = root + "/dev";
  if (auto r = makeDir(dev); !r) return r;
  if (auto r = mountAt("gust-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755"); !r) return r;
  for (const char* name : kDevices) {
    std::string host = std::string("/dev/") + name;
    if (::access(host.c_str(), F_OK) != 0) continue;
    if (auto r = makeFile(dev + "/" + name); !r) return r;
    if (auto r = mountAt(host.c_str(), dev + "/" + name, nullptr, MS_BIND); !r) return r;
  }
  for (auto [name, target] : {std::pair{"fd", "/proc/self/fd"}, std::pair{"stdin", "/proc/self/fd/0"},
                              std::pair{"stdout", "/proc/self/fd/1"}, std::pair{"stderr", "/proc/self/fd/2"}}) {
    if (auto r = makeSymlink(target, dev + "/" + name); !r) return r;
  }
  if (auto r = makeDir(dev + "/shm"); !r) return r;
  if (auto r = mountAt("gust-shm", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, shm_size + ",mode=1777"); !r) return r;
  // Nothing more may be created in /dev itself.
  return mountAt(nullptr, dev, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC);
}

}  // namespace

Result<void> enterWorkerView(const ViewOptions& options) {
  // The current directory is the app's folder; keep hold of it before /tmp is covered.
  int app_fd = ::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (app_fd < 0) return viewError("open the app folder");
  std::string app_source = "/proc/self/fd/" + std::to_string(app_fd);
  auto finish = [app_fd](Result<void> r) {
    ::close(app_fd);
    return r;
  };
  // Nothing mounted here may reach the host's namespace.
  if (auto r = mountAt(nullptr, "/", nullptr, MS_REC | MS_PRIVATE); !r) return finish(r);
  const std::string root = kStaging;
  if (auto r = mountAt("gust-root", root, "tmpfs", MS_NOSUID | MS_NODEV, kRootSize); !r) return finish(r);
  if (auto r = addSystem(root); !r) return finish(r);
  if (auto r = addEtc(root); !r) return finish(r);
  std::string tmp_size = "size=" + std::to_string(options.tmp_bytes);
  if (auto r = addDev(root, tmp_size); !r) return finish(r);
  if (auto r = makeDir(root + "/proc"); !r) return finish(r);
  // A procfs of this PID namespace: the host's processes have no entry in it.
  if (auto r = mountAt("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC); !r) return finish(r);
  if (auto r = makeDir(root + "/app"); !r) return finish(r);
  if (auto r = bindReadOnly(app_source, root + "/app"); !r) return finish(r);
  if (auto r = makeDir(root + "/tmp"); !r) return finish(r);
  if (auto r = mountAt("gust-tmp", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_size + ",mode=1777"); !r) {
    return finish(r);
  }
  ::close(app_fd);

  // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the new.
  if (::chdir(root.c_str()) != 0) return viewError("chdir " + root);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return viewError("pivot_root");
  if (::umount2(".", MNT_DETACH) != 0) return viewError("detach the host's root");
  if (::chdir("/") != 0) return viewError("chdir /");
  if (auto r = mountAt(nullptr, "/", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV); !r) return r;
  if (::chdir("/app") != 0) return viewError("chdir /app");
  return {};
}

}  // namespace gust
