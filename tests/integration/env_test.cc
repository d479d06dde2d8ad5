// Containment of the host's environment (issue 13): a worker sees only the allowlist (PATH,
// LANG, TZ, HOME=/tmp) and its own app's variables, never the host's token or secrets, on
// both start paths (forked from the fork server, spawned by the host), and no descriptor
// beyond its stdio and IPC channel. Then `gust env` end to end: set, masked ls, rm, the
// 0600 file, required variables, refusals, and a change under load that drops nothing.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "runtime/exec/fork_client.h"
#include "runtime/exec/pool.h"
#include "runtime/exec/worker_environment.h"
#include "tests/integration/harness.h"
#include "tests/support/run_loop.h"

using namespace gust;
using namespace gust::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr const char* kSecret = "made-up-host-secret-4f2a";

// Sets variables in this process (and so in every host it starts) for one test.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
  }

 private:
  std::map<std::string, std::string> vars_;
};

// What the fixture's `environment` function saw.
struct Seen {
  std::map<std::string, std::string> env;
  std::set<int> fds;
};

Seen parseSeen(const std::string& body) {
  Seen seen;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("fd ", 0) == 0) {
      seen.fds.insert(std::stoi(line.substr(3)));
    } else {
      size_t eq = line.find('=');
      REQUIRE_MESSAGE(eq != std::string::npos, "not KEY=VALUE: " << line);
      seen.env[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return seen;
}

// Only the allowlist and `app_env`; only stdin, stdout, stderr and the IPC channel.
void checkContained(const Seen& seen, const std::map<std::string, std::string>& app_env) {
  std::set<std::string> allowed = {"PATH", "LANG", "TZ", "HOME"};
  // The sanitized build passes its sanitizer settings on (see worker_environment.cc).
  if (std::getenv("GUST_SANITIZED") != nullptr) allowed.insert({"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"});
  for (const auto& [k, v] : app_env) allowed.insert(k);
  for (const auto& [k, v] : seen.env) {
    CAPTURE(k);
    CHECK(allowed.count(k) == 1);
    CHECK(v.find(kSecret) == std::string::npos);
  }
  CHECK(seen.env.at("HOME") == "/tmp");
  CHECK(seen.env.count("PATH") == 1);
  for (const auto& [k, v] : app_env) CHECK(seen.env.at(k) == v);
  for (int fd : seen.fds) {
    CAPTURE(fd);
    CHECK(fd <= 3);
  }
}

std::string manifestFor(const std::string& name, const std::string& extra = "") {
  return R"({"name": ")" + name + R"(", )" + extra + R"("functions": {
    "environment": {"routes": ["/)" + name + R"(/env"]},
    "echo": {"routes": ["/)" + name + R"(/echo/{id}"]}}})";
}

struct Cluster {
  TempDir tmp;
  ScopedEnv host_env{{{"GUST_ADMIN_TOKEN", "token-from-the-host-env-1234567890"}, {"MADE_UP_SECRET", kSecret}}};
  fs::path alpha = makeApp(tmp.path(), "alpha", manifestFor("alpha"), env("GUST_FIXTURE_MISBEHAVE"));
  fs::path beta = makeApp(tmp.path(), "beta", manifestFor("beta"), env("GUST_FIXTURE_MISBEHAVE"));
  Host host{{alpha, beta}, tmp.path()};

  CommandResult gust(std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()});
    return runGust(args, tmp.path());
  }

  Seen seen(const std::string& app) {
    auto r = localClient(host.port(), 30s).Get("/" + app + "/env");
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 200, r->body);
    return parseSeen(r->body);
  }

  httplib::Client admin() {
    httplib::Client c = host.adminClient(30s);
    c.set_bearer_token_auth("token-from-the-host-env-1234567890");
    return c;
  }
};

