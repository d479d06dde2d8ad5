#include "runtime/exec/app_uids.h"

#include "runtime/base/text.h"

namespace gust {
namespace {

bool parseUid(std::string_view text, uint32_t& out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n >= UINT32_MAX) return false;
  out = static_cast<uint32_t>(n);
  return true;
}

}  // namespace

Result<UidRange> parseUidRange(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return makeError(ErrorKind::kBadInput, quote(text) + " is not a range of uids: " + why +
                                               "; use FIRST-LAST, such as 200000-265535");
  };
  size_t dash = text.find('-');
  UidRange range;
  if (dash == std::string_view::npos || !parseUid(text.substr(0, dash), range.first) ||
      !parseUid(text.substr(dash + 1), range.last)) {
    return bad("it needs two whole numbers below 4294967295");
  }
  if (range.first > range.last) return bad("it is empty");
  if (range.first == 0) return bad("it contains 0 (root)");
  if (range.last - range.first >= kMaxWorkerUids) {
    return bad("it holds more than " + std::to_string(kMaxWorkerUids) + " uids");
  }
  return range;
}

Result<uint32_t> AppUids::acquire(const std::string& app) {
  if (auto it = by_app_.find(app); it != by_app_.end()) return it->second;
  // taken_ is ordered: the first gap from range_.first is the lowest free uid.
  uint64_t uid = range_.first;
  for (auto it = taken_.lower_bound(range_.first); it != taken_.end() && *it == uid; ++it) ++uid;
  if (uid > range_.last) {
    return makeError(ErrorKind::kUnavailable, "every worker uid from " + std::to_string(range_.first) + " to " +
                                                  std::to_string(range_.last) +
                                                  " is taken by an app; widen worker_uids");
  }
  taken_.insert(static_cast<uint32_t>(uid));
  by_app_[app] = static_cast<uint32_t>(uid);
  return static_cast<uint32_t>(uid);
}

void AppUids::release(const std::string& app) {
  auto it = by_app_.find(app);
  if (it == by_app_.end()) return;
  taken_.erase(it->second);
  by_app_.erase(it);
}

}  // namespace gust
