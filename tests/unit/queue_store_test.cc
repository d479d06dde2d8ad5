// The queue backend contract (runtime/store/queue_backend.h), run against the embedded
// backend and, when GUST_STORE_BACKEND=redis (the test "queue_store_test_redis"), against the
// Redis backend on a real redis-server: the same tests, so that both keep the same semantics.
// Tests in the suite "sqlite only" look at gust.db itself, or at a process killed mid-write.
#include "runtime/store/queue_store.h"
#include "runtime/store/redis_queue.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::countCommitted;
using testing::FakeClock;
using testing::WriterFixture;

OutgoingMessage message(std::string id, std::string body, Pairs headers = {}, milliseconds delay = milliseconds(0)) {
  OutgoingMessage m;
  m.id = std::move(id);
  m.body = std::move(body);
  m.headers = std::move(headers);
  m.delay = delay;
  return m;
}

LeaseOptions leaseOf(size_t max_count, milliseconds visibility = seconds(30)) {
  LeaseOptions o;
  o.max_count = max_count;
  o.visibility_timeout = visibility;
  return o;
}

MessageSettlement settlement(const std::string& queue, const LeasedMessage& m, SettleAction action,
                      milliseconds retry_delay = milliseconds(0), std::string error = "") {
  return MessageSettlement{queue, m.id, m.lease_token, action, retry_delay, std::move(error)};
}

// A real queue, on a real gust.db or a real Redis, with time in the test's hands.
class QueueFixture {
 public:
  explicit QueueFixture(QueueLimits limits = {}) : limits_(limits) {
    prefix_ = testing::freshRedisPrefix();
    openQueue();
  }
  ~QueueFixture() { closeQueue(); }

  // Closes everything and opens the same store again, as a restarted host would.
  void reopen() {
    closeQueue();
    if (!testing::onRedisBackend()) fx.openWriter();
    openQueue();
  }

  bool sqlite() const { return !testing::onRedisBackend(); }
  // What is stored, read past the backend: the first column of `sql` in gust.db, or the
  // integer Redis answers to `command` (a key named without the fixture's prefix).
  int64_t stored(const std::string& sql, std::vector<std::string> command) {
    if (sqlite()) return countCommitted(fx.dbPath(), sql);
    command[1] = prefix_ + command[1];
    std::optional<Result<RedisReply>> reply;
    REQUIRE(redis_->command(std::move(command), [&reply](Result<RedisReply> r) { reply = std::move(r); }).ok());
    REQUIRE(test::runLoopUntil(fx.loop(), "Redis to answer", [&reply] { return reply.has_value(); }));
    GUST_REQUIRE_OK(*reply);
    return (*reply)->type == RedisReply::Type::kInteger ? (*reply)->integer : std::atoll((*reply)->str.c_str());
  }
  QueueBackend& queue() { return *queue_; }

