// `"isolation": "thread"` end to end: the functions run on host threads, in the host process,
// under the same concurrency, pending and timeout rules as a worker pool. Real host, real
// module, real threads (counted in /proc).
#include <doctest/doctest.h>
#include <httplib.h>

#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

std::string manifest(const std::string& settings) {
  return R"({"name": "threads", "isolation": "thread", )" + settings + R"(, "functions": {
    "sleepy": { "routes": ["/sleep/{ms}"] },
    "echo": { "routes": ["/echo/{id}"] },
    "hang": { "routes": ["/hang"] }
  }})";
}

struct Reply {
  int status = 0;
  std::string pid, retry_after, body;
  std::chrono::milliseconds took{0};
};

Reply get(int port, const std::string& path) {
  auto started = std::chrono::steady_clock::now();
  httplib::Client client = localClient(port, std::chrono::seconds(20));
  auto r = client.Get(path);
  Reply reply;
  if (r) reply = Reply{r->status, r->get_header_value("X-Pid"), r->get_header_value("Retry-After"), r->body};
  reply.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  return reply;
}

std::vector<std::future<Reply>> startConcurrently(int port, const std::string& path, int n) {
  std::vector<std::future<Reply>> futures;
  for (int i = 0; i < n; ++i) futures.push_back(std::async(std::launch::async, [port, path] { return get(port, path); }));
  return futures;
}

std::vector<Reply> concurrently(int port, const std::string& path, int n) {
  std::vector<Reply> replies;
  for (auto& f : startConcurrently(port, path, n)) replies.push_back(f.get());
  return replies;
}

// The "Threads:" line of /proc/PID/status.
int threadCount(pid_t pid) {
  std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("\nThreads:");
  REQUIRE(at != std::string::npos);
  return std::stoi(status.substr(at + 9));
}

// Every process below `root`, read from the ppid field of /proc/N/stat.
std::set<pid_t> descendants(pid_t root) {
  std::map<pid_t, pid_t> parent;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = readFile(entry.path() / "stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 4 >= stat.size()) continue;  // gone meanwhile
    // ") S PPID ...": skip the state to the parent's pid.
    parent[std::stoi(name)] = std::stoi(stat.substr(close + 4));
  }
  std::set<pid_t> out;
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, ppid] : parent) {
      if ((ppid == root || out.count(ppid) > 0) && out.insert(pid).second) grew = true;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("a thread app answers from inside the host process and starts no worker process") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threads", manifest(R"("max_instances": 2)"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  std::set<pid_t> before = descendants(host.process().pid());
  httplib::Client client = localClient(host.port());
  auto first = client.Get("/echo/7?q=1");
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->get_header_value("X-Param") == "7");
  CHECK(first->get_header_value("X-Query") == "q=1");
  CHECK(hostPidOf(first->get_header_value("X-Pid")) == host.process().pid());
  CHECK(first->get_header_value("X-Gust-Cold-Start") == "1");  // the first after the module loaded
  auto warm = client.Get("/echo/8");
  REQUIRE(warm);
  CHECK(warm->status == 200);
  CHECK_FALSE(warm->has_header("X-Gust-Cold-Start"));
  for (const auto& r : concurrently(host.port(), "/sleep/50", 4)) CHECK(r.status == 200);
  // The fork server (if any) was there already; no worker joined it.
  CHECK(descendants(host.process().pid()) == before);
}

TEST_CASE("a thread app's ctx.log lines reach the app's log stream and its record with the invocation's ids") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threads",
                         R"({"name": "threads", "isolation": "thread", "publishes": ["relayed"], "functions": {
                               "relay": {"routes": [{"path": "/relay", "methods": ["POST"]}]}}})",
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  httplib::Client client = localClient(host.port());
  auto r = client.Post("/relay", {{"traceparent", "00-" + trace + "-b7ad6b7169203331-01"}}, "12345", "text/plain");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  std::string id = r->get_header_value("X-Gust-Invocation-Id");
  httplib::Client admin = host.adminClient();
  httplib::Headers auth = {{"Authorization", "Bearer " + host.adminToken()}};
  auto logs = admin.Get("/v1/apps/threads/logs", auth);
  REQUIRE(logs);
  INFO(logs->body);
  bool found = false;
  nlohmann::json lines = nlohmann::json::parse(logs->body)["lines"];
  for (const auto& line : lines) {
    if (line["text"] != "relaying 5 bytes") continue;
    found = true;
    CHECK(line["invocation_id"] == id);
    CHECK(line["trace_id"] == trace);
    CHECK(line["function"] == "relay");
  }
  CHECK(found);
  // The first invocation is a cold start: always recorded, with its line.
  nlohmann::json record;
  waitFor(
      "the record of invocation " + id,
      [&] {
        auto got = admin.Get("/v1/invocations/" + id, auth);
        if (!got || got->status != 200) return false;
        record = nlohmann::json::parse(got->body);
        return true;
      },
      std::chrono::seconds(5), host);
  REQUIRE(record["logs"].size() == 1);
  CHECK(record["logs"][0]["text"] == "relaying 5 bytes");
  CHECK(record["trace_id"] == trace);
}

