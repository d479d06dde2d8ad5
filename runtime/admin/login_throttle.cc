#include "runtime/admin/login_throttle.h"

#include <algorithm>
#include <cstdint>

namespace gust {

std::chrono::milliseconds LoginThrottle::waitFor(const std::string& peer) const {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::chrono::milliseconds(0);
  auto now = clock_.now();
  if (now >= it->second.not_before) return std::chrono::milliseconds(0);
  // Rounded up, so a caller waiting exactly this long is let through.
  return std::chrono::ceil<std::chrono::milliseconds>(it->second.not_before - now);
}

void LoginThrottle::failed(const std::string& peer) {
  auto now = clock_.now();
  if (peers_.size() >= kMaxPeers && !peers_.count(peer)) forgetStale();
  Peer& p = peers_[peer];
  if (p.failures > 0 && now - p.last_failure >= kForgetAfter) p = Peer{};
  ++p.failures;
  p.last_failure = now;
  if (p.failures <= kFreeFailures) return;
  size_t doublings = std::min<size_t>(p.failures - kFreeFailures - 1, 16);
  auto delay = std::min<std::chrono::milliseconds>(kFirstDelay * (int64_t{1} << doublings), kMaxDelay);
  p.not_before = now + delay;
}

void LoginThrottle::forgetStale() {
  auto now = clock_.now();
  std::erase_if(peers_, [&](const auto& entry) { return now - entry.second.last_failure >= kForgetAfter; });
  // Still full of recent failures: drop one rather than grow without bound.
  if (peers_.size() >= kMaxPeers) peers_.erase(peers_.begin());
}

}  // namespace gust
