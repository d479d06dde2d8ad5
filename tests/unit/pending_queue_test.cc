#include "runtime/exec/pending_queue.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/support/manual_clock.h"

using namespace gust;
using namespace std::chrono_literals;
using gust::test::ManualClock;

namespace {

PoolSettings limits(uint32_t max_pending, std::chrono::milliseconds pending_timeout) {
  PoolSettings s;
  s.max_pending = max_pending;
  s.pending_timeout = pending_timeout;
  return s;
}

// What the queue answered each invocation, by id: each must be answered at most once.
struct Answers {
  std::vector<std::pair<std::string, Outcome>> got;

  OutcomeCallback callbackFor(const std::string& id) {
    return [this, id](Outcome&& o) { got.emplace_back(id, std::move(o)); };
  }
  size_t countFor(const std::string& id) const {
    size_t n = 0;
    for (const auto& [got_id, outcome] : got) n += got_id == id ? 1 : 0;
    return n;
  }
};

// A queue on a clock the test moves, and what it answered.
struct QueueTest {
  explicit QueueTest(PoolSettings settings, std::string slot = "instance", std::string app = "shop")
      : queue(clock, std::move(app), std::move(slot), settings) {}
  ManualClock clock;
  PendingQueue queue;
  Answers answers;
};

// The queue's own 503s: overloaded, with a Retry-After of one second.
void checkOverloaded(const Outcome& o, const std::string& message) {
  CHECK(o.kind == OutcomeKind::kOverloaded);
  CHECK(o.status == 503);
  CHECK(o.retry_after == 1000ms);
  CHECK(o.message == message);
}

PendingInvocation waiting(const std::string& id, OutcomeCallback&& done, uint32_t function_index = 0) {
  Invocation inv;
  inv.id = id;
  inv.app = "shop";
  inv.function = "checkout";
  return PendingInvocation{std::move(inv), function_index, 5s, std::move(done), {}};
}

}  // namespace

TEST_CASE("pending invocations come out oldest first with what they were queued with") {
  QueueTest t(limits(8, 10s));
  CHECK(t.queue.empty());
  CHECK(t.queue.pushOrRefuse(waiting("a", t.answers.callbackFor("a"), 1)));
  CHECK(t.queue.pushOrRefuse(waiting("b", t.answers.callbackFor("b"), 2)));
  CHECK(t.queue.pushOrRefuse(waiting("c", t.answers.callbackFor("c"), 3)));
  CHECK(t.queue.size() == 3);

  PendingInvocation first = t.queue.popFront();
  CHECK(first.invocation.id == "a");
  CHECK(first.function_index == 1);
  CHECK(first.timeout == 5s);
  CHECK(first.enqueued == t.clock.now());
  CHECK(t.queue.popFront().invocation.id == "b");
  CHECK(t.queue.popFront().invocation.id == "c");
  CHECK(t.queue.empty());

  // Popped invocations are the caller's to answer: the queue answered none of them.
  CHECK(t.answers.got.empty());
  first.done(failedOutcome(OutcomeKind::kOk, ""));
  CHECK(t.answers.countFor("a") == 1);
}

TEST_CASE("past max_pending an invocation is refused at once with 503 and Retry-After") {
  QueueTest t(limits(2, 10s));
  CHECK(t.queue.pushOrRefuse(waiting("a", t.answers.callbackFor("a"))));
  CHECK(t.queue.pushOrRefuse(waiting("b", t.answers.callbackFor("b"))));
  CHECK_FALSE(t.queue.pushOrRefuse(waiting("c", t.answers.callbackFor("c"))));

  REQUIRE(t.answers.got.size() == 1);
  CHECK(t.answers.got[0].first == "c");
  checkOverloaded(t.answers.got[0].second,
                  "app shop has 2 invocations waiting already (max_pending); try again shortly");
  CHECK(t.queue.size() == 2);

  // Room again once one is taken out.
  t.queue.popFront().done(failedOutcome(OutcomeKind::kOk, ""));
  CHECK(t.queue.pushOrRefuse(waiting("d", t.answers.callbackFor("d"))));
  CHECK(t.queue.size() == 2);
}

TEST_CASE("a max_pending of zero refuses every invocation") {
  QueueTest t(limits(0, 10s), "thread");
  CHECK_FALSE(t.queue.pushOrRefuse(waiting("a", t.answers.callbackFor("a"))));
  REQUIRE(t.answers.got.size() == 1);
  checkOverloaded(t.answers.got[0].second,
                  "app shop has 0 invocations waiting already (max_pending); try again shortly");
  CHECK(t.queue.empty());
  CHECK_FALSE(t.queue.nextDeadline());
}