  Result<std::vector<SendResult>> send(const std::string& q, std::vector<OutgoingMessage> messages) {
    return fx.wait<std::vector<SendResult>>(
        [&](auto done) { return queue_->send(q, std::move(messages), std::move(done)); });
  }
  std::vector<SendResult> sendOk(const std::string& q, std::vector<OutgoingMessage> messages) {
    auto r = send(q, std::move(messages));
    GUST_REQUIRE_OK(r);
    return *r;
  }
  Result<LeaseResult> lease(const std::string& q, LeaseOptions options) {
    return fx.wait<LeaseResult>([&](auto done) { return queue_->lease(q, options, std::move(done)); });
  }
  LeaseResult leaseOk(const std::string& q, LeaseOptions options) {
    auto r = lease(q, options);
    GUST_REQUIRE_OK(r);
    return *r;
  }
  Result<SettleResult> settle(std::vector<MessageSettlement> settlements, std::vector<MessagePublish> publishes = {}) {
    return fx.wait<SettleResult>([&](auto done) {
      return queue_->settle(std::move(settlements), std::move(publishes), {}, std::move(done));
    });
  }
  SettleResult settleOk(std::vector<MessageSettlement> settlements, std::vector<MessagePublish> publishes = {}) {
    auto r = settle(std::move(settlements), std::move(publishes));
    GUST_REQUIRE_OK(r);
    return *r;
  }
  std::vector<PeekedMessage> peek(const std::string& q, size_t n = 100) {
    auto r = fx.wait<std::vector<PeekedMessage>>([&](auto done) { return queue_->peek(q, n, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r;
  }
  std::vector<QueueStats> stats() {
    auto r = fx.wait<std::vector<QueueStats>>([&](auto done) { return queue_->stats(std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r;
  }
  QueueStats statsOf(const std::string& q) {
    for (auto& s : stats()) {
      if (s.queue == q) return s;
    }
    return QueueStats{q};
  }
  int64_t redrive(const std::string& q) {
    auto r = fx.wait<int64_t>([&](auto done) { return queue_->redrive(q, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r;
  }
  int64_t purge(const std::string& q) {
    auto r = fx.wait<int64_t>([&](auto done) { return queue_->purge(q, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r;
  }
  std::optional<QueueTime> nextVisibleAt(const std::string& q) {
    auto r = fx.wait<std::optional<QueueTime>>([&](auto done) { return queue_->nextVisibleAt(q, std::move(done)); });
    GUST_REQUIRE_OK(r);
    return *r;
  }
  QueueTime now() const { return clock.wallNow(); }

  WriterFixture fx;
  FakeClock clock;

 private:
  void openQueue() {
    if (testing::onRedisBackend()) {
      redis_ = testing::connectSharedRedis(fx.loop());
      queue_ = std::make_unique<RedisQueue>(*redis_, clock, limits_, prefix_);
      return;
    }
    auto q = SqliteQueue::open(fx.writer(), clock, limits_);
    GUST_REQUIRE_OK(q);
    queue_ = std::move(*q);
  }
  // Completes every call in flight, then frees the queue.
  void closeQueue() {
    if (redis_) {
      bool closed = false;
      redis_->close([&closed] { closed = true; });
      test::runLoopUntil(fx.loop(), "the Redis client to close", [&closed] { return closed; });
      queue_.reset();
      redis_.reset();
      return;
    }
    fx.closeWriter();  // drains; then nothing borrows the queue
    queue_.reset();
  }

  QueueLimits limits_;
  std::string prefix_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<QueueBackend> queue_;
};

std::vector<std::string> ids(const std::vector<LeasedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.id);
  return out;
}

TEST_CASE("lease hands out visible messages in send order with their body, headers and a counted attempt") {
  QueueFixture q;
  auto sent = q.sendOk("orders", {message("a", "body-a", {{"k", "v"}, {"trace", "t1"}}), message("b", "body-b"),
                                  message("c", std::string("bin\0ary", 7))});
  REQUIRE(sent.size() == 3);
  CHECK_FALSE(sent[0].duplicate);
  auto first = q.leaseOk("orders", leaseOf(2));
  CHECK(ids(first.messages) == std::vector<std::string>{"a", "b"});
  const LeasedMessage& a = first.messages[0];
  CHECK(a.body == "body-a");
  CHECK(a.headers == Pairs{{"k", "v"}, {"trace", "t1"}});
  CHECK(a.attempts == 1);
  CHECK(a.enqueued_at == q.now());
  CHECK_FALSE(a.lease_token.empty());
  CHECK(a.lease_token != first.messages[1].lease_token);
  auto second = q.leaseOk("orders", leaseOf(10));
  REQUIRE(second.messages.size() == 1);
  CHECK(second.messages[0].body == std::string("bin\0ary", 7));
  CHECK(q.leaseOk("orders", leaseOf(10)).messages.empty());
  CHECK(q.leaseOk("other", leaseOf(10)).messages.empty());
}

TEST_CASE("a message without an id gets a generated one") {
  QueueFixture q;
  auto sent = q.sendOk("q", {message("", "x"), message("", "y")});
  CHECK(sent[0].id.size() == 32);
  CHECK(sent[0].id != sent[1].id);
  CHECK(ids(q.leaseOk("q", leaseOf(2)).messages) == std::vector<std::string>{sent[0].id, sent[1].id});
}

TEST_CASE("a message id seen within the dedupe window is accepted once and reported duplicate") {
  QueueLimits limits;
  limits.dedupe_window = minutes(5);
  QueueFixture q(limits);
  auto first = q.sendOk("q", {message("dup", "one"), message("dup", "two")});
  CHECK_FALSE(first[0].duplicate);
  CHECK(first[1].duplicate);  // within one call too
  CHECK(q.sendOk("q", {message("dup", "three")})[0].duplicate);
  CHECK_FALSE(q.sendOk("elsewhere", {message("dup", "other queue")})[0].duplicate);

  // Acked, but still inside the window: still a duplicate.
  auto leased = q.leaseOk("q", leaseOf(10));
  REQUIRE(leased.messages.size() == 1);
  CHECK(leased.messages[0].body == "one");
  q.settleOk({settlement("q", leased.messages[0], SettleAction::kAck)});
  q.clock.advance(minutes(4));
  CHECK(q.sendOk("q", {message("dup", "four")})[0].duplicate);
  CHECK(q.peek("q").empty());

  // Past the window the id is new again.
  q.clock.advance(minutes(1) + milliseconds(1));
  CHECK_FALSE(q.sendOk("q", {message("dup", "five")})[0].duplicate);
  REQUIRE(q.peek("q").size() == 1);
  CHECK(q.peek("q")[0].body == "five");
}

TEST_CASE("a message still queued past the dedupe window is still a duplicate") {
  QueueLimits limits;
  limits.dedupe_window = minutes(5);
  QueueFixture q(limits);
  q.sendOk("q", {message("later", "x", {}, minutes(60))});
  q.clock.advance(minutes(10));
  CHECK(q.sendOk("q", {message("later", "again")})[0].duplicate);
  CHECK(q.peek("q").size() == 1);
}

TEST_CASE("a delayed message is invisible until its time, and nextVisibleAt says when") {
  QueueFixture q;
  const QueueTime sent_at = q.now();
  CHECK_FALSE(q.nextVisibleAt("q").has_value());
  q.sendOk("q", {message("d", "x", {}, seconds(10))});
  CHECK(q.leaseOk("q", leaseOf(1)).messages.empty());
  CHECK(q.nextVisibleAt("q") == sent_at + seconds(10));
  auto s = q.statsOf("q");
  CHECK(s.delayed == 1);
  CHECK(s.ready == 0);
  q.clock.advance(seconds(9));
  CHECK(q.leaseOk("q", leaseOf(1)).messages.empty());
  q.clock.advance(seconds(1));
  CHECK(q.leaseOk("q", leaseOf(1)).messages.size() == 1);
  // Leased: the next visible time is when the lease runs out.
  CHECK(q.nextVisibleAt("q") == q.now() + seconds(30));
}

TEST_CASE("the attempt counted at lease survives a close and reopen") {
  QueueFixture q;
  q.sendOk("q", {message("m", "x")});
  auto leased = q.leaseOk("q", leaseOf(1, seconds(5)));
  REQUIRE(leased.messages.size() == 1);
  CHECK(leased.messages[0].attempts == 1);
  // The host dies with the message leased (the function may have killed it).
  q.reopen();
  auto peeked = q.peek("q");
  REQUIRE(peeked.size() == 1);
  CHECK(peeked[0].attempts == 1);
  CHECK(peeked[0].state == MessageState::kInFlight);
  q.clock.advance(seconds(5));
  auto again = q.leaseOk("q", leaseOf(1));
  REQUIRE(again.messages.size() == 1);
  CHECK(again.messages[0].attempts == 2);
  CHECK(again.messages[0].lease_token != leased.messages[0].lease_token);
}

TEST_CASE("a settlement with a stale lease token is rejected and changes nothing") {
  QueueFixture q;
  q.sendOk("q", {message("m", "x")});
  auto first = q.leaseOk("q", leaseOf(1, seconds(5)));
  q.clock.advance(seconds(6));
  auto second = q.leaseOk("q", leaseOf(1, seconds(5)));  // the lease expired; leased again
  REQUIRE(second.messages.size() == 1);

  auto stale = q.settleOk({settlement("q", first.messages[0], SettleAction::kAck)});
  CHECK_FALSE(stale.committed);
  CHECK(stale.statuses == std::vector<SettleStatus>{SettleStatus::kStaleLease});
  auto peeked = q.peek("q");
  REQUIRE(peeked.size() == 1);
  CHECK(peeked[0].attempts == 2);
  CHECK(peeked[0].state == MessageState::kInFlight);

  // A stale dead-letter or retry changes nothing either.
  CHECK_FALSE(q.settleOk({settlement("q", first.messages[0], SettleAction::kDeadLetter, {}, "x")}).committed);
  CHECK_FALSE(q.settleOk({settlement("q", first.messages[0], SettleAction::kRetry)}).committed);
  CHECK(q.peek("q.dead").empty());
  CHECK(q.peek("q")[0].state == MessageState::kInFlight);

  auto current = q.settleOk({settlement("q", second.messages[0], SettleAction::kAck)});
  CHECK(current.committed);
  CHECK(current.statuses == std::vector<SettleStatus>{SettleStatus::kApplied});
  CHECK(q.peek("q").empty());
  // Already settled: stale now.
  CHECK(q.settleOk({settlement("q", second.messages[0], SettleAction::kAck)}).statuses ==
        std::vector<SettleStatus>{SettleStatus::kStaleLease});
}

TEST_CASE("an expired lease that nobody took again can still be settled with its token") {
  QueueFixture q;
  q.sendOk("q", {message("m", "x")});
  auto leased = q.leaseOk("q", leaseOf(1, seconds(5)));
  q.clock.advance(seconds(60));
  CHECK(q.settleOk({settlement("q", leased.messages[0], SettleAction::kAck)}).committed);
  CHECK(q.peek("q").empty());
}

TEST_CASE("publishes commit with the settlement, and none of them when any settlement is stale") {
  QueueFixture q;
  q.sendOk("in", {message("a", "A"), message("b", "B")});
  auto leased = q.leaseOk("in", leaseOf(2, seconds(5)));
  REQUIRE(leased.messages.size() == 2);
  // b's lease expires and b goes to another consumer.
  q.clock.advance(seconds(6));
  auto a_again = q.leaseOk("in", leaseOf(1, seconds(60)));  // a comes first, then b
  auto b_again = q.leaseOk("in", leaseOf(1, seconds(60)));
  REQUIRE(b_again.messages.size() == 1);
  CHECK(b_again.messages[0].id == "b");

  // The first consumer settles with a's fresh token (as if it held it) and b's stale one.
  std::vector<MessagePublish> out = {{"out", message("result-1", "from a and b")}, {"audit", message("", "seen")}};
  auto rejected = q.settleOk({settlement("in", a_again.messages[0], SettleAction::kAck),
                              settlement("in", leased.messages[1], SettleAction::kAck)},
                             out);
  CHECK_FALSE(rejected.committed);
  CHECK(rejected.statuses == std::vector<SettleStatus>{SettleStatus::kNotApplied, SettleStatus::kStaleLease});
  CHECK(rejected.published.empty());
  CHECK(q.peek("out").empty());
  CHECK(q.peek("audit").empty());
  CHECK(q.peek("in").size() == 2);  // a was not acked either

  // Settled with current tokens, everything commits at once.
  auto committed = q.settleOk({settlement("in", a_again.messages[0], SettleAction::kAck),
                               settlement("in", b_again.messages[0], SettleAction::kRetry, seconds(1), "later")},
                              out);
  CHECK(committed.committed);
  REQUIRE(committed.published.size() == 2);
  CHECK(committed.published[0].id == "result-1");
  CHECK_FALSE(committed.published[0].duplicate);
  CHECK(q.peek("out").size() == 1);
  CHECK(q.peek("audit").size() == 1);
  CHECK(q.peek("in").size() == 1);

  // A retried invocation that publishes the same id again publishes nothing twice.
  q.clock.advance(seconds(1));
  auto b_third = q.leaseOk("in", leaseOf(1));
  auto republished = q.settleOk({settlement("in", b_third.messages[0], SettleAction::kAck)},
                                {{"out", message("result-1", "again")}});
  CHECK(republished.committed);
  CHECK(republished.published[0].duplicate);
  CHECK(q.peek("out").size() == 1);
}

TEST_CASE("publishes without settlements commit to every queue at once, with ids deduplicated") {
  QueueFixture q;
  q.sendOk("orders", {message("o-1", "seen before")});
  auto r = q.settleOk({}, {{"orders", message("o-1", "again")},
                           {"orders", message("o-2", "new")},
                           {"audit", message("", "log")}});
  CHECK(r.committed);
  CHECK(r.statuses.empty());
  REQUIRE(r.published.size() == 3);
  CHECK(r.published[0].duplicate);
  CHECK_FALSE(r.published[1].duplicate);
  CHECK(q.peek("orders").size() == 2);
  CHECK(q.peek("audit").size() == 1);
  // One bad publish refuses the whole call before anything is written.
  auto bad = q.fx.wait<SettleResult>([&](auto done) {
    return q.queue().settle({}, {{"audit", message("", "fine")}, {"audit.dead", message("", "no")}}, {}, std::move(done));
  });
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("'audit.dead' is a dead-letter queue") != std::string::npos);
  CHECK(q.peek("audit").size() == 1);
}

TEST_CASE("the same lease settled twice in one call is rejected") {
  QueueFixture q;
  q.sendOk("q", {message("m", "x")});
  auto m = q.leaseOk("q", leaseOf(1)).messages.at(0);
  auto r = q.settleOk({settlement("q", m, SettleAction::kAck), settlement("q", m, SettleAction::kAck)});
  CHECK_FALSE(r.committed);
  CHECK(r.statuses == std::vector<SettleStatus>{SettleStatus::kNotApplied, SettleStatus::kStaleLease});
  CHECK(q.peek("q").size() == 1);
}

TEST_CASE("retry makes a message visible after its delay, keeping the counted attempt and the error") {
  QueueFixture q;
  q.sendOk("q", {message("m", "x")});
  auto m = q.leaseOk("q", leaseOf(1)).messages.at(0);
  CHECK(q.settleOk({settlement("q", m, SettleAction::kRetry, seconds(5), "boom")}).committed);
  auto peeked = q.peek("q");
  REQUIRE(peeked.size() == 1);
  CHECK(peeked[0].state == MessageState::kDelayed);
  CHECK(peeked[0].attempts == 1);
  CHECK(peeked[0].last_error == "boom");
  CHECK(q.statsOf("q").delayed == 1);
  CHECK(q.leaseOk("q", leaseOf(1)).messages.empty());
  q.clock.advance(seconds(5));
  auto again = q.leaseOk("q", leaseOf(1));
  REQUIRE(again.messages.size() == 1);
  CHECK(again.messages[0].attempts == 2);
}

TEST_CASE("a dead-lettered message keeps its body, headers, attempts, source, error and times") {
  QueueFixture q;
  const QueueTime enqueued = q.now();
  q.sendOk("q", {message("m", "payload", {{"h", "1"}})});
  q.clock.advance(seconds(3));
  auto m = q.leaseOk("q", leaseOf(1)).messages.at(0);
  q.clock.advance(seconds(2));
  const QueueTime died = q.now();
  CHECK(q.settleOk({settlement("q", m, SettleAction::kDeadLetter, {}, "bad payload")}).committed);
  CHECK(q.peek("q").empty());
  auto dead = q.peek("q.dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].id == "m");
  CHECK(dead[0].body == "payload");
  CHECK(dead[0].headers == Pairs{{"h", "1"}});
  CHECK(dead[0].attempts == 1);
  CHECK(dead[0].source_queue == "q");
  CHECK(dead[0].last_error == "bad payload");
  CHECK(dead[0].enqueued_at == enqueued);
  REQUIRE(dead[0].dead_at.has_value());
  CHECK(*dead[0].dead_at == died);
  auto s = q.statsOf("q");
  CHECK(s.dead == 1);
  CHECK(s.ready + s.in_flight + s.delayed == 0);
}

TEST_CASE("a message that kills its worker every time lands in the dead-letter queue after max_attempts") {
  QueueFixture q;
  q.sendOk("q", {message("poison", "x")});
  LeaseOptions options = leaseOf(1, seconds(10));
  options.max_attempts = 3;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto leased = q.leaseOk("q", options);
    REQUIRE(leased.messages.size() == 1);
    CHECK(leased.messages[0].attempts == attempt);
    // The worker dies: no settle; the lease runs out.
    q.clock.advance(seconds(10));
  }
  auto fourth = q.leaseOk("q", options);
  CHECK(fourth.messages.empty());
  CHECK(fourth.dead_lettered == 1);
  auto dead = q.peek("q.dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].attempts == 3);
  CHECK(dead[0].last_error.find("max_attempts 3") != std::string::npos);
}

TEST_CASE("dead-lettering at lease carries the last retry error and does not stop the lease") {
  QueueFixture q;
  q.sendOk("q", {message("poison", "x"), message("fine", "y")});
  LeaseOptions options = leaseOf(1);
  options.max_attempts = 1;
  auto m = q.leaseOk("q", options).messages.at(0);
  CHECK(q.settleOk({settlement("q", m, SettleAction::kRetry, milliseconds(0), "parse error")}).committed);
  // poison is first in line but out of attempts: it goes dead and "fine" is leased instead.
  auto next = q.leaseOk("q", options);
  CHECK(next.dead_lettered == 1);
  CHECK(ids(next.messages) == std::vector<std::string>{"fine"});
  CHECK(q.peek("q.dead").at(0).last_error.find("last error: parse error") != std::string::npos);
}

TEST_CASE("a message older than max_age is dead-lettered as expired instead of leased") {
  QueueFixture q;
  q.sendOk("q", {message("old", "x")});
  q.clock.advance(minutes(2));
  q.sendOk("q", {message("new", "y")});
  LeaseOptions options = leaseOf(5);
  options.max_age = minutes(1);
  auto leased = q.leaseOk("q", options);
  CHECK(ids(leased.messages) == std::vector<std::string>{"new"});
  CHECK(leased.dead_lettered == 1);
  auto dead = q.peek("q.dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].id == "old");
  CHECK(dead[0].last_error == "expired");
  CHECK(dead[0].attempts == 0);
}

TEST_CASE("redrive moves dead letters back with attempts reset; a live duplicate id stays dead") {
  QueueLimits limits;
  limits.dedupe_window = seconds(1);
  QueueFixture q(limits);
  q.sendOk("q", {message("a", "A"), message("b", "B")});
  for (const auto& m : q.leaseOk("q", leaseOf(2)).messages) {
    CHECK(q.settleOk({settlement("q", m, SettleAction::kDeadLetter, {}, "no")}).committed);
  }
  q.clock.advance(seconds(2));
  q.sendOk("q", {message("b", "B2")});  // b was sent again, after its dedupe window
  CHECK(q.redrive("q.dead") == 1);
  auto dead = q.peek("q.dead");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].id == "b");
  auto live = q.leaseOk("q", leaseOf(10));
  REQUIRE(live.messages.size() == 2);
  for (const auto& m : live.messages) {
    CHECK(m.attempts == 1);  // reset by the redrive, then counted by this lease
    if (m.id == "a") CHECK(m.body == "A");
  }
  CHECK(q.redrive("q.dead") == 0);
}

TEST_CASE("purge empties one queue and answers how many it removed") {
  QueueFixture q;
  q.sendOk("q", {message("a", "1"), message("b", "2"), message("c", "3", {}, seconds(30))});
  q.sendOk("keep", {message("k", "1")});
  q.leaseOk("q", leaseOf(1));
  CHECK(q.purge("q") == 3);
  CHECK(q.peek("q").empty());
  CHECK(q.peek("keep").size() == 1);
  CHECK(q.purge("q") == 0);
}

TEST_CASE("stats count ready, in-flight, delayed and dead per queue; peek does not lease") {
  QueueFixture q;
  q.sendOk("q", {message("r1", "1"), message("r2", "2"), message("f", "3"), message("d", "4", {}, seconds(30))});
  q.sendOk("other", {message("o", "1")});
  // r1 goes dead, r2 stays in flight, f stays ready, d is delayed.
  auto first = q.leaseOk("q", leaseOf(1)).messages.at(0);
  CHECK(q.settleOk({settlement("q", first, SettleAction::kDeadLetter, {}, "x")}).committed);
  auto in_flight = q.leaseOk("q", leaseOf(1)).messages.at(0);
  auto all = q.stats();
  REQUIRE(all.size() == 2);
  CHECK(all[0].queue == "other");
  CHECK(all[0].ready == 1);
  const QueueStats& s = all[1];
  CHECK(s.queue == "q");
  CHECK(s.ready == 1);
  CHECK(s.in_flight == 1);
  CHECK(s.delayed == 1);
  CHECK(s.dead == 1);

  auto peeked = q.peek("q");
  REQUIRE(peeked.size() == 3);
  CHECK(peeked[0].state == MessageState::kReady);
  CHECK(peeked[0].attempts == 0);
  CHECK(peeked[0].id == "f");
  // r2's lease and d's delay both end in 30 s; r2 was sent first.
  CHECK(peeked[1].id == in_flight.id);
  CHECK(peeked[1].state == MessageState::kInFlight);
  CHECK(peeked[2].id == "d");
  CHECK(peeked[2].state == MessageState::kDelayed);
  CHECK(q.peek("q", 1).size() == 1);
  // Peeking twice leased nothing.
  CHECK(q.statsOf("q").ready == 1);
  // An expired lease counts as ready again.
  q.clock.advance(seconds(31));
  CHECK(q.statsOf("q").ready == 3);
}

TEST_CASE("everything survives closing and reopening the database") {
  QueueFixture q;
  q.sendOk("q", {message("a", "A", {{"x", "y"}}), message("b", "B", {}, seconds(60))});
  auto leased = q.leaseOk("q", leaseOf(1, seconds(120)));
  q.sendOk("q", {message("c", "C")});
  auto c = q.leaseOk("q", leaseOf(1)).messages.at(0);
  CHECK(q.settleOk({settlement("q", c, SettleAction::kDeadLetter, {}, "gone")}).committed);
  q.reopen();
  auto s = q.statsOf("q");
  CHECK(s.in_flight == 1);
  CHECK(s.delayed == 1);
  CHECK(s.dead == 1);
  // The lease token is still good after the restart.
  CHECK(q.settleOk({settlement("q", leased.messages.at(0), SettleAction::kAck)}).committed);
  // So is the dedupe memory.
  CHECK(q.sendOk("q", {message("a", "again")})[0].duplicate);
}

TEST_CASE("bad input fails at once with a message naming what is wrong, and never calls back") {
  QueueLimits limits;
  limits.max_body_bytes = 10;
  limits.max_headers = 2;
  QueueFixture q(limits);
  auto refused = [&q](auto call) {
    bool called = false;
    Result<void> r = call([&called](auto) { called = true; });
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(called);
    CHECK(r.error().kind == ErrorKind::kBadInput);
    return r.error().message;
  };
  auto send = [&](std::string queue, OutgoingMessage m) {
    return refused([&](auto done) { return q.queue().send(queue, {m}, std::move(done)); });
  };
  CHECK(send("", message("a", "x")).find("queue name is empty") != std::string::npos);
  // Queue names follow the one rule of runtime/base/names.h.
  CHECK(send("has space", message("a", "x")).find("' ' at position 4 is not allowed") != std::string::npos);
  CHECK(send("slash/name", message("a", "x")).find("path separator") != std::string::npos);
  CHECK(send(std::string(101, 'q'), message("a", "x")).find("101 characters long, more than 100") !=
        std::string::npos);
  CHECK(send("x.dead.dead", message("a", "x")).find("\"x.dead\" names a dead-letter queue") != std::string::npos);
  CHECK(send("x.dead", message("a", "x")).find("send to 'x' instead") != std::string::npos);
  CHECK(send("q", message("a", "01234567890")).find("body is 11 bytes; the limit is 10") != std::string::npos);
  CHECK(send("q", message(std::string(129, 'i'), "x")).find("129 bytes; the limit is 128") != std::string::npos);
  CHECK(send("q", message("with space", "x")).find("message id contains 0x20") != std::string::npos);
  CHECK(send("q", message("ctl\n", "x")).find("0x0a") != std::string::npos);
  CHECK(send("q", message("h", "x", {{"a", "1"}, {"b", "2"}, {"c", "3"}})).find("3 headers; the limit is 2") !=
        std::string::npos);
  CHECK(send("q", message("h", "x", {{"", "1"}})).find("empty name") != std::string::npos);
  CHECK(send("q", message("h", "x", {}, milliseconds(-1))).find("delay of -1 ms") != std::string::npos);
  CHECK(refused([&](auto done) { return q.queue().send("q", {}, std::move(done)); }).find("no messages") !=
        std::string::npos);

  CHECK(refused([&](auto done) { return q.queue().lease("q", leaseOf(0), std::move(done)); })
            .find("max_count 0 is outside 1..1000") != std::string::npos);
  CHECK(refused([&](auto done) { return q.queue().lease("q", leaseOf(1, milliseconds(0)), std::move(done)); })
            .find("visibility timeout") != std::string::npos);
  CHECK(refused([&](auto done) { return q.queue().peek("q", 1001, std::move(done)); }).find("count 1001") !=
        std::string::npos);
  CHECK(refused([&](auto done) { return q.queue().redrive("q", std::move(done)); }).find("redrive 'q.dead'") !=
        std::string::npos);

  MessageSettlement no_token{"q", "m", "", SettleAction::kAck, {}, ""};
  CHECK(refused([&](auto done) { return q.queue().settle({no_token}, {}, {}, std::move(done)); })
            .find("no lease token") != std::string::npos);
  MessageSettlement dead_again{"q.dead", "m", "t", SettleAction::kDeadLetter, {}, ""};
  CHECK(refused([&](auto done) { return q.queue().settle({dead_again}, {}, {}, std::move(done)); })
            .find("already in dead-letter queue") != std::string::npos);
  MessageSettlement ok{"q", "m", "t", SettleAction::kAck, {}, ""};
  CHECK(refused([&](auto done) {
          return q.queue().settle({ok}, {{"out", message("p", "01234567890")}}, {}, std::move(done));
        }).find("publish: message 'p' body is 11 bytes") != std::string::npos);
  CHECK(refused([&](auto done) { return q.queue().settle({}, {}, {}, std::move(done)); }).find("nothing to settle, publish or write") !=
        std::string::npos);
  // Nothing reached the database.
  CHECK(q.stats().empty());
}

TEST_CASE("a dead-letter queue can be leased and acked like any other") {
  QueueFixture q;
  q.sendOk("q", {message("m", "x")});
  auto m = q.leaseOk("q", leaseOf(1)).messages.at(0);
  CHECK(q.settleOk({settlement("q", m, SettleAction::kDeadLetter, {}, "no")}).committed);
  LeaseOptions options = leaseOf(1);
  options.max_attempts = 1;  // limits do not apply in a dead-letter queue: nowhere further to go
  auto dead = q.leaseOk("q.dead", options);
  REQUIRE(dead.messages.size() == 1);
  CHECK(q.settleOk({settlement("q.dead", dead.messages[0], SettleAction::kAck)}).committed);
  CHECK(q.statsOf("q").dead == 0);
}

TEST_CASE("every message acknowledged before a SIGKILL is in the queue after reopening" *
          doctest::test_suite("sqlite only")) {
  testing::TempDir dir;
  const auto path = dir.path() / "gust.db";
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child sends for ever, 8 sends in flight, writing each acknowledged id to the
    // pipe only after its callback ran. No doctest here: it exits on any failure.
    close(fds[0]);
    uv_loop_t loop;
    uv_loop_init(&loop);
    SqliteWriterOptions options;
    options.path = path;
    auto writer = SqliteWriter::open(&loop, options);
    if (!writer.ok()) _exit(2);
    SystemClock clock;
    auto queue = SqliteQueue::open(**writer, clock);
    if (!queue.ok()) _exit(3);
    SqliteQueue* qp = queue->get();
    int next = 0;
    std::function<void()> sendOne = [&] {
      std::string id = "m-" + std::to_string(next++);
      auto r = qp->send("crash", {message(id, "body " + id)}, [&, id](Result<std::vector<SendResult>> sent) {
        if (!sent.ok() || sent->at(0).duplicate) _exit(4);
        std::string line = id + "\n";
        if (write(fds[1], line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
        sendOne();
      });
      if (!r.ok()) _exit(6);
    };
    for (int i = 0; i < 8; ++i) sendOne();
    uv_run(&loop, UV_RUN_DEFAULT);
    _exit(7);
  }
  close(fds[1]);
  // A child that sends for ever must not outlive a failed test.
  struct KillOnExit {
    pid_t pid;
    ~KillOnExit() {
      if (pid <= 0) return;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } running{child};
  std::set<std::string> acked;
  std::string pending;
  bool killed = false;
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  test::waitFor(
      "the child to acknowledge 300 sends, be killed and close its pipe",
      [&] {
        char buf[4096];
        for (;;) {
          ssize_t n = read(fds[0], buf, sizeof buf);
          if (n == 0) return true;  // EOF: the child is gone
          if (n < 0) return false;  // nothing more for now
          pending.append(buf, static_cast<size_t>(n));
          size_t nl;
          while ((nl = pending.find('\n')) != std::string::npos) {
            acked.insert(pending.substr(0, nl));
            pending.erase(0, nl + 1);
          }
          if (!killed && acked.size() >= 300) {
            kill(child, SIGKILL);
            killed = true;
          }
        }
      },
      std::chrono::seconds(60), [&] { return std::to_string(acked.size()) + " sends acknowledged"; });
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  running.pid = 0;
  REQUIRE_MESSAGE(WIFSIGNALED(status), "the child exited on its own with status " << WEXITSTATUS(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  REQUIRE(acked.size() >= 300);

  // Reopen as a restarted host would, and find every acknowledged id.
  uv_loop_t loop;
  uv_loop_init(&loop);
  SqliteWriterOptions options;
  options.path = path;
  auto writer = SqliteWriter::open(&loop, options);
  GUST_REQUIRE_OK(writer);
  FakeClock clock;
  auto queue = SqliteQueue::open(**writer, clock);
  GUST_REQUIRE_OK(queue);
  auto present = (*writer)->runSync<std::set<std::string>>([](SqliteConnection& db) -> Result<std::set<std::string>> {
    auto s = db.prepare("SELECT id FROM queue_messages WHERE queue = 'crash'");
    if (!s.ok()) return s.error();
    std::set<std::string> out;
    while (true) {
      auto row = s->step();
      if (!row.ok()) return row.error();
      if (!*row) return out;
      out.insert(s->text(0));
    }
  });
  GUST_REQUIRE_OK(present);
  size_t missing = 0;
  for (const auto& id : acked) missing += present->count(id) == 0;
  CHECK(missing == 0);
  CHECK(present->size() >= acked.size());
  bool closed = false;
  (*writer)->close([&closed] { closed = true; });
  REQUIRE(test::runLoopUntil(&loop, "the writer to close", [&] { return closed; }));
  queue->reset();
  writer->reset();
  CHECK(uv_loop_close(&loop) == 0);
}


QueueBounds boundsOf(uint64_t max_bytes, std::string owner = "") {
  QueueBounds b;
  b.max_bytes = max_bytes;
  b.owner = std::move(owner);
  return b;
}

TEST_CASE("a send past a queue's max_bytes is refused whole; consuming makes room and nothing accepted is lost") {
  QueueFixture q;
  // 100-byte bodies, no headers (an empty header list encodes to a few bytes).
  const std::string body(100, 'b');
  const uint64_t one = body.size() + 4;
  q.queue().setBounds(boundsOf(1 << 20), {{"orders", boundsOf(3 * one + 10, "app shop")}});
  std::vector<std::string> accepted;
  for (int i = 0; i < 3; ++i) {
    q.sendOk("orders", {message("m" + std::to_string(i), body)});
    accepted.push_back("m" + std::to_string(i));
  }
  auto refused = q.send("orders", {message("m3", body)});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::kLimitReached);
  CHECK(refused.error().message.find("queue 'orders'") != std::string::npos);
  CHECK(refused.error().message.find("max_queue_bytes of app shop") != std::string::npos);
  // A batch that does not fit is refused whole, even the part that would.
  auto batch = q.send("orders", {message("small", "x"), message("m4", body)});
  REQUIRE_FALSE(batch.ok());
  CHECK(batch.error().kind == ErrorKind::kLimitReached);
  CHECK(q.peek("orders").size() == 3);
  // Another queue has the host's bound and is not affected.
  q.sendOk("other", {message("o", body)});

  auto leased = q.leaseOk("orders", leaseOf(1));
  q.settleOk({settlement("orders", leased.messages[0], SettleAction::kAck)});
  // A refused id was not remembered: sent again once there is room, it is new.
  CHECK_FALSE(q.sendOk("orders", {message("m3", body)})[0].duplicate);
  accepted.push_back("m3");

  std::vector<std::string> delivered = ids(leased.messages);
  auto rest = q.leaseOk("orders", leaseOf(10));
  for (const auto& m : rest.messages) delivered.push_back(m.id);
  CHECK(delivered == accepted);
}

TEST_CASE("byte totals follow messages into the dead-letter queue and back, and survive a reopen") {
  QueueFixture q;
  const std::string body(200, 'd');
  const uint64_t one = body.size() + 4;
  q.queue().setBounds(boundsOf(1 << 20), {{"jobs", boundsOf(one + 10)}});
  q.sendOk("jobs", {message("a", body)});
  CHECK(q.send("jobs", {message("b", body)}).error().kind == ErrorKind::kLimitReached);
  auto leased = q.leaseOk("jobs", leaseOf(1));
  q.settleOk({settlement("jobs", leased.messages[0], SettleAction::kDeadLetter, milliseconds(0), "bad")});
  // Dead letters do not count toward the queue's bound.
  q.sendOk("jobs", {message("b", body)});
  q.reopen();
  q.queue().setBounds(boundsOf(1 << 20), {{"jobs", boundsOf(one + 10)}});
  CHECK(q.send("jobs", {message("c", body)}).error().kind == ErrorKind::kLimitReached);
  CHECK(q.stored("SELECT bytes FROM queue_sizes WHERE queue = 'jobs'", {"HGET", "bytes", "jobs"}) ==
        static_cast<int64_t>(one));
  if (q.sqlite()) {
    CHECK(countCommitted(q.fx.dbPath(), "SELECT SUM(length(body) + length(headers)) FROM queue_messages"
                                        " WHERE queue = 'jobs'") == static_cast<int64_t>(one));
  }
  CHECK(q.stored("SELECT bytes FROM queue_sizes WHERE queue = 'jobs.dead'", {"HGET", "bytes", "jobs.dead"}) ==
        static_cast<int64_t>(one));
}

TEST_CASE("publishes past a queue's bound fail the whole settle: the input is not acked and nothing is published") {
  QueueFixture q;
  q.queue().setBounds(boundsOf(1 << 20), {{"out", boundsOf(1024)}});
  q.sendOk("in", {message("a", "A")});
  auto leased = q.leaseOk("in", leaseOf(1));
  auto settled = q.settle({settlement("in", leased.messages[0], SettleAction::kAck)},
                          {{"out", message("small", "ok")}, {"out", message("big", std::string(2000, 'x'))}});
  REQUIRE_FALSE(settled.ok());
  CHECK(settled.error().kind == ErrorKind::kLimitReached);
  CHECK(q.peek("out").empty());
  CHECK(q.peek("in").size() == 1);  // still leased; delivered again when the lease ends
}

TEST_CASE("dedupe ids expire on every path: a publish forgets ids past their window, and so does the sweep") {
  QueueLimits limits;
  limits.dedupe_window = minutes(5);
  QueueFixture q(limits);
  q.settleOk({}, {{"out", message("p1", "x")}, {"out", message("p2", "y")}});
  CHECK(q.stored("SELECT COUNT(*) FROM queue_dedupe", {"ZCARD", "q:out:dedupe"}) == 2);
  q.clock.advance(minutes(6));
  q.settleOk({}, {{"out", message("p3", "z")}});  // a worker's publish, not an admin send
  CHECK(q.stored("SELECT COUNT(*) FROM queue_dedupe", {"ZCARD", "q:out:dedupe"}) == 1);
  q.clock.advance(minutes(6));
  auto swept = q.fx.wait<int64_t>([&](auto done) { return q.queue().sweep(std::move(done)); });
  GUST_REQUIRE_OK(swept);
  CHECK(q.stored("SELECT COUNT(*) FROM queue_dedupe", {"ZCARD", "q:out:dedupe"}) == 0);
  // Scoped to their queue: the same id in two queues is two messages.
  q.settleOk({}, {{"a", message("same", "1")}, {"b", message("same", "2")}});
  CHECK(q.peek("a").size() == 1);
  CHECK(q.peek("b").size() == 1);
}

TEST_CASE("the sweep deletes unconsumed messages and dead letters past their retention, per queue") {
  QueueFixture q;
  QueueBounds defaults = boundsOf(1 << 20);
  defaults.retention = std::chrono::hours(10);
  defaults.dead_letter_retention = std::chrono::hours(20);
  QueueBounds short_lived = defaults;
  short_lived.retention = std::chrono::hours(1);
  q.queue().setBounds(defaults, {{"brief", short_lived}});
  q.sendOk("brief", {message("b1", "x")});
  q.sendOk("long", {message("l1", "x"), message("l2", "y")});
  auto leased = q.leaseOk("long", leaseOf(1));
  q.settleOk({settlement("long", leased.messages[0], SettleAction::kDeadLetter, milliseconds(0), "bad")});
  auto sweep = [&] {
    auto swept = q.fx.wait<int64_t>([&](auto done) { return q.queue().sweep(std::move(done)); });
    GUST_REQUIRE_OK(swept);
    return *swept;
  };
  q.clock.advance(std::chrono::hours(2));
  CHECK(sweep() == 1);  // b1: past brief's hour
  CHECK(q.peek("brief").empty());
  CHECK(q.peek("long").size() == 1);
  q.clock.advance(std::chrono::hours(9));
  CHECK(sweep() == 1);  // l2: past the default 10 hours; the dead letter has 20
  CHECK(q.peek("long").empty());
  CHECK(q.peek("long.dead").size() == 1);
  q.clock.advance(std::chrono::hours(10));
  CHECK(sweep() == 1);
  CHECK(q.peek("long.dead").empty());
}

namespace topics {

using gust::functionSubscriber;

void bind(QueueFixture& q, const std::string& owner, TopicBindings bindings) {
  auto r = q.fx.wait<bool>([&](auto done) {
    return q.queue().bindTopics(owner, std::move(bindings), [done = std::move(done)](Result<void> bound) mutable {
      if (!bound) {
        done(bound.error());
      } else {
        done(true);
      }
    });
  });
  GUST_REQUIRE_OK(r);
}

Subscription sub(const std::string& topic, const std::string& app, const std::string& fn, EventFilter filter = {}) {
  return Subscription{topic, functionSubscriber(app, fn), std::move(filter)};
}

std::string header(const Pairs& headers, const std::string& name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "<none>";
}

std::vector<SubscriptionInfo> subscriptionsOf(QueueFixture& q, const std::string& topic) {
  auto r = q.fx.wait<std::vector<SubscriptionInfo>>(
      [&](auto done) { return q.queue().subscriptions(topic, std::move(done)); });
  GUST_REQUIRE_OK(r);
  return *r;
}

TEST_CASE("a publish to a topic fans out into every subscription's queue, in the settle's transaction") {
  QueueFixture q;
  bind(q, "shop", {{}, {sub("order.placed", "shop", "payment"), sub("order.placed", "shop", "inventory")}, {}});
  const std::string payment = subscriptionQueue("order.placed", "shop:payment");
  const std::string inventory = subscriptionQueue("order.placed", "shop:inventory");
  CHECK(payment == "order.placed:shop:payment");

  // A stale settlement commits none of the fan-out.
  q.sendOk("in", {message("m", "M")});
  auto first = q.leaseOk("in", leaseOf(1, seconds(5)));
  q.clock.advance(seconds(6));
  auto second = q.leaseOk("in", leaseOf(1));
  OutgoingMessage event = message("order-1", R"({"id":"o-1"})",
                                  {{"ce-source", "/forged"}, {"ce-id", "forged"}, {"ce-subject", "o-1"}});
  event.source = "/apps/shop/functions/place";
  auto stale = q.settleOk({settlement("in", first.messages[0], SettleAction::kAck)}, {{"order.placed", event}});
  CHECK_FALSE(stale.committed);
  CHECK(q.peek(payment).empty());

  auto done = q.settleOk({settlement("in", second.messages[0], SettleAction::kAck)}, {{"order.placed", event}});
  REQUIRE(done.committed);
  CHECK(done.published[0].id == "order-1");
  CHECK(q.peek("order.placed").empty());  // a topic is not a queue
  for (const auto& queue : {payment, inventory}) {
    auto got = q.peek(queue);
    REQUIRE(got.size() == 1);
    CHECK(got[0].id == "order-1");
    CHECK(got[0].body == R"({"id":"o-1"})");
    CHECK(header(got[0].headers, "ce-id") == "order-1");
    CHECK(header(got[0].headers, "ce-type") == "order.placed");  // the topic when none was set
    CHECK(header(got[0].headers, "ce-source") == "/apps/shop/functions/place");  // never the publisher's
    CHECK(header(got[0].headers, "ce-subject") == "o-1");
    CHECK(header(got[0].headers, "ce-specversion") == "1.0");
    CHECK(header(got[0].headers, "ce-time").find('T') != std::string::npos);
  }

  // Each subscription fails and dead-letters on its own: payment's retries leave inventory be.
  auto pay = q.leaseOk(payment, leaseOf(1));
  q.settleOk({settlement(payment, pay.messages[0], SettleAction::kDeadLetter, milliseconds(0), "card declined")});
  auto inv = q.leaseOk(inventory, leaseOf(1));
  q.settleOk({settlement(inventory, inv.messages[0], SettleAction::kAck)});
  CHECK(q.peek(deadQueueOf(payment)).size() == 1);
  CHECK(q.peek(inventory).empty());
  auto subs = subscriptionsOf(q, "order.placed");
  REQUIRE(subs.size() == 2);
  for (const auto& s : subs) {
    CHECK(s.owner == "shop");
    CHECK(s.backlog.dead == (s.queue == payment ? 1 : 0));
  }
  CHECK(q.redrive(deadQueueOf(payment)) == 1);
  CHECK(q.peek(payment).size() == 1);
  // Publishing the same event id again is a duplicate for every subscription.
  auto again = q.settleOk({}, {{"order.placed", event}});
  CHECK(again.published[0].duplicate);
}

TEST_CASE("a subscription takes only events its filter matches: type and headers") {
  QueueFixture q;
  EventFilter big;
  big.types = {"order.placed", "order.updated"};
  big.headers = {{"Region", "eu"}};
  bind(q, "shop", {{"orders"}, {sub("orders", "shop", "eu_only", big), sub("orders", "shop", "all")}, {}});
  q.sendOk("orders", {message("1", "x", {{"ce-type", "order.placed"}, {"region", "eu"}}),
                      message("2", "x", {{"ce-type", "order.placed"}, {"region", "us"}}),
                      message("3", "x", {{"ce-type", "order.deleted"}, {"region", "eu"}}),
                      message("4", "x", {{"region", "eu"}})});
  CHECK(q.peek(subscriptionQueue("orders", "shop:eu_only")).size() == 1);
  CHECK(q.peek(subscriptionQueue("orders", "shop:eu_only"))[0].id == "1");
  CHECK(q.peek(subscriptionQueue("orders", "shop:all")).size() == 4);
}

TEST_CASE("a subscription starts from now; one dropped stops receiving and keeps what it holds") {
  QueueFixture q;
  bind(q, "shop", {{"news"}, {}, {}});
  // Declared with nobody subscribed: the event is counted and goes nowhere (not to a queue).
  q.sendOk("news", {message("early", "before anyone listened")});
  CHECK(q.peek("news").empty());
  bind(q, "mail", {{}, {sub("news", "mail", "send")}, {}});
  q.sendOk("news", {message("later", "after")});
  const std::string mail = subscriptionQueue("news", "mail:send");
  REQUIRE(q.peek(mail).size() == 1);
  CHECK(q.peek(mail)[0].id == "later");
  const QueueTime created = subscriptionsOf(q, "news")[0].created_at;
  q.clock.advance(seconds(10));
  bind(q, "mail", {{}, {sub("news", "mail", "send")}, {}});  // a redeploy keeps the subscription as it was
  CHECK(subscriptionsOf(q, "news")[0].created_at == created);

  auto listed = q.fx.wait<std::vector<TopicInfo>>([&](auto done) { return q.queue().topics(std::move(done)); });
  GUST_REQUIRE_OK(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].name == "news");
  CHECK((*listed)[0].declared_by == std::vector<std::string>{"shop"});
  CHECK((*listed)[0].subscriptions == 1);
  CHECK((*listed)[0].published == 2);

  bind(q, "mail", {});  // the app is removed
  q.sendOk("news", {message("after-rm", "x")});
  CHECK(q.peek(mail).size() == 1);  // kept, and nothing new
  bind(q, "shop", {});
  // Nobody declares or subscribes: the name is a plain queue again.
  auto gone = q.fx.wait<std::vector<SubscriptionInfo>>([&](auto d) { return q.queue().subscriptions("news", std::move(d)); });
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().kind == ErrorKind::kNotFound);
  q.sendOk("news", {message("plain", "x")});
  CHECK(q.peek("news").size() == 1);
}

TEST_CASE("subscription queue names are checked, and survive a reopen with their subscriptions") {
  CHECK(validateStoredQueueName("order.placed:shop:payment").ok());
  CHECK(validateStoredQueueName("order.placed:shop:payment.dead").ok());
  CHECK(validateStoredQueueName("order.placed:wh_0123abcd").ok());
  CHECK_FALSE(validateStoredQueueName("order.placed:").ok());
  CHECK_FALSE(validateStoredQueueName("order.placed:Shop:payment").ok());     // app names are lower case
  CHECK_FALSE(validateStoredQueueName("order.placed:shop:pay-ment").ok());    // function names are identifiers
  CHECK_FALSE(validateStoredQueueName(":shop:payment").ok());
  CHECK_FALSE(validateStoredQueueName("a:b:c:d").ok());
  QueueFixture q;
  bind(q, "shop", {{}, {sub("t", "shop", "f")}, {}});
  q.reopen();
  q.sendOk("t", {message("e", "x")});
  CHECK(q.peek("t:shop:f").size() == 1);
}

TEST_CASE("a retained topic logs each event with a seq that only grows, handed over once committed") {
  QueueFixture q;
  std::vector<TopicEvent> heard;
  q.queue().setRetainedListener([&](std::vector<TopicEvent> events) {
    for (auto& e : events) heard.push_back(std::move(e));
  });
  bind(q, "shop", {{"orders"}, {}, {}});
  q.sendOk("orders", {message("before", "not retained yet")});
  CHECK(heard.empty());
  bind(q, "stream:shop", {{}, {}, {TopicRetention{"orders", seconds(60), 3}}});
  q.sendOk("orders", {message("a", "A", {{"ce-type", "order.placed"}, {"ce-subject", "o-1"}}),
                      message("b", "line 1\nline 2")});
  // A stale settle commits none of its publishes, so none is heard or logged.
  q.sendOk("in", {message("m", "M")});
  auto first = q.leaseOk("in", leaseOf(1, seconds(5)));
  q.clock.advance(seconds(6));
  auto second = q.leaseOk("in", leaseOf(1));
  auto stale = q.settleOk({settlement("in", first.messages[0], SettleAction::kAck)}, {{"orders", message("c", "C")}});
  CHECK_FALSE(stale.committed);
  REQUIRE(heard.size() == 2);
  q.settleOk({settlement("in", second.messages[0], SettleAction::kAck)}, {{"orders", message("c", "C")}});
  REQUIRE(heard.size() == 3);
  CHECK(heard[0].seq == 1);
  CHECK(heard[0].id == "a");
  CHECK(heard[0].type == "order.placed");
  CHECK(heard[0].subject == "o-1");
  CHECK(heard[0].source == "/gust");
  CHECK(heard[0].time.find('T') != std::string::npos);
  CHECK(heard[1].seq == 2);
  CHECK(heard[1].type == "orders");  // the topic when the publisher set none
  CHECK(heard[1].data == "line 1\nline 2");
  CHECK(heard[2].seq == 3);

  // The log answers after a seq, ascending, and an id it still holds is not logged again.
  q.sendOk("orders", {message("a", "again")});
  CHECK(heard.size() == 3);
  auto after1 = q.fx.wait<std::vector<TopicEvent>>(
      [&](auto done) { return q.queue().retainedEvents("orders", 1, 10, std::move(done)); });
  GUST_REQUIRE_OK(after1);
  REQUIRE(after1->size() == 2);
  CHECK((*after1)[0].seq == 2);
  CHECK((*after1)[0].data == "line 1\nline 2");
  CHECK((*after1)[1].id == "c");
  CHECK(q.stored("SELECT COUNT(*) FROM topic_events", {"XLEN", "t:orders:stream"}) == 3);
}

TEST_CASE("the retained log is bounded by count at once and by age on the sweep; seqs are never reused") {
  QueueFixture q;
  bind(q, "stream:shop", {{}, {}, {TopicRetention{"orders", seconds(60), 2}}});
  for (const char* id : {"1", "2", "3"}) q.sendOk("orders", {message(id, id)});
  auto events = [&](uint64_t after) {
    auto r = q.fx.wait<std::vector<TopicEvent>>(
        [&](auto done) { return q.queue().retainedEvents("orders", after, 100, std::move(done)); });
    GUST_REQUIRE_OK(r);
    std::vector<uint64_t> seqs;
    for (const auto& e : *r) seqs.push_back(e.seq);
    return seqs;
  };
  CHECK(events(0) == std::vector<uint64_t>{2, 3});
  q.clock.advance(seconds(61));
  auto swept = q.fx.wait<int64_t>([&](auto done) { return q.queue().sweep(std::move(done)); });
  GUST_REQUIRE_OK(swept);
  CHECK(events(0).empty());
  q.reopen();
  bind(q, "stream:shop", {{}, {}, {TopicRetention{"orders", seconds(60), 2}}});
  q.sendOk("orders", {message("4", "4")});
  CHECK(events(0) == std::vector<uint64_t>{4});
  // Released by its last owner, the topic keeps nothing past the next sweep.
  bind(q, "stream:shop", {});
  auto released = q.fx.wait<int64_t>([&](auto done) { return q.queue().sweep(std::move(done)); });
  GUST_REQUIRE_OK(released);
  CHECK(q.stored("SELECT COUNT(*) FROM topic_events", {"XLEN", "t:orders:stream"}) == 0);
}

TEST_CASE("a retention outside its bounds is refused at once, naming the topic") {
  QueueFixture q;
  for (TopicRetention bad : {TopicRetention{"orders", milliseconds(0), 10}, TopicRetention{"orders", std::chrono::hours(24 * 8), 10},
                             TopicRetention{"orders", seconds(1), 0}, TopicRetention{"Bad Name", seconds(1), 1}}) {
    auto r = q.queue().bindTopics("stream:shop", TopicBindings{{}, {}, {bad}}, [](Result<void>) { FAIL("called back"); });
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::kBadInput);
  }
}

}  // namespace topics
}  // namespace
}  // namespace gust
