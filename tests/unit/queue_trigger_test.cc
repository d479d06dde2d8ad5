#include "triggers/queue/queue_trigger.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <thread>

#include "tests/unit/store_test_support.h"
#include "runtime/store/queue_store.h"

namespace gust {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::WriterFixture;

TEST_CASE("backoff doubles per attempt from the base, stops at the cap, and jitter scales it by 0.5 to 1") {
  const milliseconds base(100), cap(1000);
  CHECK(queueBackoff(base, cap, 1, 1.0) == milliseconds(100));
  CHECK(queueBackoff(base, cap, 2, 1.0) == milliseconds(200));
  CHECK(queueBackoff(base, cap, 4, 1.0) == milliseconds(800));
  CHECK(queueBackoff(base, cap, 5, 1.0) == milliseconds(1000));
  CHECK(queueBackoff(base, cap, 1000, 1.0) == milliseconds(1000));  // no overflow far past the cap
  CHECK(queueBackoff(base, cap, 2, 0.5) == milliseconds(100));
  CHECK(queueBackoff(base, cap, 2, 0.75) == milliseconds(150));
  // Out-of-range jitter is clamped rather than trusted.
  CHECK(queueBackoff(base, cap, 2, 7.0) == milliseconds(200));
  CHECK(queueBackoff(base, cap, 2, 0.0) == milliseconds(100));
}

AppInfo queueApp(uint32_t max_attempts) {
  AppInfo app;
  app.manifest.name = "app";
  FunctionSpec f;
  f.name = "consume";
  QueueTriggerSpec q;
  q.queue = "q";
  q.batch_size = 2;
  q.max_attempts = max_attempts;
  q.backoff_base = milliseconds(10);
  q.backoff_cap = milliseconds(10);
  f.queue = q;
  app.manifest.functions.push_back(f);
  return app;
}

TEST_CASE("a batch that cannot run is retried with backoff until its last attempt, then dead-lettered") {
  WriterFixture fx;
  FakeClock clock;
  auto store = SqliteQueue::open(fx.writer(), clock);
  REQUIRE(store.ok());
  // No app is registered with the dispatcher: every invocation fails (not found), which is
  // the path a crash, a timeout or an overload takes too.
  Dispatcher dispatcher(fx.loop(), clock, "/nonexistent/gust", WorkerContainment{});
  QueueTrigger trigger(fx.loop(), clock, dispatcher, **store);

  std::vector<OutgoingMessage> sent(3);
  for (size_t i = 0; i < sent.size(); ++i) {
    sent[i].id = "m" + std::to_string(i);
    sent[i].body = "x";
  }
  auto ids = fx.wait<std::vector<SendResult>>([&](auto done) { return (*store)->send("q", std::move(sent), std::move(done)); });
  REQUIRE(ids.ok());
  REQUIRE(trigger.addApp(queueApp(3)).ok());
  CHECK(trigger.consumers() == 1);

  // Time moves by hand: the store reads the fake clock for visibility, the consumer's
  // timers are real and short.
  auto dead = [&] {
    auto stats = fx.wait<std::vector<QueueStats>>([&](auto done) { return (*store)->stats(std::move(done)); });
    return stats.ok() && !stats->empty() && stats->front().dead == 3 && stats->front().ready == 0 &&
           stats->front().delayed == 0;
  };
  test::waitFor(
      "the three messages to be dead-lettered",
      [&] {
        clock.advance(milliseconds(20));
        for (int i = 0; i < 5; ++i) uv_run(fx.loop(), UV_RUN_NOWAIT);
        return dead();
      },
      std::chrono::seconds(20));
  auto peeked = fx.wait<std::vector<PeekedMessage>>([&](auto done) { return (*store)->peek("q.dead", 10, std::move(done)); });
  REQUIRE(peeked.ok());
  REQUIRE(peeked->size() == 3);
  for (const auto& m : *peeked) {
    CHECK(m.attempts == 3);
    CHECK(m.last_error.find("not_found") != std::string::npos);
  }
  CHECK(trigger.stats().dead_lettered == 3);
  CHECK(trigger.stats().messages == 9);  // three messages, three attempts each
  CHECK(trigger.stats().failed_batches >= 6);
  CHECK(trigger.stats().retried == 6);

  bool closed = false;
  trigger.close([&] { closed = true; });
  REQUIRE(test::runLoopUntil(fx.loop(), "the queue trigger to close", [&] { return closed; }));
  CHECK(trigger.consumers() == 0);
  bool dispatcher_closed = false;
  dispatcher.close([&] { dispatcher_closed = true; });
  REQUIRE(test::runLoopUntil(fx.loop(), "the dispatcher to close", [&] { return dispatcher_closed; }));
}

}  // namespace
}  // namespace gust
