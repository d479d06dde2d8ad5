// The cluster's notices (runtime/store/cluster_notices.h) on a real redis-server: what one
// host's queue backend commits reaches another host's subscriber as the names of the queues
// and topics that got messages, and as the seq of each retained event.
#include "runtime/store/cluster_notices.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "runtime/store/redis_queue.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using testing::FakeClock;
using testing::WriterFixture;

TEST_CASE("a send through one host is heard by another's subscriber: the queues and topics, and each event's seq") {
  WriterFixture fx;
  FakeClock clock;
  auto redis = testing::connectSharedRedis(fx.loop());
  const std::string prefix = testing::freshRedisPrefix();
  RedisQueue queue(*redis, clock, QueueLimits{}, prefix);
  TopicBindings bindings;
  bindings.retained.push_back(TopicRetention{"orders"});
  bindings.subscriptions.push_back(Subscription{"orders", "billing", {}});
  auto bound = fx.wait<bool>([&](auto done) {
    return queue.bindTopics("shop", std::move(bindings), [done = std::move(done)](Result<void> r) mutable {
      if (r.ok()) return done(true);
      done(r.error());
    });
  });
  GUST_REQUIRE_OK(bound);

  std::multiset<std::string> ready;
  std::vector<std::pair<std::string, uint64_t>> events;
  ClusterNoticeHandlers handlers;
  handlers.messages_ready = [&](const std::string& name) { ready.insert(name); };
  handlers.event_logged = [&](const std::string& topic, uint64_t seq) { events.emplace_back(topic, seq); };
  auto endpoint = parseBackendUrl(testing::sharedRedis().url());
  REQUIRE(endpoint.ok());
  ClusterNotices notices(fx.loop(), *endpoint, std::move(handlers), prefix);

  auto send = [&](const std::string& to, const std::string& id) {
    auto r = fx.wait<std::vector<SendResult>>(
        [&](auto done) { return queue.send(to, {OutgoingMessage{id, "x", {}, {}, {}}}, std::move(done)); });
    GUST_REQUIRE_OK(r);
  };
  // The subscription may not be in place yet: send until it is heard.
  int sent = 0;
  REQUIRE(test::runLoopUntil(fx.loop(), "the first notice", [&] {
    if (!ready.empty()) return true;
    send("jobs", "probe-" + std::to_string(sent++));
    return false;
  }));
  ready.clear();
  send("jobs", "j1");
  send("orders", "o1");
  send("jobs", "j1");  // a duplicate puts nothing anywhere: no notice
  REQUIRE(test::runLoopUntil(fx.loop(), "the notices", [&] { return ready.size() >= 2 && !events.empty(); }));
  CHECK(ready == std::multiset<std::string>{"jobs", "orders"});
  REQUIRE(events.size() == 1);
  CHECK(events[0] == std::make_pair(std::string("orders"), uint64_t{1}));

  int closed = 0;
  notices.close([&closed] { ++closed; });
  redis->close([&closed] { ++closed; });
  test::runLoopUntil(fx.loop(), "the clients to close", [&closed] { return closed == 2; });
}

}  // namespace
}  // namespace gust
