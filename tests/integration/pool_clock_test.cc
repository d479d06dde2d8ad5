// The pool driven by an injected clock on the test's own loop, with real worker processes:
// time-based rules checked without waiting for them.
#include <doctest/doctest.h>

#include "runtime/exec/pool.h"
#include "tests/integration/harness.h"
#include "tests/support/manual_clock.h"
#include "tests/support/run_loop.h"

using namespace gust;
using namespace std::chrono_literals;
using gust::test::ManualClock;
using gust::test::runLoopToEnd;
using gust::test::runLoopUntil;

namespace {

PoolConfig configFor(PoolSettings settings) {
  PoolConfig c;
  c.app = "fixtures";
  c.app_dir = std::filesystem::temp_directory_path().string();
  c.module_path = gust::test::env("GUST_FIXTURE_MISBEHAVE");
  c.executable = gust::test::env("GUST_BIN");
  c.functions = {"echo", "sleepy"};
  c.settings = settings;
  c.containment.namespaces = false;  // not needed to test timing, and faster
  c.stop_grace = 100ms;
  return c;
}

Invocation echo(const std::string& id) {
  Invocation inv;
  inv.id = id;
  inv.app = "fixtures";
  inv.function = "echo";
  inv.payload.method = "GET";
  inv.payload.path = "/echo/" + id;
  return inv;
}

// The fixture's function 1, which answers after `ms` milliseconds.
Invocation sleepy(const std::string& ms) {
  Invocation inv = echo("slow");
  inv.function = "sleepy";
  inv.payload.params = {{"ms", ms}};
  return inv;
}

void closePool(uv_loop_t* loop, std::unique_ptr<Pool>& pool) {
  bool closed = false;
  pool->close([&] { closed = true; });
  REQUIRE(runLoopUntil(loop, "the pool to close", [&] { return closed; }));
  pool.reset();
  runLoopToEnd(loop, "the pool's handles to close");
  CHECK(uv_loop_close(loop) == 0);
}

}  // namespace

TEST_CASE("pool scales to zero after the idle timeout and then holds no ref'd handle") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  ManualClock clock;
  PoolSettings settings;
  settings.idle_timeout = 30s;
  auto pool = std::make_unique<Pool>(&loop, clock, configFor(settings));

  std::optional<Outcome> got;
  pool->submit(echo("a"), 0, 5s, [&](Outcome&& o) { got = std::move(o); });
  REQUIRE(runLoopUntil(&loop, "the first answer, from a cold worker", [&] { return got.has_value(); }));
  CHECK(got->kind == OutcomeKind::kOk);
  CHECK(got->cold_start);
  CHECK(pool->stats().idle == 1);

  // Short of the idle timeout nothing happens, however often the pool looks.
  clock.advance(29s);
  pool->tick();
  CHECK(pool->stats().idle == 1);

  clock.advance(2s);
  pool->tick();
  CHECK(runLoopUntil(&loop, "the idle worker to be stopped",
                     [&] { return pool->stats().idle + pool->stats().stopping == 0; }));
  CHECK(pool->stats().idle == 0);
  // Let the worker's handles close; then nothing of the app keeps the loop alive.
  for (int i = 0; i < 20 && uv_loop_alive(&loop); ++i) uv_run(&loop, UV_RUN_NOWAIT);
  CHECK_FALSE(uv_loop_alive(&loop));

  // The next invocation starts a worker again.
  got.reset();
  pool->submit(echo("b"), 0, 5s, [&](Outcome&& o) { got = std::move(o); });
  REQUIRE(runLoopUntil(&loop, "the answer from a worker started again", [&] { return got.has_value(); }));
  CHECK(got->kind == OutcomeKind::kOk);
  CHECK(got->cold_start);
  CHECK(pool->stats().cold_starts == 2);
  closePool(&loop, pool);
}

TEST_CASE("an invocation waiting past pending_timeout is refused when the clock says so") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  ManualClock clock;
  PoolSettings settings;
  settings.max_instances = 1;
  settings.pipeline = 1;
  settings.pending_timeout = 5s;
  auto pool = std::make_unique<Pool>(&loop, clock, configFor(settings));

  std::optional<Outcome> first, second;
  pool->submit(sleepy("1500"), 1, 10s, [&](Outcome&& o) { first = std::move(o); });
  // Once the only instance runs the slow one, the next has to wait.
  REQUIRE(runLoopUntil(&loop, "the only instance to run the slow one", [&] { return pool->stats().busy == 1; }));
  pool->submit(echo("waits"), 0, 5s, [&](Outcome&& o) { second = std::move(o); });
  CHECK(pool->stats().pending == 1);
  clock.advance(4s);
  pool->tick();
  CHECK_FALSE(second);
  clock.advance(2s);
  pool->tick();
  REQUIRE(second);
  CHECK(second->kind == OutcomeKind::kOverloaded);
  CHECK(second->message.find("pending_timeout") != std::string::npos);
  REQUIRE(runLoopUntil(&loop, "the slow one's answer", [&] { return first.has_value(); }));
  CHECK(first->kind == OutcomeKind::kOk);
  closePool(&loop, pool);
}

TEST_CASE("an invocation past its timeout by the clock is answered 504 and its worker killed") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  ManualClock clock;
  auto pool = std::make_unique<Pool>(&loop, clock, configFor(PoolSettings{}));

  std::optional<Outcome> got;
  // It sleeps far longer than the test waits in real time.
  pool->submit(sleepy("60000"), 1, 2s, [&](Outcome&& o) { got = std::move(o); });
  REQUIRE(runLoopUntil(&loop, "a worker to run the slow one", [&] { return pool->stats().busy == 1; }));
  // Short of the timeout nothing happens, however often the pool looks.
  clock.advance(1999ms);
  pool->tick();
  CHECK_FALSE(got);
  clock.advance(1ms);
  pool->tick();
  REQUIRE(got);
  CHECK(got->kind == OutcomeKind::kTimedOut);
  CHECK(got->status == 504);
  CHECK(got->message == "function did not answer within its timeout; its worker was killed");
  CHECK(runLoopUntil(&loop, "the killed worker to be gone",
                     [&] { return pool->stats().busy + pool->stats().stopping == 0; }));
  closePool(&loop, pool);
}
