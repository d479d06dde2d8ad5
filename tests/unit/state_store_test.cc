// The app state contract (runtime/store/state_store.h), run against gust.db and, when
// GUST_STORE_BACKEND=redis (the test "state_store_test_redis"), against the Redis backend on a
// real redis-server.
#include "runtime/store/state_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>

#include "runtime/store/queue_store.h"
#include "runtime/store/redis_queue.h"
#include "runtime/store/redis_state_store.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::WriterFixture;

StateWrite put(std::string key, std::string value,
               uint64_t if_version = kAnyStateVersion,
               std::chrono::milliseconds ttl = 0ms) {
  return StateWrite{StateOp::kPut, std::move(key), std::move(value), if_version,
                    ttl};
}

StateWrite remove(std::string key, uint64_t if_version = kAnyStateVersion) {
  return StateWrite{StateOp::kRemove, std::move(key), {}, if_version, 0ms};
}

class StateFixture {
public:
  StateFixture() {
    if (testing::onRedisBackend()) {
      redis_ = testing::connectSharedRedis(fx.loop());
      const std::string prefix = testing::freshRedisPrefix();
      state_ = std::make_unique<RedisStateStore>(fx.loop(), *redis_, clock,
                                                 prefix);
      queue_ = std::make_unique<RedisQueue>(*redis_, clock, QueueLimits{},
                                            prefix);
      return;
    }
    auto state = SqliteStateStore::open(fx.writer(), clock);
    GUST_REQUIRE_OK(state);
    state_ = std::move(*state);
    auto queue = SqliteQueue::open(fx.writer(), clock);
    GUST_REQUIRE_OK(queue);
    queue_ = std::move(*queue);
  }
  ~StateFixture() {
    if (redis_) {
      int closed = 0;
      static_cast<RedisStateStore &>(*state_).close([&closed] { ++closed; });
      redis_->close([&closed] { ++closed; });
      test::runLoopUntil(fx.loop(), "the Redis client to close",
                         [&closed] { return closed == 2; });
    }
    fx.closeWriter();
    queue_.reset();
    state_.reset();
  }

