#pragma once
// The uids of apps' workers on a root host: each app runs under a uid of its own from a
// configured range (setting worker_uids), so that no app can signal, trace or read the
// files of another's processes. An app takes the lowest free uid when its first version is
// created and keeps it across redeploys; it is freed once the app's last version is gone,
// so two apps never share one while both exist.
//
// Owning thread: the loop thread (owned by the Dispatcher).

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

struct UidRange {
  uint32_t first = 200000;
  uint32_t last = 265535;
  bool operator==(const UidRange&) const = default;
};

// Most uids one host hands out: a range beyond this is a typo, not a plan.
constexpr uint32_t kMaxWorkerUids = 1u << 20;

// "FIRST-LAST", inclusive: not empty, without 0 (root), at most kMaxWorkerUids uids, and
// below 4294967295 (which means "no uid" to the kernel).
Result<UidRange> parseUidRange(std::string_view text);

class AppUids {
 public:
  explicit AppUids(UidRange range) : range_(range) {}

  // The app's uid: the one it holds, or the lowest free one; an error when none is free.
  Result<uint32_t> acquire(const std::string& app);
  void release(const std::string& app);

 private:
  UidRange range_;
  std::map<std::string, uint32_t, std::less<>> by_app_;
  std::set<uint32_t> taken_;
};

}  // namespace gust