mode_t modeOf(const fs::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

// Runs the fixture's `environment` in a pool on this process's own loop, its worker forked
// (with a fork server) or spawned (without one), with `leaked` open in this process and
// not close-on-exec, as a careless library would leave it.
std::string environmentFromPool(bool forked, const AppEnv& app_env) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  SystemClock clock;
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  REQUIRE(leaked > 3);
  std::unique_ptr<ForkClient> fork_client;
  if (forked) {
    fork_client = std::make_unique<ForkClient>(&loop, clock, env("GUST_BIN"));
    REQUIRE(fork_client->start());
  }
  PoolConfig config;
  config.app = "fixtures";
  config.app_dir = std::filesystem::temp_directory_path().string();
  config.module_path = env("GUST_FIXTURE_MISBEHAVE");
  config.executable = env("GUST_BIN");
  config.functions = {"environment"};
  config.containment.pid_namespace = false;
  config.fork_client = fork_client.get();
  config.environment = workerEnvironment(app_env);
  auto pool = std::make_unique<Pool>(&loop, clock, std::move(config));
  Invocation inv;
  inv.id = "env";
  inv.app = "fixtures";
  inv.function = "environment";
  inv.payload.method = "GET";
  inv.payload.path = "/env";
  std::optional<Outcome> got;
  pool->submit(std::move(inv), 0, 10s, [&](Outcome&& o) { got = std::move(o); });
  REQUIRE(runLoopUntil(&loop, "the environment function to answer", [&] { return got.has_value(); }));
  REQUIRE_MESSAGE(got->kind == OutcomeKind::kOk, got->message);
  if (forked) CHECK(fork_client->forked() == 1);
  bool closed = false;
  pool->close([&] { closed = true; });
  REQUIRE(runLoopUntil(&loop, "the pool to close", [&] { return closed; }));
  pool.reset();
  if (fork_client) {
    bool client_closed = false;
    fork_client->close([&] { client_closed = true; });
    REQUIRE(runLoopUntil(&loop, "the fork server to close", [&] { return client_closed; }));
  }
  runLoopToEnd(&loop, "the handles to close");
  CHECK(uv_loop_close(&loop) == 0);
  ::close(leaked);
  return got->body;
}

}  // namespace

TEST_CASE("a spawned worker and a forked one see only the allowlist and their app's variables, and no stray descriptor") {
  ScopedEnv host_env{{{"GUST_ADMIN_TOKEN", "not-for-workers"}, {"MADE_UP_SECRET", kSecret}, {"LANG", "C.UTF-8"}}};
  for (bool forked : {false, true}) {
    CAPTURE(forked);
    Seen seen = parseSeen(environmentFromPool(forked, {{"API_KEY", "k-123"}, {"TZ", "Europe/Paris"}}));
    checkContained(seen, {{"API_KEY", "k-123"}, {"TZ", "Europe/Paris"}});
    CHECK(seen.env.at("LANG") == "C.UTF-8");  // passed through from the host
  }
}

TEST_CASE("an app's environment near its limit still travels in one fork request") {
  AppEnv big;
  // 8 x (5 + 32760) bytes: just under the 256 KiB an app may have.
  for (int i = 0; i < 8; ++i) big["BIG_" + std::to_string(i)] = std::string(32760, static_cast<char>('a' + i));
  REQUIRE(validateEnv(big));
  Seen seen = parseSeen(environmentFromPool(true, big));  // checks it was forked, not spawned
  checkContained(seen, {big.begin(), big.end()});
}

TEST_CASE("a host's workers and fork server never see its token or secrets; each app sees only its own variables") {
  Cluster c;
  // The fork server itself runs with the allowlist alone.
  pid_t host = c.host.process().pid();
  bool found_server = false;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (parentOf(std::stoi(name)) != host) continue;
    std::string environ_text = readFile(entry.path() / "environ");
    if (readFile(entry.path() / "cmdline").find("fork-server") == std::string::npos) continue;
    found_server = true;
    CHECK(environ_text.find("GUST_ADMIN_TOKEN") == std::string::npos);
    CHECK(environ_text.find(kSecret) == std::string::npos);
  }
  CHECK(found_server);

  auto set = c.gust({"env", "set", "alpha", "API_KEY=alpha-only-value", "GREETING=hello world"});
  REQUIRE_MESSAGE(set.status == 0, set.err);
  Seen alpha = c.seen("alpha");
  checkContained(alpha, {{"API_KEY", "alpha-only-value"}, {"GREETING", "hello world"}});
  Seen beta = c.seen("beta");
  checkContained(beta, {});
  CHECK(beta.env.count("API_KEY") == 0);

  // Served by forked workers: the host's default path.
  auto echo = localClient(c.host.port()).Get("/alpha/echo/1");
  REQUIRE(echo);
  CHECK(readFile("/proc/" + echo->get_header_value("X-Pid") + "/comm") == "gust-worker\n");
}