TEST_CASE("a thread app runs max_instances invocations at once, each on its own thread") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threads", manifest(R"("max_instances": 4)"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  auto started = std::chrono::steady_clock::now();
  auto replies = concurrently(host.port(), "/sleep/2000", 4);
  auto took = std::chrono::steady_clock::now() - started;
  for (const auto& r : replies) CHECK(r.status == 200);
  // Serially it would take 8 s, and with three at once 4 s: under that, all four ran at once.
  CHECK(took < std::chrono::milliseconds(4000));
}

TEST_CASE("past max_pending a thread app answers 503 with Retry-After, and past pending_timeout too") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threads", manifest(R"("max_instances": 1, "max_pending": 1)"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--expose-errors"});
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

  TempDir tmp2;
  fs::path app2 = makeApp(tmp2.path(), "threads", manifest(R"("max_instances": 1, "pending_timeout": "200ms")"),
                          env("GUST_FIXTURE_MISBEHAVE"));
  Host host2({app2}, tmp2.path(), {"--expose-errors"});
  auto waited = concurrently(host2.port(), "/sleep/3000", 2);
  std::multiset<int> statuses;
  for (const auto& r : waited) {
    statuses.insert(r.status);
    if (r.status == 503) CHECK(r.body.find("pending_timeout") != std::string::npos);
  }
  CHECK(statuses.count(200) == 1);
  CHECK(statuses.count(503) == 1);
}

TEST_CASE("a thread past its timeout answers 504 at once, and its slot stays busy until the function returns") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threads", manifest(R"("max_instances": 1, "timeout": "300ms")"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  auto slow_sent = std::chrono::steady_clock::now();
  auto slow = std::async(std::launch::async, [&] { return get(host.port(), "/sleep/3000"); });
  waitFor("the slow call to take the only slot", [&] { return host.poolOf("threads")["busy"] == 1; }, std::chrono::seconds(10), host);
  // Waits for the only slot, which the timed-out function holds until it returns at 3 s.
  auto next = std::async(std::launch::async, [&] { return get(host.port(), "/echo/1"); });
  Reply timed_out = slow.get();
  CHECK(timed_out.status == 504);
  CHECK(timed_out.took < std::chrono::milliseconds(2000));  // at its timeout, not at the return
  Reply after = next.get();
  CHECK(after.status == 200);
  CHECK(std::chrono::steady_clock::now() - slow_sent >= std::chrono::milliseconds(3000));
  CHECK(get(host.port(), "/echo/2").status == 200);
  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
  std::string log = host.process().stderrText();
  CHECK(log.find("[threads/sleepy") != std::string::npos);
  CHECK(log.find("after its timeout") != std::string::npos);
}

TEST_CASE("a hung thread costs one slot, the host keeps serving, and it exits on SIGTERM naming the function") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threads", manifest(R"("max_instances": 2, "timeout": "200ms")"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  Reply hung = get(host.port(), "/hang");
  CHECK(hung.status == 504);
  CHECK(hung.took < std::chrono::milliseconds(1000));
  for (int i = 0; i < 3; ++i) CHECK(get(host.port(), "/echo/" + std::to_string(i)).status == 200);
  host.process().signal(SIGTERM);
  Exited e = host.process().wait(std::chrono::seconds(10));
  CHECK(e.exited);
  CHECK(e.status == 0);
  std::string log = host.process().stderrText();
  CHECK(log.find("still running") != std::string::npos);
  CHECK(log.find("(hang)") != std::string::npos);
}

TEST_CASE("a thread app whose module has another ABI version answers 503 with both versions") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "future",
                         R"({"name": "future", "isolation": "thread", "functions": {"echo": {"routes": ["/f"]}}})",
                         env("GUST_FIXTURE_ABI_MISMATCH"));
  Host host({app}, tmp.path(), {"--expose-errors"});
  httplib::Client client = localClient(host.port());
  for (int i = 0; i < 3; ++i) {
    auto r = client.Get("/f");
    REQUIRE(r);
    CHECK(r->status == 503);
    CHECK(r->body.find("ABI version 42") != std::string::npos);
    CHECK(r->body.find("ABI version 1") != std::string::npos);
    CHECK(r->has_header("Retry-After"));
  }
}

TEST_CASE("the threads of an idle thread app exit after idle_timeout and come back on demand") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "threads", manifest(R"("max_instances": 4, "idle_timeout": "300ms")"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  pid_t pid = host.process().pid();
  auto threadsInPool = [&host] {
    const auto pool = host.poolOf("threads");
    REQUIRE(pool.is_object());
    return pool["starting"].get<int>() + pool["idle"].get<int>() + pool["busy"].get<int>() + pool["stopping"].get<int>();
  };
  // One request first, so that whatever the host starts lazily for serving is counted in;
  // then its thread goes idle and exits.
  REQUIRE(get(host.port(), "/echo/1").status == 200);
  waitFor("the first thread to exit", [&] { return threadsInPool() == 0; }, std::chrono::seconds(10), host);
  int baseline = threadCount(pid);
  auto running = startConcurrently(host.port(), "/sleep/3000", 4);
  waitFor("four threads to run", [&] { return threadCount(pid) >= baseline + 4; }, std::chrono::seconds(10), host);
  for (auto& f : running) CHECK(f.get().status == 200);
  waitFor("the idle threads to exit", [&] { return threadCount(pid) <= baseline; }, std::chrono::seconds(10), host);
  CHECK(threadCount(pid) == baseline);
  CHECK(get(host.port(), "/echo/2").status == 200);
}