  Result<bool> commit(const std::string &app, std::vector<StateWrite> writes,
                      StateBounds bounds = {}) {
    return fx.wait<bool>([&](auto done) {
      return state_->commit({app, std::move(writes), bounds}, std::move(done));
    });
  }
  // "VALUE@VERSION", or "absent".
  std::string read(const std::string &app, const std::string &key) {
    auto r = fx.wait<std::optional<StateItem>>(
        [&](auto done) { return state_->get(app, key, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r ? (*r)->value + "@" + std::to_string((*r)->version) : "absent";
  }
  std::vector<StateItem> list(const std::string &app, const std::string &prefix,
                              size_t limit = 100) {
    auto r = fx.wait<std::vector<StateItem>>([&](auto done) {
      return state_->list(app, prefix, limit, std::move(done));
    });
    GUST_REQUIRE_OK(r);
    return *r;
  }
  StateUsage usage(const std::string &app) {
    auto r = fx.wait<StateUsage>(
        [&](auto done) { return state_->usage(app, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r;
  }

  WriterFixture fx;
  FakeClock clock;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<StateStore> state_;
  std::unique_ptr<QueueBackend> queue_;
};

} // namespace

TEST_CASE("a key's version is 1 when created and grows by one per put; remove "
          "deletes it") {
  StateFixture s;
  GUST_REQUIRE_OK(s.commit("app", {put("k", "a")}));
  CHECK(s.read("app", "k") == "a@1");
  GUST_REQUIRE_OK(s.commit("app", {put("k", "b"), put("k", "c")}));
  CHECK(s.read("app", "k") == "c@3");
  GUST_REQUIRE_OK(s.commit("app", {remove("k")}));
  CHECK(s.read("app", "k") == "absent");
  GUST_REQUIRE_OK(s.commit("app", {put("k", "again")}));
  CHECK(s.read("app", "k") == "again@1");
  // Apps do not see each other's keys.
  CHECK(s.read("other", "k") == "absent");
}

TEST_CASE("a version check that fails aborts every write of the commit and "
          "names the key") {
  StateFixture s;
  GUST_REQUIRE_OK(s.commit("app", {put("k", "1", 0)}));
  auto stale = s.commit("app", {put("first", "x"), put("k", "2", 0)});
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().kind == ErrorKind::kConflict);
  CHECK(stale.error().message.find("\"k\"") != std::string::npos);
  CHECK(stale.error().message.find("is version 1, not absent") !=
        std::string::npos);
  CHECK(s.read("app", "first") == "absent");
  GUST_REQUIRE_OK(s.commit("app", {put("k", "2", 1)}));
  CHECK(s.read("app", "k") == "2@2");
  CHECK_FALSE(s.commit("app", {remove("k", 1)}).ok());
  GUST_REQUIRE_OK(s.commit("app", {remove("k", 2)}));
  CHECK(s.read("app", "k") == "absent");
}

TEST_CASE("a key past its TTL reads as absent, counts as absent for a version "
          "check, and is swept") {
  StateFixture s;
  GUST_REQUIRE_OK(
      s.commit("app", {put("session", "s", kAnyStateVersion, 1000ms),
                       put("kept", "k")}));
  s.clock.advance(999ms);
  CHECK(s.read("app", "session") == "s@1");
  s.clock.advance(1ms);
  CHECK(s.read("app", "session") == "absent");
  CHECK(s.list("app", "").size() == 1);
  CHECK(s.usage("app").keys == 2); // until swept
  auto swept = s.fx.wait<int64_t>(
      [&](auto done) { return s.state_->sweep(std::move(done)); });
  GUST_REQUIRE_OK(swept);
  CHECK(*swept == 1);
  CHECK(s.usage("app").keys == 1);
  // "Only if absent" holds for an expired key, which starts again at version 1.
  GUST_REQUIRE_OK(
      s.commit("app", {put("session", "t", kAnyStateVersion, 1000ms)}));
  s.clock.advance(2000ms);
  GUST_REQUIRE_OK(s.commit("app", {put("session", "u", 0)}));
  CHECK(s.read("app", "session") == "u@1");
}

TEST_CASE("an app's state is bounded in keys and bytes, whole commits refused, "
          "expired keys making room") {
  StateFixture s;
  StateBounds bounds{3, 1000};
  GUST_REQUIRE_OK(s.commit(
      "app",
      {put("a", "1"), put("b", "2"), put("c", "3", kAnyStateVersion, 10ms)},
      bounds));
  auto over = s.commit("app", {put("d", "4"), put("a", "changed")}, bounds);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().kind == ErrorKind::kLimitReached);
  CHECK(over.error().message.find("more than its limit of 3") !=
        std::string::npos);
  CHECK(over.error().message.find("gust state ls app") != std::string::npos);
  CHECK(s.read("app", "a") == "1@1");
  s.clock.advance(10ms); // "c" expires and frees its place
  GUST_REQUIRE_OK(s.commit("app", {put("d", "4")}, bounds));
  auto big = s.commit("app", {put("a", std::string(1000, 'x'))}, bounds);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().message.find("bytes, more than its limit of 1000") !=
        std::string::npos);
  CHECK(s.usage("app").keys == 3);
}

TEST_CASE("state lists by prefix in key order; removing an app deletes its "
          "state only") {
  StateFixture s;
  GUST_REQUIRE_OK(s.commit(
      "app", {put("user:2", "bb"), put("user:1", "a"), put("order:1", "o")}));
  GUST_REQUIRE_OK(s.commit("other", {put("user:1", "mine")}));
  auto users = s.list("app", "user:");
  REQUIRE(users.size() == 2);
  CHECK(users[0].key == "user:1");
  CHECK(users[1].key == "user:2");
  CHECK(users[1].size == 2);
  CHECK(users[1].version == 1);
  CHECK(s.list("app", "", 2).size() == 2);
  auto removed = s.fx.wait<int64_t>(
      [&](auto done) { return s.state_->removeApp("app", std::move(done)); });
  GUST_REQUIRE_OK(removed);
  CHECK(*removed == 3);
  CHECK(s.list("app", "").empty());
  CHECK(s.usage("app").keys == 0);
  CHECK(s.read("other", "user:1") == "mine@1");
}

TEST_CASE("state writes commit in the settle of their invocation: a conflict "
          "settles and publishes nothing") {
  StateFixture s;
  GUST_REQUIRE_OK(s.commit("app", {put("count", "1")}));
  auto sent = s.fx.wait<std::vector<SendResult>>([&](auto done) {
    return s.queue_->send("in", {OutgoingMessage{"m1", "body", {}, 0ms}},
                          std::move(done));
  });
  GUST_REQUIRE_OK(sent);
  auto leased = s.fx.wait<LeaseResult>([&](auto done) {
    return s.queue_->lease("in", LeaseOptions{}, std::move(done));
  });
  GUST_REQUIRE_OK(leased);
  REQUIRE(leased->messages.size() == 1);
  MessageSettlement ack{
      "in", "m1", leased->messages[0].lease_token, SettleAction::kAck, 0ms, ""};
  MessagePublish out{"out", OutgoingMessage{"", "published", {}, 0ms}};

  auto conflicted = s.fx.wait<SettleResult>([&](auto done) {
    return s.queue_->settle({ack}, {out},
                            AppStateWrites{"app", {put("count", "2", 7)}, {}},
                            std::move(done));
  });
  REQUIRE_FALSE(conflicted.ok());
  CHECK(conflicted.error().kind == ErrorKind::kConflict);
  auto peek = [&](const std::string &q) {
    auto r = s.fx.wait<std::vector<PeekedMessage>>(
        [&](auto done) { return s.queue_->peek(q, 10, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return r->size();
  };
  CHECK(peek("in") == 1);  // not acked
  CHECK(peek("out") == 0); // not published
  CHECK(s.read("app", "count") == "1@1");

  auto settled = s.fx.wait<SettleResult>([&](auto done) {
    return s.queue_->settle({ack}, {out},
                            AppStateWrites{"app", {put("count", "2", 1)}, {}},
                            std::move(done));
  });
  GUST_REQUIRE_OK(settled);
  CHECK(settled->committed);
  CHECK(peek("in") == 0);
  CHECK(peek("out") == 1);
  CHECK(s.read("app", "count") == "2@2");

  // State alone commits too (an HTTP invocation that only wrote state).
  auto alone = s.fx.wait<SettleResult>([&](auto done) {
    return s.queue_->settle({}, {},
                            AppStateWrites{"app", {remove("count", 2)}, {}},
                            std::move(done));
  });
  GUST_REQUIRE_OK(alone);
  CHECK(s.read("app", "count") == "absent");
}

TEST_CASE("a function's own thread reads state blocking while the loop runs") {
  StateFixture s;
  GUST_REQUIRE_OK(s.commit("app", {put("greeting", "hello")}));
  std::atomic<bool> finished{false};
  Result<std::optional<StateItem>> got = std::optional<StateItem>();
  std::thread reader([&] {
    got = s.state_->getBlocking("app", "greeting");
    finished = true;
  });
  bool answered = test::runLoopUntil(s.fx.loop(), "the blocking read",
                                     [&] { return finished.load(); });
  reader.join();
  REQUIRE(answered);
  GUST_REQUIRE_OK(got);
  REQUIRE(got->has_value());
  CHECK((*got)->value == "hello");
  CHECK((*got)->version == 1);
}

TEST_CASE("state keys are 1..512 bytes of UTF-8 without control characters") {
  CHECK(stateKeyProblem("orders/42").empty());
  CHECK(stateKeyProblem("köln").empty());
  CHECK(stateKeyProblem(std::string(512, 'k')).empty());
  CHECK(stateKeyProblem("") == "a state key may not be empty");
  CHECK(stateKeyProblem(std::string(513, 'k'))
            .find("longer than the limit of 512") != std::string::npos);
  CHECK(stateKeyProblem("a\nb").find("control character") != std::string::npos);
  CHECK(stateKeyProblem("\xff").find("not UTF-8") != std::string::npos);
}

} // namespace gust
