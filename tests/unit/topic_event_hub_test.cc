#include "runtime/store/topic_event_hub.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "runtime/store/queue_store.h"
#include "runtime/store/redis_queue.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using gust::testing::FakeClock;
using gust::testing::WriterFixture;
using gust::testing::WriterHold;

// A hub over a real queue on a real gust.db, the topic "orders" retained.
struct HubFixture {
  HubFixture() {
    auto q = SqliteQueue::open(fx.writer(), clock);
    GUST_REQUIRE_OK(q);
    queue = std::move(*q);
    hub = std::make_unique<TopicEventHub>(*queue);
    TopicBindings bindings;
    bindings.retained.push_back(TopicRetention{"orders"});
    auto bound = fx.wait<bool>([&](auto done) {
      return queue->bindTopics("stream:shop", std::move(bindings), [done = std::move(done)](Result<void> r) mutable {
        if (r.ok()) return done(true);
        done(r.error());
      });
    });
    GUST_REQUIRE_OK(bound);
  }
  ~HubFixture() {
    hub.reset();
    fx.closeWriter();
  }

  Result<void> post(const std::string& id) {
    return queue->send("orders", {OutgoingMessage{id, "body " + id, {}, {}, {}}}, nullptr);
  }
  void publish(const std::string& id) {
    auto r = fx.wait<std::vector<SendResult>>([&](auto done) {
      return queue->send("orders", {OutgoingMessage{id, "body " + id, {}, {}, {}}}, std::move(done));
    });
    GUST_REQUIRE_OK(r);
  }
  // `n` events in one send.
  void publishMany(size_t n) {
    std::vector<OutgoingMessage> many;
    for (size_t i = 0; i < n; ++i) many.push_back(OutgoingMessage{"m" + std::to_string(i), "x", {}, {}, {}});
    auto sent = fx.wait<std::vector<SendResult>>(
        [&](auto done) { return queue->send("orders", std::move(many), std::move(done)); });
    GUST_REQUIRE_OK(sent);
  }
  void settleDown() {
    // One more committed job: every completion before it has run.
    auto r = fx.wait<int64_t>([&](auto done) { return queue->purge("nothing", std::move(done)); });
    GUST_REQUIRE_OK(r);
  }

  WriterFixture fx;
  FakeClock clock;
  std::unique_ptr<SqliteQueue> queue;
  std::unique_ptr<TopicEventHub> hub;
};

std::vector<uint64_t> seqsOf(const std::vector<TopicEvent>& events) {
  std::vector<uint64_t> out;
  for (const auto& e : events) out.push_back(e.seq);
  return out;
}

TEST_CASE("the hub hands each committed event to the listeners of its topic, until they unsubscribe") {
  HubFixture h;
  std::vector<TopicEvent> a, b;
  auto ta = h.hub->subscribe("orders", [&](const TopicEvent& e) { a.push_back(e); });
  h.hub->subscribe("other", [&](const TopicEvent& e) { b.push_back(e); });
  h.publish("1");
  h.hub->unsubscribe(ta);
  h.hub->unsubscribe(ta);  // ignored
  h.publish("2");
  CHECK(seqsOf(a) == std::vector<uint64_t>{1});
  CHECK(a[0].data == "body 1");
  CHECK(b.empty());
  CHECK(h.hub->listeners() == 1);
}

TEST_CASE("a follow from a seq replays what the log holds after it, then carries on live, each once") {
  HubFixture h;
  for (const char* id : {"1", "2", "3"}) h.publish(id);
  std::vector<TopicEvent> got;
  {
    // Event 4 commits in the replay's transaction, before its read: it is heard live while
    // the replay is pending and read by the replay too, and must come once. Event 5 commits
    // after the read: it comes live only.
    WriterHold hold(h.fx.writer());
    GUST_REQUIRE_OK(h.post("4"));
    h.hub->follow("orders", 1, [&](const TopicEvent& e) { got.push_back(e); },
                  [](const Error& e) { FAIL(e.message); });
    GUST_REQUIRE_OK(h.post("5"));
  }
  h.settleDown();
  CHECK(seqsOf(got) == std::vector<uint64_t>{2, 3, 4, 5});
  h.publish("6");
  CHECK(seqsOf(got) == std::vector<uint64_t>{2, 3, 4, 5, 6});
}

TEST_CASE("a follow without a seq is live only, and one ended from its own callback hears nothing more") {
  HubFixture h;
  h.publish("1");
  std::vector<uint64_t> got;
  TopicEventHub::Token token = 0;
  token = h.hub->follow(
      "orders", std::nullopt,
      [&](const TopicEvent& e) {
        got.push_back(e.seq);
        h.hub->unsubscribe(token);
      },
      [](const Error& e) { FAIL(e.message); });
  h.publish("2");
  h.publish("3");
  h.settleDown();
  CHECK(got == std::vector<uint64_t>{2});
  CHECK(h.hub->listeners() == 0);
}