TEST_CASE("an invocation that waited pending_timeout gets 503 and the younger ones keep waiting") {
  QueueTest t(limits(8, 1000ms));
  auto t0 = t.clock.now();
  t.queue.pushOrRefuse(waiting("old", t.answers.callbackFor("old")));
  t.clock.advance(400ms);
  t.queue.pushOrRefuse(waiting("young", t.answers.callbackFor("young")));
  CHECK(t.queue.nextDeadline() == t0 + 1000ms);

  // Short of the timeout nothing happens, however often the executor looks.
  t.clock.advance(599ms);
  t.queue.failExpired();
  t.queue.failExpired();
  CHECK(t.answers.got.empty());
  CHECK(t.queue.size() == 2);

  t.clock.advance(1ms);  // exactly pending_timeout for "old"
  t.queue.failExpired();
  REQUIRE(t.answers.got.size() == 1);
  CHECK(t.answers.got[0].first == "old");
  checkOverloaded(t.answers.got[0].second, "app shop had no free instance within its pending_timeout of 1000 ms");
  CHECK(t.queue.size() == 1);
  CHECK(t.queue.nextDeadline() == t0 + 1400ms);

  t.clock.advance(400ms);
  t.queue.failExpired();
  CHECK(t.answers.countFor("young") == 1);
  CHECK(t.answers.countFor("old") == 1);
  CHECK(t.queue.empty());
  CHECK_FALSE(t.queue.nextDeadline());
}

TEST_CASE("the expiry message names what the app waits for") {
  QueueTest t(limits(8, 250ms), "thread", "reports");
  t.queue.pushOrRefuse(waiting("a", t.answers.callbackFor("a")));
  t.clock.advance(250ms);
  t.queue.failExpired();
  REQUIRE(t.answers.got.size() == 1);
  checkOverloaded(t.answers.got[0].second, "app reports had no free thread within its pending_timeout of 250 ms");
}

TEST_CASE("an invocation queued by an expiry callback starts its own wait") {
  QueueTest t(limits(8, 1000ms));
  // A caller that retries at once when told 503, as a queue trigger may.
  bool retried = false;
  t.queue.pushOrRefuse(waiting("first", [&](Outcome&& o) {
    t.answers.got.emplace_back("first", std::move(o));
    retried = t.queue.pushOrRefuse(waiting("retry", t.answers.callbackFor("retry")));
  }));
  t.clock.advance(1000ms);
  t.queue.failExpired();
  CHECK(retried);
  CHECK(t.answers.countFor("first") == 1);
  CHECK(t.answers.countFor("retry") == 0);
  CHECK(t.queue.size() == 1);
  CHECK(t.queue.nextDeadline() == t.clock.now() + 1000ms);
}

TEST_CASE("an invocation put back at the front is served next and its wait starts again") {
  QueueTest t(limits(1, 1000ms));
  t.queue.pushOrRefuse(waiting("queued", t.answers.callbackFor("queued")));
  t.clock.advance(900ms);
  // Returned by a worker that died before running it: max_pending does not turn it away.
  t.queue.pushFront(waiting("returned", t.answers.callbackFor("returned")));
  CHECK(t.queue.size() == 2);
  CHECK(t.answers.got.empty());

  // The sweep reads the front only: "queued" is past its pending_timeout, but it waits
  // behind "returned", whose wait began again when it was put back.
  t.clock.advance(100ms);
  t.queue.failExpired();
  CHECK(t.answers.got.empty());
  CHECK(t.queue.nextDeadline() == t.clock.now() + 900ms);
  CHECK(t.queue.popFront().invocation.id == "returned");
  t.queue.failExpired();
  CHECK(t.answers.countFor("queued") == 1);
  CHECK(t.queue.empty());
}

TEST_CASE("failAll answers every waiting invocation once with the outcome given") {
  QueueTest t(limits(8, 10s));
  for (const char* id : {"a", "b", "c"}) t.queue.pushOrRefuse(waiting(id, t.answers.callbackFor(id)));
  t.queue.failAll(failedOutcome(OutcomeKind::kUnavailable, "the host is shutting down", 1000ms));
  CHECK(t.queue.empty());
  CHECK_FALSE(t.queue.nextDeadline());
  REQUIRE(t.answers.got.size() == 3);
  for (const char* id : {"a", "b", "c"}) CHECK(t.answers.countFor(id) == 1);
  for (const auto& [id, outcome] : t.answers.got) {
    CHECK(outcome.kind == OutcomeKind::kUnavailable);
    CHECK(outcome.status == 503);
    CHECK(outcome.message == "the host is shutting down");
  }
  // Nothing is left to expire or answer twice.
  t.clock.advance(20s);
  t.queue.failExpired();
  CHECK(t.answers.got.size() == 3);
}
