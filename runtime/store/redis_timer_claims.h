#pragma once
// Which host fires a timer's schedule point when every host of a cluster runs the same
// timers (docs/scale-out.md "Timers fire once"): the first to claim the point in Redis. A
// claim is refused for a point no later than the last one fired, so a host that was down
// fires no past-due point another host already did, and a host that died leaves the next
// point to the others.
//
// Contract: loop thread, like the client it borrows (which outlives it); `done` runs once,
// with an error when Redis cannot be asked (the point is then not fired by this host).

#include <chrono>
#include <string>

#include "runtime/store/redis_script.h"

namespace gust {

class RedisTimerClaims {
 public:
  explicit RedisTimerClaims(RedisClient& client, std::string prefix = "gust:");

  void claim(const std::string& timer, std::chrono::system_clock::time_point point,
             UniqueFunction<void(Result<bool>)> done);

 private:
  RedisScript script_;
};

}  // namespace gust
