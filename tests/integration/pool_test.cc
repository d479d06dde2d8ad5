// Worker pools end to end: scale up on demand, bounded waiting, scale to zero, crash-loop
// backoff. Real host, real worker processes.
#include <doctest/doctest.h>
#include <httplib.h>

#include <future>
#include <set>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

std::string manifest(const std::string& settings) {
  return R"({"name": "pool", )" + settings + R"(, "functions": {
    "sleepy": { "routes": ["/sleep/{ms}"] },
    "echo": { "routes": ["/echo/{id}"] },
    "segv": { "routes": ["/segv"] }
  }})";
}

struct Reply {
  int status = 0;
  std::string pid, retry_after, body;
};

// Sends `n` concurrent GETs of `path` and returns every reply.
std::vector<Reply> concurrently(int port, const std::string& path, int n) {
  std::vector<std::future<Reply>> futures;
  for (int i = 0; i < n; ++i) {
    futures.push_back(std::async(std::launch::async, [port, path] {
      httplib::Client client = localClient(port, std::chrono::seconds(20));
      auto r = client.Get(path);
      Reply reply;
      if (r) reply = Reply{r->status, r->get_header_value("X-Pid"), r->get_header_value("Retry-After"), r->body};
      return reply;
    }));
  }
  std::vector<Reply> replies;
  for (auto& f : futures) replies.push_back(f.get());
  return replies;
}

}  // namespace

TEST_CASE("under N concurrent requests the pool grows to N instances and every request succeeds") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("max_instances": 4)"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  auto replies = concurrently(host.port(), "/sleep/400", 4);
  std::set<std::string> pids;
  for (const auto& r : replies) {
    CHECK(r.status == 200);
    pids.insert(r.pid);
  }
  CHECK(pids.size() == 4);
}

TEST_CASE("requests beyond max_instances wait in order and are served by the first instance to free") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("max_instances": 1)"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  auto replies = concurrently(host.port(), "/sleep/100", 3);
  std::set<std::string> pids;
  for (const auto& r : replies) {
    CHECK(r.status == 200);
    pids.insert(r.pid);
  }
  CHECK(pids.size() == 1);
}

TEST_CASE("past max_pending callers get 503 with Retry-After as problem+json") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("max_instances": 1, "max_pending": 1, "pipeline": 1)"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--expose-errors"});
  // Warm one instance first: an invocation waiting for a cold start counts as pending too.
  REQUIRE(localClient(host.port()).Get("/sleep/1")->status == 200);
  // Long enough that all four arrive while the first still runs, however slow the machine.
  auto replies = concurrently(host.port(), "/sleep/3000", 4);
  int ok = 0, overloaded = 0;
  for (const auto& r : replies) {
    if (r.status == 200) ++ok;
    if (r.status == 503) {
      ++overloaded;
      CHECK(!r.retry_after.empty());
      CHECK(r.body.find("max_pending") != std::string::npos);
    }
  }
  // One runs, one waits; the rest are refused at once.
  CHECK(ok == 2);
  CHECK(overloaded == 2);
}

TEST_CASE("at max_instances, work queues inside busy instances up to the pipeline depth, then in the pool") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("max_instances": 2, "pipeline": 2, "max_pending": 2)"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  // Start both instances first.
  auto warm = concurrently(host.port(), "/sleep/200", 2);
  for (const auto& r : warm) REQUIRE(r.status == 200);
  // 2 instances x 2 in their pipelines + 2 pending = 6 served; the rest refused at once.
  auto replies = concurrently(host.port(), "/sleep/2000", 8);
  int ok = 0, overloaded = 0;
  std::set<std::string> pids;
  for (const auto& r : replies) {
    if (r.status == 200) {
      ++ok;
      pids.insert(r.pid);
    }
    if (r.status == 503) ++overloaded;
  }
  CHECK(ok == 6);
  CHECK(overloaded == 2);
  CHECK(pids.size() == 2);
}

