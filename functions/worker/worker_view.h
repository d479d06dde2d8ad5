#pragma once
// The filesystem a worker sees: a root of its own (a tmpfs, then pivot_root) holding only
// what a function needs, so that it cannot read the host's database, token or other apps:
//   /usr, /bin, /lib... the system's libraries and tools, read-only (symlinks recreated);
//   /etc               copies of a few files (resolv.conf, hosts, passwd...) and ssl/certs,
//                      read-only;
//   /dev               null, zero, full, random, urandom, and a small /dev/shm;
//   /proc              the procfs of the worker's own PID namespace;
//   /app               the app's version folder (the current directory), read-only;
//   /tmp               a private tmpfs, mode 1777, gone with the worker.
// Called in the worker (PID 2 of its namespace) after it entered a new mount namespace,
// with the capabilities to mount there; it leaves the worker in /app.

#include <cstdint>

#include "runtime/base/result.h"

namespace gust {

struct ViewOptions {
  uint64_t tmp_bytes = 64ull << 20;  // the size of /tmp (and of /dev/shm)
};

Result<void> enterWorkerView(const ViewOptions& options);

}  // namespace gust
