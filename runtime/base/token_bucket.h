#pragma once
// A token bucket on an injected clock: `rate` tokens a second up to `burst`. Spending may
// overdraw it, so that a caller that can only count what already happened (bytes it has
// read) still pays for all of it; the debt is paid off by the refill before anything else.
// Value type; owning thread: whoever owns it.

#include <chrono>
#include <cstdint>

namespace gust {

class TokenBucket {
 public:
  // Starts full at `now`.
  TokenBucket(double rate_per_second, double burst, std::chrono::steady_clock::time_point now);

  // Takes `amount` tokens, overdrawing the bucket if it holds fewer.
  void spend(double amount, std::chrono::steady_clock::time_point now);
  // True while the bucket holds at least `amount` tokens.
  bool has(double amount, std::chrono::steady_clock::time_point now);
  // How long until it holds `amount` tokens (zero if it does); `amount` is capped at burst.
  std::chrono::milliseconds timeUntil(double amount, std::chrono::steady_clock::time_point now);

 private:
  void refill(std::chrono::steady_clock::time_point now);

  double rate_;
  double burst_;
  double tokens_;
  std::chrono::steady_clock::time_point updated_;
};

}  // namespace gust
