#include "triggers/http/http_trigger.h"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <future>
#include <thread>

#include "runtime/store/sqlite_invocation_store.h"
#include "functions/manifest.h"
#include "runtime/base/text.h"
#include "tests/support/http_client.h"
#include "tests/support/manual_clock.h"
#include "tests/support/run_loop.h"
#include "tests/support/wait_for.h"
#include "tests/unit/store_test_support.h"
#include "triggers/http/async_runner.h"

namespace gust {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Runs `loop` until a client thread sets `done`. The loop is polled: nothing on it hears
// when the client thread is done.
void serveUntil(uv_loop_t* loop, const std::atomic<bool>& done, std::string_view what) {
  test::waitFor(
      what,
      [&] {
        uv_run(loop, UV_RUN_NOWAIT);
        return done.load();
      },
      std::chrono::seconds(10));
}

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
  auto store = SqliteInvocationStore::open(fx.writer(), clock);
  GUST_REQUIRE_OK(store);
  Dispatcher dispatcher(fx.loop(), clock, "/nonexistent/gust", WorkerContainment{});
  HttpTrigger http(fx.loop(), clock, dispatcher, HttpLimits{});
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
  serveUntil(fx.loop(), answered, "the HTTP trigger to answer both requests");
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

// An app whose function "hook" requires a Standard Webhooks signature keyed with `secret`.
AppInfo hookApp(std::string secret) {
  auto manifest = parseManifest(R"({"name": "shop", "functions": {"hook": {"routes": [
      {"path": "/hook", "methods": ["POST"]}], "verify": {"scheme": "standard-webhooks",
      "secret": "env:HOOK_SECRET", "tolerance": "1m"}}}})");
  REQUIRE(manifest.ok());
  AppInfo app;
  app.manifest = std::move(*manifest);
  app.env["HOOK_SECRET"] = std::move(secret);
  return app;
}

TEST_CASE("a version whose verify secret is not set, or not of its scheme's form, is refused before it is bound") {
  testing::WriterFixture fx;
  SystemClock clock;
  Dispatcher dispatcher(fx.loop(), clock, "/nonexistent/gust", WorkerContainment{});
  HttpTrigger http(fx.loop(), clock, dispatcher, HttpLimits{});
  AppInfo unset = hookApp("");
  unset.env.clear();
  auto refused = http.checkApp(unset);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message ==
        "function hook verifies signatures with the secret in HOOK_SECRET, which app shop does not set; set it with "
        "`gust env set shop HOOK_SECRET=...`");
  CHECK_FALSE(http.addApp(unset).ok());
  auto malformed = http.addApp(hookApp("whsec_not*base64"));
  REQUIRE_FALSE(malformed.ok());
  CHECK(malformed.error().message.starts_with("function hook: the secret in HOOK_SECRET: a standard-webhooks secret"));
  CHECK(malformed.error().message.find("not*base64") == std::string::npos);
  GUST_REQUIRE_OK(http.checkApp(hookApp("whsec_" + base64Encode("0123456789abcdef0123456789abcdef"))));
  bool closed = false;
  dispatcher.close([&closed] { closed = true; });
  REQUIRE(test::runLoopUntil(fx.loop(), "the dispatcher to close", [&] { return closed; }));
}

TEST_CASE("a route that requires a signature answers 401 with the kind of refusal, sync or async, before anything runs") {
  testing::WriterFixture fx;
  test::ManualClock clock;  // its wall time is the epoch: a signature of timestamp 0 is fresh
  Dispatcher dispatcher(fx.loop(), clock, "/nonexistent/gust", WorkerContainment{});
  HttpTrigger http(fx.loop(), clock, dispatcher, HttpLimits{});
  const std::string key = "0123456789abcdef0123456789abcdef";
  GUST_REQUIRE_OK(http.addApp(hookApp("whsec_" + base64Encode(key))));
  auto port = http.listen("127.0.0.1", 0);
  GUST_REQUIRE_OK(port);

  const std::string body = R"({"order": 42})";
  auto signed_headers = [&](int64_t timestamp, std::string signature) {
    return httplib::Headers{{"webhook-id", "msg_1"},
                            {"webhook-timestamp", std::to_string(timestamp)},
                            {"webhook-signature", std::move(signature)}};
  };
  std::vector<std::pair<std::string, httplib::Headers>> requests = {
      {"unsigned", {}},
      {"stale", signed_headers(120, standardWebhookSignature(key, "msg_1", 120, body))},
      {"mis-signed", signed_headers(0, standardWebhookSignature("another key", "msg_1", 0, body))},
      {"async unsigned", {{"Prefer", "respond-async"}}},
      {"signed", signed_headers(0, standardWebhookSignature(key, "msg_1", 0, body))},
  };
  std::map<std::string, httplib::Result> answers;
  std::atomic<bool> answered{false};
  std::jthread client([&] {
    httplib::Client c = test::localClient(*port);
    for (const auto& [name, headers] : requests) answers.emplace(name, c.Post("/hook", headers, body, "application/json"));
    answered = true;
  });
  serveUntil(fx.loop(), answered, "the HTTP trigger to answer every request");
  client.join();
  auto expect401 = [&](const std::string& name, std::string_view kind) {
    INFO(name);
    const auto& r = answers.at(name);
    REQUIRE(r);
    CHECK(r->status == 401);
    CHECK(r->get_header_value("Content-Type") == "application/problem+json");
    CHECK(r->body.find(kind) != std::string::npos);
    CHECK(r->body.find("whsec_") == std::string::npos);
  };
  expect401("unsigned", "signature missing");
  expect401("stale", "timestamp outside tolerance");
  expect401("mis-signed", "signature does not match");
  // Without a store an accepted async request would be 503: the signature came first.
  expect401("async unsigned", "signature missing");
  // The signed request reaches the dispatcher, which serves no such app.
  REQUIRE(answers.at("signed"));
  CHECK(answers.at("signed")->status == 404);

  int open = 2;
  http.close([&open] { --open; });
  dispatcher.close([&open] { --open; });
  REQUIRE(test::runLoopUntil(fx.loop(), "the trigger and the dispatcher to close", [&] { return open == 0; }));
}

}  // namespace
}  // namespace gust