TEST_CASE("a replay longer than a page comes whole and in order") {
  HubFixture h;
  h.publishMany(TopicEventHub::kReplayPage + 10);
  std::vector<uint64_t> got;
  h.hub->follow("orders", 0, [&](const TopicEvent& e) { got.push_back(e.seq); }, [](const Error& e) { FAIL(e.message); });
  h.settleDown();
  h.settleDown();
  REQUIRE(got.size() == TopicEventHub::kReplayPage + 10);
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == i + 1);
}

TEST_CASE("a reader that is not ready pauses the replay; resume goes on, live events after it, each once") {
  HubFixture h;
  h.publishMany(TopicEventHub::kReplayPage + 10);
  std::vector<uint64_t> got;
  size_t room = 100;  // how many more the reader takes before it is "full"
  auto token = h.hub->follow(
      "orders", 0,
      [&](const TopicEvent& e) {
        got.push_back(e.seq);
        --room;
      },
      [](const Error& e) { FAIL(e.message); }, [&] { return room > 0; });
  h.settleDown();
  CHECK(got.size() == 100);  // paused, mid-page
  h.publish("live-1");       // comes while paused: after the backlog
  h.settleDown();
  CHECK(got.size() == 100);
  for (int round = 0; round < 10 && got.size() < TopicEventHub::kReplayPage + 11; ++round) {
    room = 100;
    h.hub->resume(token);
    h.settleDown();
  }
  REQUIRE(got.size() == TopicEventHub::kReplayPage + 11);
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == i + 1);
  room = 1000;
  h.publish("live-2");
  REQUIRE(got.size() == TopicEventHub::kReplayPage + 12);  // live now, not paced
  CHECK(got.back() == TopicEventHub::kReplayPage + 12);
}

}  // namespace
}  // namespace gust

namespace gust {
namespace {

// Two hosts on one Redis: each with its own queue backend and hub.
TEST_CASE("a shared hub delivers every host's events once each in seq order, reading the log for other hosts'") {
  WriterFixture fx;
  FakeClock clock;
  auto redis = testing::connectSharedRedis(fx.loop());
  const std::string prefix = testing::freshRedisPrefix();
  RedisQueue host_a(*redis, clock, QueueLimits{}, prefix);
  RedisQueue host_b(*redis, clock, QueueLimits{}, prefix);
  TopicEventHub hub_b(host_b);
  hub_b.setShared();
  TopicBindings bindings;
  bindings.retained.push_back(TopicRetention{"orders"});
  auto bound = fx.wait<bool>([&](auto done) {
    return host_a.bindTopics("stream:shop", std::move(bindings), [done = std::move(done)](Result<void> r) mutable {
      if (r.ok()) return done(true);
      done(r.error());
    });
  });
  GUST_REQUIRE_OK(bound);
  auto publish = [&](RedisQueue& through, const std::string& id) {
    auto r = fx.wait<std::vector<SendResult>>([&](auto done) {
      return through.send("orders", {OutgoingMessage{id, "body " + id, {}, {}, {}}}, std::move(done));
    });
    GUST_REQUIRE_OK(r);
  };
  auto settle = [&] {
    // A round trip on the same connection: every read the hub sent before it has answered.
    auto r = fx.wait<RedisReply>([&](auto done) { return redis->command({"PING"}, std::move(done)); });
    GUST_REQUIRE_OK(r);
  };
  std::vector<TopicEvent> got;
  hub_b.subscribe("orders", [&](const TopicEvent& e) { got.push_back(e); });

  publish(host_a, "1");  // seq 1, committed by A: B hears only the notice
  CHECK(got.empty());
  hub_b.committedElsewhere("orders", 1);
  settle();
  CHECK(seqsOf(got) == std::vector<uint64_t>{1});
  CHECK(got[0].data == "body 1");

  publish(host_a, "2");  // its notice is late...
  publish(host_b, "3");  // ...so B's own commit skips a seq: B reads 2 and 3 from the log
  settle();
  CHECK(seqsOf(got) == std::vector<uint64_t>{1, 2, 3});
  hub_b.committedElsewhere("orders", 2);  // the late notice brings nothing twice
  settle();
  CHECK(seqsOf(got) == std::vector<uint64_t>{1, 2, 3});

  publish(host_a, "4");
  publish(host_a, "5");
  hub_b.committedElsewhere("orders", 5);  // a notice lost on the way (4's) is made up by the next
  settle();
  CHECK(seqsOf(got) == std::vector<uint64_t>{1, 2, 3, 4, 5});
  hub_b.committedElsewhere("nobody-listens", 9);  // no listener here: nothing is read
  settle();
  CHECK(got.size() == 5);

  bool closed = false;
  redis->close([&closed] { closed = true; });
  test::runLoopUntil(fx.loop(), "the Redis client to close", [&closed] { return closed; });
}

}  // namespace
}  // namespace gust
