#include "triggers/http/async_runner.h"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/store/sqlite_invocation_store.h"
#include "functions/manifest.h"
#include "tests/support/run_loop.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::WriterFixture;

// A runner on a real gust.db, with a dispatcher whose one app cannot start a worker (its
// executable does not exist), so that every run is answered 503: a failure the runner
// retries. Time moves only when the test says so.
class RunnerFixture {
 public:
  RunnerFixture() : dispatcher(fx.loop(), clock, "/nonexistent/gust", WorkerContainment{}), callbacks(clock) {
    auto opened = SqliteInvocationStore::open(fx.writer(), clock);
    GUST_REQUIRE_OK(opened);
    store = std::move(*opened);
    auto manifest = parseManifest(R"({"name": "shop", "functions": {"order": {"routes": ["/order"]}}})");
    GUST_REQUIRE_OK(manifest);
    AppInfo app;
    app.manifest = std::move(*manifest);
    app.dir = fx.dir();
    GUST_REQUIRE_OK(dispatcher.addApp(std::move(app)));
    AsyncRunnerOptions options;
    options.max_attempts = 3;
    options.first_retry_delay = 500ms;
    runner = std::make_unique<AsyncRunner>(fx.loop(), clock, dispatcher, *store, callbacks, build, options);
    runner->start();
  }
  ~RunnerFixture() {
    int open = 2;
    runner->close([&open] { --open; });
    dispatcher.close([&open] { --open; });
    test::runLoopUntil(fx.loop(), "the runner and the dispatcher to close", [&open] { return open == 0; });
    fx.closeWriter();
  }

  // Runs the loop until the runner has nothing running: the run it started has failed.
  void runUntilIdle(std::string_view what) {
    REQUIRE(test::runLoopUntil(fx.loop(), what, [this] { return runner->running() == 0; }));
  }

  std::string create() {
    AsyncInvocation request;
    request.app = "shop";
    request.function = "order";
    request.request.method = "POST";
    request.request.path = "/order";
    auto created = fx.wait<AsyncCreated>([&](auto done) { return store->createAsync(std::move(request), done); });
    GUST_REQUIRE_OK(created);
    runner->submit(created->invocation);
    return created->invocation.id;
  }

  AsyncInvocation stored(const std::string& id) {
    auto found = fx.wait<std::optional<AsyncInvocation>>([&](auto done) { return store->getAsync(id, done); });
    GUST_REQUIRE_OK(found);
    REQUIRE(found->has_value());
    return **found;
  }

  static Invocation build(const AsyncInvocation& stored) {
    Invocation inv;
    inv.id = stored.id;
    inv.async = true;
    inv.attempt = stored.attempts;
    inv.app = stored.app;
    inv.function = stored.function;
    inv.payload.method = stored.request.method;
    inv.payload.path = stored.request.path;
    return inv;
  }

  FakeClock clock;  // read by the store on the writer's thread: outlives the writer
  WriterFixture fx;
  Dispatcher dispatcher;
  CallbackSender callbacks;
  std::unique_ptr<InvocationStore> store;
  std::unique_ptr<AsyncRunner> runner;
};

TEST_CASE("a failed run is retried after first_retry_delay, then twice that, by the clock; then it fails") {
  RunnerFixture f;
  std::string id = f.create();
  f.runUntilIdle("the first run to fail");
  AsyncInvocation first = f.stored(id);
  CHECK(first.status == AsyncStatus::kQueued);
  CHECK(first.attempts == 1);
  // Whoever polls learns the kind of failure only; the start error is the operator's.
  CHECK(first.error == "unavailable: the function or what it needs is unavailable; retry later");

  for (auto delay : {500ms, 1000ms}) {
    CAPTURE(delay.count());
    // Short of the delay nothing starts, however often the runner looks.
    f.clock.advance(delay - 1ms);
    f.runner->tick();
    CHECK(f.runner->running() == 0);
    f.clock.advance(1ms);
    f.runner->tick();
    CHECK(f.runner->running() == 1);
    f.runUntilIdle("the retry to fail");
  }
  AsyncInvocation last = f.stored(id);
  CHECK(last.status == AsyncStatus::kFailed);
  CHECK(last.attempts == 3);
  CHECK(last.error.find("(after 3 attempts)") != std::string::npos);
  REQUIRE(last.response.has_value());
  CHECK(last.response->status == 503);
}

TEST_CASE("max_pending_async: an app at its bound is refused until one of its invocations finishes") {
  RunnerFixture f;
  REQUIRE(f.runner->admit("shop", 1));
  std::string id = f.create();
  CHECK(f.runner->unfinished("shop") == 1);
  CHECK_FALSE(f.runner->admit("shop", 1));
  CHECK(f.runner->admit("other", 1));  // each app has its own count
  f.runner->unadmit("other");
  // Retries keep it unfinished; its last failure finishes it.
  f.runUntilIdle("the first run to fail");
  CHECK_FALSE(f.runner->admit("shop", 1));
  for (auto delay : {500ms, 1000ms}) {
    f.clock.advance(delay);
    f.runner->tick();
    f.runUntilIdle("the retry to fail");
  }
  REQUIRE(test::runLoopUntil(f.fx.loop(), "the final state to be stored",
                             [&] { return f.runner->unfinished("shop") == 0; }));
  CHECK(f.stored(id).status == AsyncStatus::kFailed);
  CHECK(f.runner->admit("shop", 1));
}

TEST_CASE("a runner that starts on a store with unfinished invocations counts them toward the bound") {
  RunnerFixture f;
  AsyncInvocation request;
  request.app = "shop";
  request.function = "order";
  request.request.method = "POST";
  request.request.path = "/order";
  auto created = f.fx.wait<AsyncCreated>([&](auto done) { return f.store->createAsync(std::move(request), done); });
  GUST_REQUIRE_OK(created);
  // As a restarted host would: a new runner on the same gust.db.
  AsyncRunnerOptions options;
  options.max_pending_async = 1;
  AsyncRunner restarted(f.fx.loop(), f.clock, f.dispatcher, *f.store, f.callbacks, RunnerFixture::build, options);
  restarted.start();
  REQUIRE(test::runLoopUntil(f.fx.loop(), "the count to be read", [&] { return restarted.unfinished("shop") == 1; }));
  CHECK_FALSE(restarted.admit("shop", std::nullopt));  // the options' default bound, 1
  CHECK(restarted.admit("shop", 2));                   // the app's own bound
  bool closed = false;
  restarted.close([&closed] { closed = true; });
  REQUIRE(test::runLoopUntil(f.fx.loop(), "the restarted runner to close", [&closed] { return closed; }));
}

}  // namespace
}  // namespace gust