TEST_CASE("gust env set, ls and rm end to end: values masked, stored 0600, workers replaced with the new values") {
  Cluster c;
  auto set = c.gust({"env", "set", "alpha", "API_KEY=0123456789abcdef0123456789abcdef", "MODE=one"});
  REQUIRE_MESSAGE(set.status == 0, set.err);
  CHECK(set.out.find("set API_KEY") != std::string::npos);

  auto ls = c.gust({"env", "ls", "alpha"});
  REQUIRE_MESSAGE(ls.status == 0, ls.err);
  CHECK(ls.out.find("API_KEY  ******** (32 bytes)") != std::string::npos);
  CHECK(ls.out.find("MODE     ******** (3 bytes)") != std::string::npos);
  CHECK(ls.out.find("0123456789abcdef") == std::string::npos);
  // Nor does the API give a value back.
  auto listed = c.admin().Get("/v1/apps/alpha/env");
  REQUIRE(listed);
  CHECK(listed->status == 200);
  CHECK(listed->body.find("0123456789abcdef") == std::string::npos);

  fs::path file = c.host.dataDir() / "env" / "alpha.json";
  CHECK(modeOf(file) == 0600);
  CHECK(modeOf(file.parent_path()) == 0700);
  CHECK(c.seen("alpha").env.at("MODE") == "one");

  auto value_file = c.tmp.path() / "mode.txt";
  writeFile(value_file, "two\n");
  auto from_file = c.gust({"env", "set", "alpha", "MODE=@" + value_file.string()});
  REQUIRE_MESSAGE(from_file.status == 0, from_file.err);
  CHECK(c.seen("alpha").env.at("MODE") == "two");

  auto rm = c.gust({"env", "rm", "alpha", "MODE"});
  REQUIRE_MESSAGE(rm.status == 0, rm.err);
  Seen after = c.seen("alpha");
  CHECK(after.env.count("MODE") == 0);
  CHECK(after.env.at("API_KEY") == "0123456789abcdef0123456789abcdef");

  auto gone = c.gust({"env", "rm", "alpha", "MODE"});
  CHECK(gone.status == 1);
  CHECK(gone.err.find("has no variable \"MODE\"") != std::string::npos);

  // An app may have variables before it is deployed.
  auto early = c.gust({"env", "set", "later", "TOKEN=x"});
  REQUIRE_MESSAGE(early.status == 0, early.err);
  CHECK(early.out.find("no workers running") != std::string::npos);
}

