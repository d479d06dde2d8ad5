// App state end to end (docs/architecture.md "App state"): a real host with the
// state fixture, functions that read and write their app's state over HTTP and
// a queue, workers that crash after writing, concurrent compare-and-set, and
// the CLI that shows it.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string manifest(const std::string &name, const std::string &extra = "") {
  return R"({
    "name": ")" +
         name + R"(",)" + extra + R"(
    "max_instances": 4,
    "functions": {
      "incr":     { "routes": [{ "path": "/)" +
         name + R"(/incr/{key}", "methods": ["POST"] }] },
      "get":      { "routes": [{ "path": "/)" +
         name + R"(/get/{key}", "methods": ["GET"] }] },
      "readback": { "routes": [{ "path": "/)" +
         name + R"(/readback/{key}", "methods": ["POST"] }] },
      "charge":   { "queue": { "name": ")" +
         name + R"(-orders", "batch_size": 1, "max_attempts": 100,
                               "backoff": { "base": "10ms", "cap": "50ms" } } }
    }
  })";
}

struct Fixture {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "counters", manifest("counters"),
                         env("GUST_FIXTURE_STATE"));
  fs::path other = makeApp(tmp.path(), "other", manifest("other"),
                           env("GUST_FIXTURE_STATE"));
  Host host{{app, other}, tmp.path()};

  httplib::Client client() { return localClient(host.port()); }

  // "VALUE@VERSION", or "absent".
  std::string read(const std::string &app, const std::string &key) {
    auto r = client().Get("/" + app + "/get/" + key);
    REQUIRE(r);
    REQUIRE((r->status == 200 || r->status == 404));
    return r->body;
  }

  CommandResult gust(std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir",
                             host.dataDir().string()});
    return runGust(args, tmp.path());
  }

  void send(const std::string &queue, const std::string &body) {
    auto admin = host.adminClient();
    auto r = admin.Post("/v1/queues/" + queue + "/messages",
                        {{"Authorization", "Bearer " + host.adminToken()}},
                        body, "text/plain");
    REQUIRE(r);
    REQUIRE(r->status == 201);
  }
};

} // namespace

TEST_CASE("an HTTP function's state writes commit with its answer, and a crash "
          "after a write commits nothing") {
  Fixture f;
  CHECK(f.read("counters", "c") == "absent");
  auto first = f.client().Post("/counters/incr/c", "", "text/plain");
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->body == "1");
  CHECK(f.read("counters", "c") == "1@1");

  auto crashed = f.client().Post("/counters/incr/c?crash=1", "", "text/plain");
  REQUIRE(crashed);
  CHECK(crashed->status == 502);
  CHECK(f.read("counters", "c") == "1@1");

  // Reads see the invocation's own writes: a put under "only if absent" reads
  // back at version 1, a removed key reads as absent.
  auto readback =
      f.client().Post("/counters/readback/k", "hello", "text/plain");
  REQUIRE(readback);
  CHECK(readback->body == "hello@1 gone:absent");
  CHECK(f.read("counters", "k") == "hello@1");
  CHECK(f.read("counters", "gone") == "absent");
  // The same again: the key exists now, so "only if absent" fails at commit:
  // 409, nothing kept.
  auto again = f.client().Post("/counters/readback/k", "bye", "text/plain");
  REQUIRE(again);
  CHECK(again->status == 409);
  CHECK(again->get_header_value("Content-Type") == "application/problem+json");
  CHECK(f.read("counters", "k") == "hello@1");

  // Another app has state of its own.
  CHECK(f.read("other", "c") == "absent");
  CHECK(f.read("other", "k") == "absent");
}

TEST_CASE("concurrent increments under compare-and-set neither lose nor double "
          "a count") {
  Fixture f;
  constexpr int kThreads = 4;
  constexpr int kEach = 15;
  std::atomic<int> conflicts{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto client = f.client();
      for (int i = 0; i < kEach; ++i) {
        for (;;) { // a 409 is retried, as a client of a CAS store does
          auto r = client.Post("/counters/incr/n", "", "text/plain");
          if (r && r->status == 409) {
            ++conflicts;
            continue;
          }
          if (!r || r->status != 200)
            ++failures;
          break;
        }
      }
    });
  }
  for (auto &t : threads)
    t.join();
  CHECK(failures == 0);
  CHECK(f.read("counters", "n") == std::to_string(kThreads * kEach) + "@" +
                                       std::to_string(kThreads * kEach));
  MESSAGE(conflicts.load() << " conflicts retried");
}

TEST_CASE("a queue consumer charges each order once through duplicates, "
          "crashes and conflicts") {
  Fixture f;
  // Duplicates of each order, and orders that crash their first attempt after
  // writing.
  std::vector<std::string> orders;
  for (int i = 0; i < 12; ++i)
    orders.push_back((i % 4 == 0 ? "crash-" : "order-") + std::to_string(i));
  for (const auto &o : orders)
    f.send("counters-orders", o);
  for (const auto &o : orders)
    f.send("counters-orders", o);
  waitFor(
      "every order charged",
      [&] { return f.read("counters", "charges") == "12@12"; }, 60s, f.host);
  auto admin = f.host.adminClient();
  waitFor(
      "the queue drained",
      [&] {
        auto r = admin.Get(
            "/v1/queues", {{"Authorization", "Bearer " + f.host.adminToken()}});
        if (!r || r->status != 200) return false;
        // Listed while the app consumes it: drained when nothing waits or runs.
        const json all = json::parse(r->body);  // a range-for over a temporary's member would dangle
        for (const auto &q : all["queues"]) {
          if (q["name"] == "counters-orders") {
            return q["depth"] == 0 && q["in_flight"] == 0 && q["delayed"] == 0 && q["dead"] == 0;
          }
        }
        return false;
      },
      60s, f.host);
  CHECK(f.read("counters", "charges") == "12@12");
  CHECK(f.read("counters", "charged:crash-0") == "1@1");

  SUBCASE("the CLI shows the app's state") {
    CommandResult got = f.gust({"state", "get", "counters", "charges"});
    CHECK_MESSAGE(got.status == 0, got.err);
    CHECK(got.out == "12");
    CHECK(got.err.find("version 12") != std::string::npos);
    CommandResult ls =
        f.gust({"state", "ls", "counters", "--prefix", "charged:"});
    CHECK_MESSAGE(ls.status == 0, ls.err);
    CHECK(occurrences(ls.out, "charged:") == 12);
    CHECK(ls.out.find("charges") == std::string::npos);
    CommandResult missing = f.gust({"state", "get", "other", "charges"});
    CHECK(missing.status != 0);
    CHECK(missing.err.find("charges") != std::string::npos);
  }
}

TEST_CASE("a function in the host's own threads reads and writes its app's state alike") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threaded", manifest("threaded", R"("isolation": "thread",)"),
                         env("GUST_FIXTURE_STATE"));
  Host host{{app}, tmp.path()};
  auto client = localClient(host.port());
  for (const char* expected : {"1", "2", "3"}) {
    auto r = client.Post("/threaded/incr/c", "", "text/plain");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == expected);
  }
  auto readback = client.Post("/threaded/readback/k", "hi", "text/plain");
  REQUIRE(readback);
  CHECK(readback->body == "hi@1 gone:absent");
  auto got = client.Get("/threaded/get/k");
  REQUIRE(got);
  CHECK(got->body == "hi@1");
}
