#include "triggers/http/http_trigger.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <future>
#include <thread>

#include "functions/manifest.h"
#include "tests/support/http_client.h"
#include "tests/support/run_loop.h"
#include "tests/support/wait_for.h"
#include "tests/unit/store_test_support.h"
#include "triggers/http/async_runner.h"

namespace gust {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("respond-async is found among the preferences of any Prefer field, in any case") {
  CHECK(prefersRespondAsync({{"prefer", "respond-async"}}));
  CHECK(prefersRespondAsync({{"prefer", "Respond-Async"}}));
  CHECK(prefersRespondAsync({{"prefer", "wait=10, respond-async"}}));
  CHECK(prefersRespondAsync({{"prefer", "return=minimal,respond-async ;x=1"}}));
  CHECK(prefersRespondAsync({{"prefer", " \trespond-async\t"}}));
  CHECK(prefersRespondAsync({{"prefer", "wait=1"}, {"prefer", "respond-async"}}));
  CHECK(prefersRespondAsync({{"prefer", "respond-async=yes"}}));  // a value does not change the token
}

TEST_CASE("respond-async is not found where it is only part of a token, a value or another field") {
  CHECK_FALSE(prefersRespondAsync({}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", ""}}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", "respond-asynchronously"}}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", "x-respond-async"}}));
  CHECK_FALSE(prefersRespondAsync({{"prefer", "handling=lenient; respond-async"}}));  // a parameter
  CHECK_FALSE(prefersRespondAsync({{"prefer", "foo=\"a, respond-async\""}}));        // inside quotes
  CHECK_FALSE(prefersRespondAsync({{"x-prefer", "respond-async"}}));
}

TEST_CASE("a respond-async request that gust.db cannot take now is answered 503 with Retry-After") {
  SqliteWriterOptions writer_options;
  writer_options.max_queued_jobs = 1;
  testing::WriterFixture fx(writer_options);
  SystemClock clock;
  auto store = InvocationStore::open(fx.writer(), clock);
  GUST_REQUIRE_OK(store);
  Dispatcher dispatcher(fx.loop(), clock, "/nonexistent/gust", WorkerContainment{});
  HttpTrigger http(fx.loop(), dispatcher, HttpLimits{});
  CallbackSender callbacks(clock);
  AsyncRunner runner(fx.loop(), clock, dispatcher, **store, callbacks,
                     [&http](const AsyncInvocation& a) { return http.asyncInvocation(a); });
  http.enableAsync(**store, runner);
  auto manifest = parseManifest(R"({"name": "shop", "functions": {"order": {"routes": [
      {"path": "/order", "methods": ["POST"]}]}}})");
  GUST_REQUIRE_OK(manifest);
  AppInfo app;
  app.manifest = std::move(*manifest);
  GUST_REQUIRE_OK(http.addApp(app));
  auto port = http.listen("127.0.0.1", 0);
  GUST_REQUIRE_OK(port);

  // One job holds the writer thread; a second one then fills its queue of one.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  GUST_REQUIRE_OK(fx.writer().post<int>(
      [released](SqliteConnection&) -> Result<int> {
        released.wait();
        return 0;
      },
      nullptr));
  auto filler = [](SqliteConnection&) -> Result<int> { return 0; };
  // Posting succeeds once the writer has taken the first job.
  test::waitFor("the writer to take the holding job", [&] { return fx.writer().post<int>(filler, nullptr).ok(); },
                std::chrono::seconds(2));

  std::optional<httplib::Result> accepted, polled;
  std::atomic<bool> answered{false};
  // A jthread: when the wait below fails, it is joined once its requests time out rather
  // than abort the test.
  std::jthread client([&] {
    httplib::Client c = test::localClient(*port);
    accepted.emplace(c.Post("/order", {{"Prefer", "respond-async"}}, "{}", "application/json"));
    polled.emplace(c.Get("/v1/invocations/abc"));
    answered = true;
  });
  // The loop is polled: nothing on it hears when the client thread is done.
  test::waitFor(
      "the HTTP trigger to answer both requests",
      [&] {
        uv_run(fx.loop(), UV_RUN_NOWAIT);
        return answered.load();
      },
      std::chrono::seconds(10));
  client.join();
  REQUIRE(*accepted);
  CHECK((*accepted)->status == 503);
  CHECK((*accepted)->get_header_value("Retry-After") == "1");
  CHECK((*accepted)->body.find("max_queued_jobs") != std::string::npos);
  REQUIRE(*polled);
  CHECK((*polled)->status == 503);

  release.set_value();
  int open = 3;
  http.close([&open] { --open; });
  runner.close([&open] { --open; });
  dispatcher.close([&open] { --open; });
  REQUIRE(test::runLoopUntil(fx.loop(), "the trigger, the runner and the dispatcher to close",
                             [&] { return open == 0; }));
  fx.closeWriter();
}

}  // namespace
}  // namespace gust
