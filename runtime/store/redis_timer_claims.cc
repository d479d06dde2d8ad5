#include "runtime/store/redis_timer_claims.h"

#include <memory>

namespace gust {

extern const std::string_view kRedisQueueScript;

RedisTimerClaims::RedisTimerClaims(RedisClient& client, std::string prefix)
    : script_(client, kRedisQueueScript, std::move(prefix)) {}

void RedisTimerClaims::claim(const std::string& timer, std::chrono::system_clock::time_point point,
                             UniqueFunction<void(Result<bool>)> done) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(point.time_since_epoch()).count();
  auto shared = std::make_shared<UniqueFunction<void(Result<bool>)>>(std::move(done));
  auto sent = script_.run("timer-claim", ms, {timer, std::to_string(ms)}, [shared](Result<RedisReply> reply) {
    if (!reply.ok()) return (*shared)(reply.error());
    if (reply->isError()) return (*shared)(makeError(ErrorKind::kIo, "redis timer claim: " + reply->str));
    (*shared)(reply->integer == 1);
  });
  if (!sent.ok()) (*shared)(sent.error());
}

}  // namespace gust