TEST_CASE("bad names and values are refused with what was wrong and what is allowed") {
  Cluster c;
  struct Case {
    std::string arg, says;
  };
  for (const auto& bad : std::vector<Case>{{"GUST_ADMIN_TOKEN=x", "GUST_"},
                                           {"LD_PRELOAD=/tmp/x.so", "LD_"},
                                           {"PATH=/tmp", "PATH and HOME"},
                                           {"1ABC=x", "letters, digits and _"},
                                           {"NOEQUALS", "KEY=VALUE"},
                                           {"BIG=" + std::string(32 * 1024 + 1, 'v'), "32 KiB"}}) {
    CAPTURE(bad.says);
    auto r = c.gust({"env", "set", "alpha", bad.arg});
    CHECK(r.status == 2);
    CHECK(r.err.find(bad.says) != std::string::npos);
  }
  // The API checks as much as the CLI does.
  auto refused = c.admin().Patch("/v1/apps/alpha/env", R"({"LD_PRELOAD": "/tmp/x.so"})", "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 400);
  CHECK(refused->body.find("LD_") != std::string::npos);
  auto not_string = c.admin().Patch("/v1/apps/alpha/env", R"({"K": 1})", "application/json");
  REQUIRE(not_string);
  CHECK(not_string->status == 400);
  CHECK_FALSE(fs::exists(c.host.dataDir() / "env" / "alpha.json"));
}

TEST_CASE("a deploy lacking a required variable is refused naming them all; rm of one the active version requires too") {
  Cluster c;
  std::string manifest = manifestFor("shop", R"("required_env": ["API_KEY", "DB_URL"], )");
  httplib::MultipartFormDataItems items = {{"manifest", manifest, "gust.json", "application/json"},
                                           {"module", readFile(env("GUST_FIXTURE_MISBEHAVE")), "shop.so",
                                            "application/octet-stream"}};
  auto refused = c.admin().Post("/v1/apps/shop/versions", items);
  REQUIRE(refused);
  CHECK(refused->status == 400);
  CHECK(refused->body.find("API_KEY, DB_URL") != std::string::npos);
  CHECK(refused->body.find("gust env set shop API_KEY=... DB_URL=...") != std::string::npos);
  auto described = c.admin().Get("/v1/apps/shop");
  REQUIRE(described);
  CHECK(described->status == 404);  // nothing of the refused version was stored

  REQUIRE(c.gust({"env", "set", "shop", "API_KEY=a", "DB_URL=b"}).status == 0);
  auto deployed = c.admin().Post("/v1/apps/shop/versions", items);
  REQUIRE(deployed);
  REQUIRE_MESSAGE(deployed->status == 201, deployed->body);
  checkContained(c.seen("shop"), {{"API_KEY", "a"}, {"DB_URL", "b"}});

  auto rm = c.gust({"env", "rm", "shop", "DB_URL"});
  CHECK(rm.status == 1);
  CHECK(rm.err.find("requires DB_URL") != std::string::npos);
  CHECK(c.seen("shop").env.at("DB_URL") == "b");
}

TEST_CASE("a host started with an app folder that lacks a required variable refuses to start, naming it") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "needy", manifestFor("needy", R"("required_env": ["API_KEY"], )"),
                         env("GUST_FIXTURE_MISBEHAVE"));
  Process host({env("GUST_BIN"), "serve", "--port", "0", "--data-dir",
                (tmp.path() / "data").string(), app.string()},
               tmp.path() / "host.stderr");
  auto done = host.finish(30s);
  CHECK(done.status != 0);
  CHECK(done.err.find("gust env set needy API_KEY=...") != std::string::npos);
}

TEST_CASE("env set under a steady load: every request succeeds and the new workers see the new value") {
  Cluster c;
  REQUIRE(c.gust({"env", "set", "alpha", "ROUND=1"}).status == 0);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::string first_failure;
  std::thread load([&] {
    auto client = localClient(c.host.port(), 30s);
    // Bounded in count and time: at most 5000 requests.
    for (int i = 0; i < 5000 && !stop; ++i) {
      auto r = client.Get("/alpha/env");
      if (r && r->status == 200) {
        ++ok;
      } else if (failed++ == 0) {
        first_failure = r ? std::to_string(r->status) + " " + r->body : "no answer";
      }
    }
  });
  waitFor("the load to get going", [&] { return ok > 20; }, 20s, c.host);
  for (int round = 2; round <= 4; ++round) {
    auto set = c.gust({"env", "set", "alpha", "ROUND=" + std::to_string(round)});
    CHECK_MESSAGE(set.status == 0, set.err);
    // Once set returns, the new workers take every new invocation.
    CHECK(c.seen("alpha").env.at("ROUND") == std::to_string(round));
  }
  int before = ok;
  waitFor("more requests after the last change", [&] { return ok > before + 20; }, 20s, c.host);
  stop = true;
  load.join();
  CHECK_MESSAGE(failed == 0, first_failure);
  CHECK(ok > 40);
}
