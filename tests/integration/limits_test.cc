// Limits per app (issue 13): an app's workers share a cgroup that bounds their memory and
// tasks, each worker has its own below it, and output nobody answers for is read only as
// fast as the host allows. Real hosts, workers and cgroups; the cgroup cases need a host
// that may create cgroups (root, as in CI) and otherwise check the fallback is stated.
#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "runtime/exec/app_cgroups.h"
#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

const char* kLimitedManifest = R"({
  "name": "limited",
  "memory_mb": 128,
  "max_instances": 2,
  "max_processes": 32,
  "timeout": "10s",
  "functions": {
    "echo":      { "routes": ["/limited/echo/{id}"] },
    "children":  { "routes": ["/children/{n}/{mb}"] },
    "forkbomb":  { "routes": ["/forkbomb"] },
    "idleflood": { "routes": ["/idleflood"] }
  }
})";

const char* kBystanderManifest = R"({
  "name": "bystander",
  "functions": { "echo": { "routes": ["/echo/{id}"] } }
})";

struct Limits {
  TempDir tmp;
  fs::path limited = makeApp(tmp.path(), "limited", kLimitedManifest, env("GUST_FIXTURE_MISBEHAVE"));
  fs::path bystander = makeApp(tmp.path(), "bystander", kBystanderManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host{{limited, bystander}, tmp.path()};
  httplib::Client client = localClient(host.port(), std::chrono::seconds(20));

  CommandResult gust(std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()});
    return runGust(args, tmp.path());
  }
  nlohmann::json limits() {
    auto described = gust({"describe", "limited", "--json"});
    return nlohmann::json::parse(described.out, nullptr, false).value("limits", nlohmann::json::object());
  }
  // The host's base directory in each hierarchy, as the host itself finds its cgroups.
  std::vector<fs::path> bases() {
    gust::OwnCgroups own = gust::findOwnCgroups(readFile("/proc/" + std::to_string(host.process().pid()) + "/cgroup"),
                                                readFile("/proc/self/mountinfo"));
    std::string base = "gust-" + std::to_string(host.process().pid());
    if (limits().value("mechanism", "") == "cgroup v2") return {fs::path(own.v2) / base};
    return {fs::path(own.v1_memory) / base, fs::path(own.v1_pids) / base};
  }
};

int64_t numberIn(const fs::path& file) {
  std::string text = readFile(file);
  return text.empty() ? -1 : std::stoll(text);
}

