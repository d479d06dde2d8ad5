// /healthz and /readyz of a real host (runtime/admin/admin_health.h): not ready while an
// app's warm instance starts, while gust.db or the backend Redis takes no writes, and once
// draining; alive all along. Real host, real workers, a real lock on the real database file,
// a real redis-server killed and started again.
#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/store/sqlite_connection.h"
#include "tests/integration/harness.h"
#include "tests/support/redis_server.h"

using namespace gust::test;
using json = nlohmann::json;

namespace {

struct Probe {
  int status = 0;
  json body;
};

// One unauthenticated GET of `path`, as a load balancer's probe sends it.
Probe probe(const Host& host, const std::string& path) {
  auto r = host.adminClient().Get(path);
  REQUIRE(r);
  return Probe{r->status, json::parse(r->body, nullptr, false)};
}

// Polls /readyz until it answers `status`; the answer then.
Probe readyzOnce(Host& host, int status, const std::string& what) {
  Probe last;
  waitFor(what, [&] { return (last = probe(host, "/readyz")).status == status; }, std::chrono::seconds(30), host);
  return last;
}

std::string manifest(const std::string& pool) {
  return R"({"name": "held", )" + pool + R"( "functions": {
    "echo": { "routes": ["/echo/{id}"] },
    "hang": { "routes": ["/hang"], "timeout": "10m" }
  }})";
}

}  // namespace

TEST_CASE("/readyz waits for an app's warm instance to start, while /healthz answers at once") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "held", manifest(R"("min_instances": 1,)"), env("GUST_FIXTURE_MISBEHAVE"));
  // The fixture's worker does not get ready while this file is in its app folder.
  writeFile(app / "hold-start", "");
  Host host({app}, tmp.path());
  Probe waiting = probe(host, "/readyz");
  CHECK(waiting.status == 503);
  CHECK(waiting.body == json{{"status", "not ready"}, {"waiting_for", {"apps"}}});
  CHECK(probe(host, "/healthz").status == 200);
  fs::remove(app / "hold-start");
  Probe ready = readyzOnce(host, 200, "/readyz to answer 200 once the warm instance started");
  CHECK(ready.body == json{{"status", "ready"}});
}

TEST_CASE("/readyz says the store is not ready while another process holds gust.db's write lock") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "held", manifest(""), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  CHECK(probe(host, "/readyz").status == 200);
  auto other = gust::SqliteConnection::open(host.dataDir() / "gust.db", gust::SqliteConnection::Synchronous::kNormal,
                                            0);
  REQUIRE(other.ok());
  REQUIRE((*other)->exec("BEGIN IMMEDIATE").ok());
  Probe locked = readyzOnce(host, 503, "/readyz to see that gust.db takes no writes");
  CHECK(locked.body == json{{"status", "not ready"}, {"waiting_for", {"store"}}});
  CHECK(probe(host, "/healthz").status == 200);
  REQUIRE((*other)->exec("ROLLBACK").ok());
  Probe ready = readyzOnce(host, 200, "/readyz to answer 200 once gust.db takes writes again");
  CHECK(ready.body == json{{"status", "ready"}});
}

TEST_CASE("/readyz says the store is not ready while the backend Redis is gone, and ready once it is back") {
  TempDir tmp;
  RedisServer redis;
  Host host({}, tmp.path(), {"--backend", redis.url()});
  CHECK(probe(host, "/readyz").status == 200);
  redis.kill();
  Probe gone = readyzOnce(host, 503, "/readyz to see that Redis takes no writes");
  CHECK(gone.body == json{{"status", "not ready"}, {"waiting_for", {"store"}}});
  CHECK(probe(host, "/healthz").status == 200);
  redis.start();
  Probe ready = readyzOnce(host, 200, "/readyz to answer 200 once Redis is back");
  CHECK(ready.body == json{{"status", "ready"}});
}

TEST_CASE("/readyz answers 503 draining after SIGTERM while a request is still in flight, /healthz 200") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "held", manifest(""), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--drain-timeout", "10m"});
  CHECK(probe(host, "/readyz").status == 200);
  // Never answers: the drain waits for it until a second signal stops the host.
  std::thread in_flight([port = host.port()] { localClient(port, std::chrono::seconds(120)).Get("/hang"); });
  auto busy = [&host] {
    const auto pool = host.poolOf("held");
    REQUIRE(pool.is_object());
    return pool["busy"].get<int>();
  };
  waitFor("the request to reach its worker", [&] { return busy() == 1; }, std::chrono::seconds(30), host);
  host.process().signal(SIGTERM);
  Probe draining = readyzOnce(host, 503, "/readyz to answer 503 once the host drains");
  CHECK(draining.body == json{{"status", "draining"}});
  CHECK(probe(host, "/healthz").status == 200);
  CHECK(busy() == 1);  // the drain still waits for it
  CHECK(host.process().running());
  host.process().signal(SIGTERM);
  host.process().wait();
  in_flight.join();
}