TEST_CASE("what a serial instance had queued runs elsewhere when its running invocation times out") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", R"({"name": "pool", "max_instances": 2, "pipeline": 4, "timeout": "500ms",
    "functions": {"sleepy": {"routes": ["/sleep/{ms}"]}}})", env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  auto warm = concurrently(host.port(), "/sleep/100", 2);
  for (const auto& r : warm) REQUIRE(r.status == 200);
  // Two slow ones that time out, then quick ones queued behind them.
  std::vector<std::future<Reply>> slow;
  for (int i = 0; i < 2; ++i) {
    slow.push_back(std::async(std::launch::async, [&] {
      httplib::Client c = localClient(host.port());
      auto r = c.Get("/sleep/5000");
      return Reply{r ? r->status : 0, "", "", ""};
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto quick = concurrently(host.port(), "/sleep/10", 4);
  for (auto& s : slow) CHECK(s.get().status == 504);
  for (const auto& r : quick) CHECK(r.status == 200);
}

TEST_CASE("a request that waits past pending_timeout gets 503") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("max_instances": 1, "pending_timeout": "200ms", "pipeline": 1)"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--expose-errors"});
  // Warm the instance first: waiting for a cold start counts against pending_timeout too, so
  // a sanitized cold start can refuse the first calls while it starts the instance.
  waitFor("the instance to be warm", [&] {
    auto r = localClient(host.port()).Get("/sleep/1");
    return r && r->status == 200;
  }, std::chrono::seconds(30), host);
  auto replies = concurrently(host.port(), "/sleep/3000", 2);
  std::multiset<int> statuses;
  for (const auto& r : replies) statuses.insert(r.status);
  CHECK(statuses.count(200) == 1);
  CHECK(statuses.count(503) == 1);
  for (const auto& r : replies) {
    if (r.status == 503) CHECK(r.body.find("pending_timeout") != std::string::npos);
  }
}

TEST_CASE("an idle pool scales to zero and the next request starts an instance again") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("idle_timeout": "300ms")"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  httplib::Client client = localClient(host.port());
  auto first = client.Get("/sleep/1");
  REQUIRE(first);
  CHECK(first->get_header_value("X-Gust-Cold-Start") == "1");
  pid_t pid = hostPidOf(first->get_header_value("X-Pid"));
  auto warm = client.Get("/sleep/1");
  REQUIRE(warm);
  CHECK_FALSE(warm->has_header("X-Gust-Cold-Start"));
  CHECK(warm->get_header_value("X-Pid") == first->get_header_value("X-Pid"));
  waitFor("the idle worker to stop", [&] { return !processAlive(pid); }, std::chrono::seconds(5), host);
  auto again = client.Get("/sleep/1");
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(again->get_header_value("X-Gust-Cold-Start") == "1");
  CHECK(again->get_header_value("X-Pid") != first->get_header_value("X-Pid"));
}

TEST_CASE("min_instances workers start with the host and stay past the idle timeout") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("min_instances": 1, "idle_timeout": "200ms")"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  httplib::Client client = localClient(host.port());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto r = client.Get("/sleep/1");
  REQUIRE(r);
  CHECK_FALSE(r->has_header("X-Gust-Cold-Start"));  // the prewarmed worker served it
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto later = client.Get("/sleep/1");
  REQUIRE(later);
  CHECK(later->get_header_value("X-Pid") == r->get_header_value("X-Pid"));
}

TEST_CASE("a worker that keeps dying before ready is not restarted in a tight loop") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "future", R"({"name": "future", "functions": {"echo": {"routes": ["/f"]}}})",
                         env("GUST_FIXTURE_ABI_MISMATCH"));
  Host host({app}, tmp.path(), {"--expose-errors"});
  httplib::Client client = localClient(host.port());
  int refused = 0;
  // A second of requests; three under the sanitizers, whose worker starts are slow enough
  // that a second may hold only one (backoff still allows at most six in three).
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::getenv("GUST_SANITIZED") ? 3 : 1);
  while (std::chrono::steady_clock::now() < until) {
    auto r = client.Get("/f");
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(r->body.find("ABI version") != std::string::npos);
    ++refused;
  }
  host.process().signal(SIGTERM);
  host.process().wait();
  // Backoff (100 ms, doubling) allows a handful of starts, not one per request.
  std::string log = host.process().stderrText();
  size_t starts = 0;
  for (size_t at = log.find("failed to start"); at != std::string::npos; at = log.find("failed to start", at + 1)) ++starts;
  CHECK(refused > 20);
  CHECK(starts >= 2);
  CHECK(starts <= 6);
}

TEST_CASE("with concurrency 2 one instance runs two invocations at once") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "pool", manifest(R"("max_instances": 1, "concurrency": 2)"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  REQUIRE(localClient(host.port()).Get("/sleep/1")->status == 200);
  auto started = std::chrono::steady_clock::now();
  auto replies = concurrently(host.port(), "/sleep/2000", 2);
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(replies[0].status == 200);
  CHECK(replies[1].status == 200);
  CHECK(replies[0].pid == replies[1].pid);
  // Serially they would take 4 s.
  CHECK(took < std::chrono::milliseconds(4000));
}