// CPU time the process used, in clock ticks.
int64_t cpuTicks(pid_t pid) {
  std::istringstream stat(readFile("/proc/" + std::to_string(pid) + "/stat"));
  std::string field;
  int64_t utime = 0, stime = 0;
  for (int i = 1; i <= 15 && stat >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

int64_t rssKib(pid_t pid) {
  std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
  size_t at = status.find("VmRSS:");
  return at == std::string::npos ? -1 : std::stoll(status.substr(at + 6));
}

}  // namespace

TEST_CASE("an app's workers are bounded together by its cgroups, which go with the host") {
  Limits c;
  auto limits = c.limits();
  auto ps = c.gust({"ps"});
  REQUIRE_MESSAGE(ps.status == 0, ps.err);
  if (limits.value("mechanism", "") == "per worker") {
    // The fallback: stated as such, with the reason.
    CHECK(ps.out.find("limits: per worker (no cgroup: ") != std::string::npos);
    CHECK(readFile(c.tmp.path() / "host.stderr").find("no cgroup for app limits") != std::string::npos);
    MESSAGE("no cgroup on this machine (", limits.value("summary", ""), "): only the fallback is checked");
    return;
  }
  CHECK(limits.value("app_memory_mb", 0) == 256);
  CHECK(limits.value("app_max_tasks", 0) == 32);
  CHECK(limits.value("worker_memory_mb", 0) == 128);
  CHECK_MESSAGE(ps.out.find("(memory 256 MiB, 32 tasks for the app; 128 MiB per worker)") != std::string::npos, ps.out);
  auto describe = c.gust({"describe", "limited"});
  CHECK(describe.out.find("limits   cgroup v") != std::string::npos);
  // And what contains its workers: the test runs as root, so a uid of the app's own.
  CHECK_MESSAGE(describe.out.find("namespaces: pid, mount; uid ") != std::string::npos, describe.out);
  // The app's cgroup is made with its first worker.
  std::vector<fs::path> bases = c.bases();
  for (const auto& base : bases) CHECK_MESSAGE(!fs::exists(base / "limited"), base);
  REQUIRE(c.client.Get("/limited/echo/1"));
  for (const auto& base : bases) REQUIRE_MESSAGE(fs::is_directory(base / "limited" / "w1"), base);

  SUBCASE("children that together allocate past memory_mb are killed, and the app stays in its memory") {
    // Three children of 80 MiB each: each fits its own address-space limit of 128 MiB, but
    // not all three fit the worker's 128 MiB.
    auto r = c.client.Get("/children/3/80");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_MESSAGE(r->body.find("killed=0") == std::string::npos, r->body);
    CHECK_MESSAGE(r->body.find("ok=3") == std::string::npos, r->body);
    if (limits.value("mechanism", "") == "cgroup v1") {
      int64_t peak = numberIn(bases[0] / "limited" / "memory.max_usage_in_bytes");
      CHECK(peak > 0);
      CHECK(peak <= numberIn(bases[0] / "limited" / "memory.limit_in_bytes"));
    }
    // One child alone fits.
    auto alone = c.client.Get("/children/1/80");
    REQUIRE(alone);
    CHECK(alone->body == "ok=1 killed=0 failed=0\n");
  }
  SUBCASE("a fork bomb stops at the app's task limit, and another app's workers start and serve") {
    auto r = c.client.Get("/forkbomb");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    int forked = std::stoi(r->body.substr(r->body.find(' ') + 1));
    CHECK(forked > 0);
    CHECK(forked < 32);
    fs::path pids = bases.back() / "limited" / "pids.current";
    CHECK(numberIn(pids) > 16);
    CHECK(numberIn(pids) <= 32);
    // The bystander has no worker yet: one starts now, and serves.
    for (int i = 0; i < 5; ++i) {
      auto echo = c.client.Get("/echo/" + std::to_string(i));
      REQUIRE(echo);
      CHECK(echo->status == 200);
    }
  }

  // An app that is removed takes its cgroup with it, once its workers are gone.
  httplib::Client admin = c.host.adminClient();
  auto removed = admin.Delete("/v1/apps/limited", {{"Authorization", "Bearer " + c.host.adminToken()}});
  REQUIRE(removed);
  CHECK(removed->status == 200);
  waitFor("the removed app's cgroup to go", [&] { return !fs::exists(bases.back() / "limited"); },
          std::chrono::seconds(10), c.host);
  // Once the host is gone, so are its cgroups (the fork bomb's processes with them).
  c.host.process().signal(SIGTERM);
  CHECK(c.host.process().wait().status == 0);
  for (const auto& base : bases) CHECK_MESSAGE(!fs::exists(base), base);
}

TEST_CASE("a thread printing forever after its invocation returned costs the host little") {
  Limits c;
  pid_t host_pid = c.host.process().pid();
  long rss_before = rssKib(host_pid);
  auto r = c.client.Get("/idleflood");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  fs::path host_log = c.tmp.path() / "host.stderr";
  waitFor("the notice that the worker's output is throttled",
          [&] { return readFile(host_log).find("writes more output outside invocations") != std::string::npos; },
          std::chrono::seconds(10), c.host);
  // The app's own log says so too. Asked at once: the ring keeps an app's newest 1000 lines,
  // and the throttled flood (about 300 lines a second) pushes the notice out within seconds.
  auto logs = c.gust({"logs", "limited"});
  CHECK(logs.out.find("writes more output outside invocations than the host reads") != std::string::npos);
  auto start = std::chrono::steady_clock::now();
  int64_t ticks_before = cpuTicks(host_pid);
  // Meanwhile another app serves as usual.
  for (int i = 0; i < 50; ++i) {
    auto echo = c.client.Get("/echo/" + std::to_string(i));
    REQUIRE(echo);
    CHECK(echo->status == 200);
  }
  std::this_thread::sleep_until(start + std::chrono::seconds(3));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(6));
  // A host that read the flood as fast as the worker writes would use a whole core.
  CHECK(cpuTicks(host_pid) - ticks_before < static_cast<int64_t>(sysconf(_SC_CLK_TCK) * seconds * 0.25));
  // The host holds no backlog of the flood: its memory grew by less than the budget's worth
  // many times over (measured as growth, since a sanitized host starts far bigger).
  CHECK(rssKib(host_pid) - rss_before < 64 * 1024);
  // What reached the log is bounded by the budget (256 KiB at once, then 64 KiB/s, in lines
  // of about 215 bytes), however much the thread printed.
  std::string logged = readFile(host_log);
  size_t lines = occurrences(logged, "idle flood ");
  double elapsed = seconds + 10;  // at most this long since the flood began
  CHECK(lines > 0);
  CHECK_MESSAGE(lines < (256 * 1024 + 64 * 1024 * elapsed) / 200, lines);
}
