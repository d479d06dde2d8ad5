#pragma once
// The host's file descriptor budget. Every public connection holds a descriptor, and so do
// the things the host cannot go without: each worker's channels, the admin API, SQLite's
// files, the loop's own handles, a deploy's files, outgoing callbacks. At start the host
// raises its soft RLIMIT_NOFILE to the hard limit and splits what it has: a reserve for
// those, the rest for public connections (`--max-connections`). A flood of connections then
// meets a bound the host chose (the oldest idle connection is closed, or the newcomer
// refused) instead of EMFILE in the middle of a cold start or a deploy.
//
// planDescriptors is pure; raiseDescriptorLimit changes the process's limit (workers lower
// theirs again in functions/worker/sandbox.cc).

#include <cstdint>

#include "runtime/base/result.h"

namespace gust {

// Descriptors kept out of the public listener's reach, at the least: a quarter of the limit
// above 256.
inline constexpr uint64_t kMinDescriptorReserve = 64;
// Connections each admin listener may hold, at the most: out of the reserve, so a flood of
// public connections never reaches them.
inline constexpr uint64_t kMaxAdminConnections = 128;

struct DescriptorLimit {
  uint64_t soft_before = 0;  // the soft limit the process started with
  uint64_t soft = 0;         // the soft limit now
  uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard one is
// unlimited, which the kernel would refuse); where that fails, the limit stays as it was.
DescriptorLimit raiseDescriptorLimit();

struct DescriptorBudget {
  uint64_t limit = 0;               // the soft RLIMIT_NOFILE the host runs with
  uint64_t reserve = 0;             // descriptors public connections never get
  uint64_t public_connections = 0;  // the public listener's cap
  uint64_t admin_connections = 0;   // each admin listener's cap, out of the reserve
};

// Splits `limit` descriptors. `max_connections` is --max-connections, or 0 for the default:
// the limit less a reserve of max(64, limit / 4). A cap that leaves less than 64 in reserve
// is refused, with the largest cap that fits and how to raise the limit.
Result<DescriptorBudget> planDescriptors(uint64_t limit, uint64_t max_connections);

}  // namespace gust
