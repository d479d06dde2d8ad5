// Timers end to end: a real host firing a 1-second schedule, manual runs through the admin
// API and the CLI, and a missed run after the host was down.
#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <ctime>
#include <regex>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

std::string timerApp(const std::string& timer) {
  return R"({"name": "ticks", "functions": {"printevent": {"timer": )" + timer + "}}}";
}

}  // namespace

TEST_CASE("a timer on a 1-second schedule fires on time with its event, and runs on demand") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "ticks", timerApp(R"({"schedule": "* * * * * *"})"), env("GUST_FIXTURE_MISBEHAVE"));
  auto started = std::chrono::steady_clock::now();
  Host host({app}, tmp.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));

  // The manual run goes through the admin API, as `gust invoke --timer` does.
  std::string admin = host.adminUrl();
  CommandResult run = runGust({"invoke", "--timer", "ticks/printevent", "--admin", admin, "--data-dir", host.dataDir().string()},
                              tmp.path());
  INFO(run.err);
  CHECK(run.status == 0);
  CHECK(run.out.find("timer ticks/printevent: ok") != std::string::npos);
  run = runGust({"invoke", "--timer", "ticks/nope", "--admin", admin, "--data-dir", host.dataDir().string()}, tmp.path());
  CHECK(run.status == 1);
  CHECK(run.err.find("ticks/nope") != std::string::npos);

  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
  double lived = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string log = host.process().stderrText();
  INFO(log);
  CHECK(occurrences(log, R"("manual":true)") == 1);
  // Each scheduled event says when it was scheduled, when it ran, and when the next run is.
  // The scheduled instants are whole seconds and rise: none fires twice. (A loaded machine may
  // fold missed instants into one past-due run, so gaps are allowed.) How many depends on how
  // long the host lived (the CLI calls above are slow under a sanitizer), so the bound is the
  // measured lifetime, not the sleep.
  std::regex event(
      R"re("actual":"[^"]+","manual":false,"next":"[^"]+","past_due":(true|false),"scheduled":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.000)?Z")re");
  std::vector<std::time_t> instants;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), event); it != std::sregex_iterator(); ++it) {
    std::tm tm{};
    REQUIRE(strptime((*it)[2].str().c_str(), "%Y-%m-%dT%H:%M:%S", &tm) != nullptr);
    instants.push_back(timegm(&tm));
  }
  CHECK(instants.size() >= 3);
  CHECK(instants.size() <= static_cast<size_t>(lived) + 1);
  for (size_t i = 1; i < instants.size(); ++i) CHECK(instants[i] > instants[i - 1]);
  CHECK(readFile(host.dataDir() / "timers.json").find("ticks/printevent") != std::string::npos);
}

TEST_CASE("after the host was down across scheduled instants, the timer fires once, past due") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "ticks", timerApp(R"({"schedule": "*/2 * * * * *"})"), env("GUST_FIXTURE_MISBEHAVE"));
  {
    Host host({app}, tmp.path());
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    host.process().signal(SIGKILL);
    host.process().wait();
  }
  // Down for several instants.
  std::this_thread::sleep_for(std::chrono::milliseconds(5000));
  Host again({app}, tmp.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  again.process().signal(SIGTERM);
  again.process().wait();
  std::string log = again.process().stderrText();
  INFO(log);
  // Once, not once per missed instant.
  CHECK(occurrences(log, R"("past_due":true)") == 1);
}

TEST_CASE("run_on_startup fires once at start") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "ticks", timerApp(R"({"schedule": "@yearly", "run_on_startup": true})"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  host.process().signal(SIGTERM);
  host.process().wait();
  CHECK(occurrences(host.process().stderrText(), "stdout: event ") == 1);
}

TEST_CASE("the admin API on TCP needs its token on every route but health, and refuses foreign hosts") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "ticks", timerApp(R"("@hourly")"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--admin-listen", "127.0.0.1:0"});
  REQUIRE(host.adminTcpPort() > 0);
  httplib::Client admin = localClient(host.adminTcpPort());
  auto perms = fs::status(host.dataDir() / "admin.token").permissions();
  CHECK((perms & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
  CHECK(admin.Get("/healthz")->status == 200);
  CHECK(admin.Get("/readyz")->status == 200);
  struct Call {
    const char* method;
    const char* path;
  };
  for (Call call : {Call{"GET", "/v1/apps"}, Call{"POST", "/v1/timers/ticks/printevent/run"}}) {
    INFO(call.path);
    auto send = [&](const httplib::Headers& headers) {
      return std::string(call.method) == "GET" ? admin.Get(call.path, headers) : admin.Post(call.path, headers, "", "text/plain");
    };
    CHECK(send({})->status == 401);
    CHECK(send({{"Authorization", "Bearer wrong"}})->status == 401);
    CHECK(send({{"Authorization", "Bearer " + host.adminToken() + "x"}})->status == 401);
    auto ok = send({{"Authorization", "Bearer " + host.adminToken()}});
    CHECK(ok->status == 200);
    // DNS rebinding: the right token from a page on another origin, or to another host name.
    CHECK(send({{"Authorization", "Bearer " + host.adminToken()}, {"Origin", "http://evil.example"}})->status == 403);
  }
  httplib::Client rebound = localClient(host.adminTcpPort());
  auto r = rebound.Get("/v1/apps", {{"Host", "evil.example:" + std::to_string(host.adminTcpPort())},
                                    {"Authorization", "Bearer " + host.adminToken()}});
  CHECK(r->status == 403);
  // gust ps reads the same API, over TCP when told to.
  CommandResult ps = runGust({"ps", "--admin", "http://127.0.0.1:" + std::to_string(host.adminTcpPort()), "--data-dir",
                              host.dataDir().string()},
                             tmp.path());
  CHECK(ps.status == 0);
  CHECK(ps.out.find("ticks") != std::string::npos);
}
