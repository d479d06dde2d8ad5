#include "runtime/host/descriptors.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace gust {
namespace {

// The kernel's ceiling for RLIMIT_NOFILE (fs.nr_open); Linux's default where it cannot be read.
uint64_t kernelDescriptorCeiling() {
  uint64_t n = 0;
  std::ifstream in("/proc/sys/fs/nr_open");
  if (in >> n && n > 0) return n;
  return 1u << 20;
}

}  // namespace

DescriptorLimit raiseDescriptorLimit() {
  DescriptorLimit out;
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return out;
  out.soft_before = out.soft = lim.rlim_cur;
  out.hard = lim.rlim_max;
  rlim_t target = lim.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(kernelDescriptorCeiling()) : lim.rlim_max;
  if (target <= lim.rlim_cur) return out;
  rlimit raised{target, lim.rlim_max};
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = target;
  return out;
}

Result<DescriptorBudget> planDescriptors(uint64_t limit, uint64_t max_connections) {
  DescriptorBudget budget;
  budget.limit = limit;
  const std::string how_to_raise =
      "raise the descriptor limit (`ulimit -n` in the shell that starts the host, LimitNOFILE= in a systemd unit)";
  if (limit <= kMinDescriptorReserve) {
    return makeError(ErrorKind::kBadInput, "the descriptor limit is " + std::to_string(limit) + ", but the host keeps " +
                                               std::to_string(kMinDescriptorReserve) +
                                               " for workers, the admin API and its files and needs more for "
                                               "connections; " + how_to_raise);
  }
  if (max_connections == 0) {
    budget.reserve = std::max(kMinDescriptorReserve, limit / 4);
    budget.public_connections = limit - budget.reserve;
  } else {
    if (max_connections > limit - kMinDescriptorReserve) {
      return makeError(ErrorKind::kBadInput,
                       "--max-connections " + std::to_string(max_connections) + " leaves less than " +
                           std::to_string(kMinDescriptorReserve) + " of the " + std::to_string(limit) +
                           " descriptors the host may open for its workers, the admin API and its files; use at most " +
                           std::to_string(limit - kMinDescriptorReserve) + ", or " + how_to_raise);
    }
    budget.public_connections = max_connections;
    budget.reserve = limit - max_connections;
  }
  // A quarter each: with --admin-listen there are two admin listeners, which leaves half
  // the reserve for everything else.
  budget.admin_connections = std::min(kMaxAdminConnections, budget.reserve / 4);
  return budget;
}

}  // namespace gust
