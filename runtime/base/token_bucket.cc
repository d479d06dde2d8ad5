#include "runtime/base/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace gust {

TokenBucket::TokenBucket(double rate_per_second, double burst, std::chrono::steady_clock::time_point now)
    : rate_(rate_per_second), burst_(burst), tokens_(burst), updated_(now) {}

void TokenBucket::refill(std::chrono::steady_clock::time_point now) {
  if (now <= updated_) return;
  double seconds = std::chrono::duration<double>(now - updated_).count();
  tokens_ = std::min(burst_, tokens_ + seconds * rate_);
  updated_ = now;
}

void TokenBucket::spend(double amount, std::chrono::steady_clock::time_point now) {
  refill(now);
  tokens_ -= amount;
}

bool TokenBucket::has(double amount, std::chrono::steady_clock::time_point now) {
  refill(now);
  return tokens_ >= std::min(amount, burst_);
}

std::chrono::milliseconds TokenBucket::timeUntil(double amount, std::chrono::steady_clock::time_point now) {
  refill(now);
  double missing = std::min(amount, burst_) - tokens_;
  if (missing <= 0 || rate_ <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(missing / rate_ * 1000.0)));
}

}  // namespace gust
