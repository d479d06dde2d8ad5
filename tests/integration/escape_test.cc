// The escape suite (issue 13): a hostile app tries every way out of its worker that
// docs/security.md says is closed, towards the host's secrets, files, admin API and
// processes and another app's module, files and worker, while a bystander app must keep
// answering every request. Each attempt is a function of tests/fixtures/escape.cpp that
// reports {"attempt", "escaped", "detail"}; the CHECKs here require "escaped": false.
// Everything runs twice: with the host as root (when the test is root) and with the host as
// an unprivileged user, since the two contain workers by different means.
#include <doctest/doctest.h>
#include <grp.h>
#include <httplib.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;

namespace {

const char* kEscapeManifest = R"({
  "name": "escape",
  "timeout": "15s",
  "memory_mb": 128,
  "functions": {
    "environment": { "routes": ["/e/environment"] },
    "readfile":    { "routes": ["/e/read"] },
    "writefile":   { "routes": ["/e/write"] },
    "adminsocket": { "routes": ["/e/adminsocket"] },
    "admintcp":    { "routes": ["/e/admintcp"] },
    "signalpid":   { "routes": ["/e/signal"] },
    "ptracepid":   { "routes": ["/e/ptrace"] },
    "fds":         { "routes": ["/e/fds"] },
    "syscalls":    { "routes": ["/e/syscalls"] },
    "forkmany":    { "routes": ["/e/forkmany"] },
    "memory":      { "routes": ["/e/memory"] },
    "spam":        { "routes": ["/e/spam"] }
  }
})";

// The victim: the same module, deployed under another name and routes.
const char* kOtherManifest = R"({
  "name": "other",
  "functions": {
    "plant":       { "routes": ["/o/plant"] },
    "environment": { "routes": ["/o/environment"] }
  }
})";

const char* kBystanderManifest = R"({
  "name": "bystander",
  "timeout": "5s",
  "functions": { "echo": { "routes": ["/b/echo/{id}"] } }
})";

// More processes than any app may have: the attempt escapes when it gets them all.
// It is above an app's default tasks limit (max_processes, 512).
constexpr int kForkAttempt = 1024;
constexpr int kMemoryMb = 128;  // the escape app's memory_mb
// Children of 0.6 x memory_mb each, 1.8 x memory_mb together. Touching the memory is slow on
// a busy machine (about 100 MB/s here), hence a small total.
constexpr int kMemoryChildren = 3;
constexpr size_t kStoredLogLines = 1000;  // what the host keeps of an app's output

std::string randomHex(size_t bytes) {
  std::random_device rd;
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kHex[v >> 4];
    out += kHex[v & 0xf];
  }
  return out;
}

// Who runs the host: root, or an unprivileged user started through setpriv.
struct HostUser {
  bool root = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string label;
};

// The system user of the unprivileged variant, made when it is missing.
HostUser unprivilegedUser() {
  if (geteuid() != 0) return {false, geteuid(), getegid(), "the test's own user " + std::to_string(geteuid())};
  passwd* pw = getpwnam("gust-escape");
  if (pw == nullptr) {
    REQUIRE(std::system("useradd --system --no-create-home gust-escape") == 0);
    pw = getpwnam("gust-escape");
  }
  REQUIRE(pw != nullptr);
  return {false, pw->pw_uid, pw->pw_gid, "unprivileged user gust-escape (" + std::to_string(pw->pw_uid) + ")"};
}

// A host started as `user`, from a copy of the binary in `work` (the build dir may sit in a
// folder only root can enter), with secrets in its environment and its admin token also in
// DATA_DIR/admin.token, where an operator's would be.
class EscapeHost {
 public:
  EscapeHost(const HostUser& user, const fs::path& work, const std::string& token, const std::string& secret)
      : data_dir_(work / "data"), token_(token), process_(command(user, work, token, secret), work / "host.stderr") {
    // The secrets were set in the test's environment only for the spawn (see command()).
    unsetenv("GUST_ADMIN_TOKEN");
    unsetenv("MY_HOST_SECRET");
    port_ = portFrom(process_.waitForLine("listening on http://"));
    process_.waitForLine("admin API on unix:");
    // The opt-in TCP listener is on, so that the attempts have a port to aim at.
    admin_port_ = portFrom(process_.waitForLine("admin API on http://"));
  }

  int port() const { return port_; }
  int adminPort() const { return admin_port_; }
  pid_t pid() const { return process_.pid(); }
  const fs::path& dataDir() const { return data_dir_; }
  Process& process() { return process_; }

  void deploy(const std::string& app, const std::string& manifest, const std::string& module) {
    httplib::Client c = unixClient((data_dir_ / "admin.sock").string(), std::chrono::seconds(30));
    c.set_bearer_token_auth(token_);
    httplib::MultipartFormDataItems items = {
        {"manifest", manifest, "gust.json", "application/json"},
        {"module", readFile(module), app + ".so", "application/octet-stream"},
    };
    auto r = c.Post("/v1/apps/" + app + "/versions", items);
    REQUIRE_MESSAGE(r, "deploying " << app << ": no answer\n" << process_.lastOutput());
    REQUIRE_MESSAGE(r->status / 100 == 2, "deploying " << app << ": " << r->status << " " << r->body);
  }

  // The sequence number of the newest log line the host took from `app` (0 when none): how
  // many lines it has taken so far. The host keeps at most kStoredLogLines per app, so one
  // page from the start reaches the newest.
  uint64_t newestLogLine(const std::string& app) {
    httplib::Client c = unixClient((data_dir_ / "admin.sock").string());
    c.set_bearer_token_auth(token_);
    auto r = c.Get("/v1/apps/" + app + "/logs?after=0&limit=" + std::to_string(kStoredLogLines));
    REQUIRE_MESSAGE(r, "the logs of " << app << ": no answer");
    auto body = json::parse(r->body, nullptr, false);
    REQUIRE_MESSAGE(body.contains("next"), r->body.substr(0, 500));
    return body["next"].get<uint64_t>();
  }

  // The host's resident memory in KiB, from /proc.
  long rssKib() const {
    std::string status = readFile("/proc/" + std::to_string(pid()) + "/status");
    size_t at = status.find("VmRSS:");
    return at == std::string::npos ? -1 : std::atol(status.c_str() + at + 6);
  }

 private:
  // The host's command line; sets the secrets in the test's environment for the host to
  // inherit, which the constructor clears once the host is spawned.
  static std::vector<std::string> command(const HostUser& user, const fs::path& work, const std::string& token,
                                          const std::string& secret) {
    fs::path bin = work / "bin" / "gust";
    fs::create_directories(bin.parent_path());
    fs::copy_file(env("GUST_BIN"), bin, fs::copy_options::overwrite_existing);
    fs::create_directories(work / "data");
    writeFile(work / "data" / "admin.token", token + "\n");
    fs::permissions(work / "data" / "admin.token", fs::perms::owner_read | fs::perms::owner_write);
    fs::permissions(work, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    std::vector<std::string> argv;
    if (geteuid() == 0 && !user.root) {
      for (const auto& entry : fs::recursive_directory_iterator(work)) {
        REQUIRE(lchown(entry.path().c_str(), user.uid, user.gid) == 0);
      }
      REQUIRE(chown(work.c_str(), user.uid, user.gid) == 0);
      argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(user.uid), "--regid=" + std::to_string(user.gid),
              "--clear-groups"};
    }
    argv.insert(argv.end(), {bin.string(), "serve", "--port", "0", "--admin-listen", "127.0.0.1:0", "--data-dir",
                             (work / "data").string()});
    setenv("GUST_ADMIN_TOKEN", token.c_str(), 1);
    setenv("MY_HOST_SECRET", secret.c_str(), 1);
    return argv;
  }

  int portFrom(const std::string& line) {
    size_t at = line.find("http://");
    size_t colon = at == std::string::npos ? std::string::npos : line.find(':', at + 7);
    REQUIRE_MESSAGE(colon != std::string::npos, "the host did not start: " << process_.lastOutput());
    return std::stoi(line.substr(colon + 1));
  }

  fs::path data_dir_;
  std::string token_;
  Process process_;
  int port_ = 0;
  int admin_port_ = 0;
};

// A client that asks the bystander for an answer, again and again, until stopped, counting
// what it got.
class Bystander {
 public:
  explicit Bystander(int port) : thread_([this, port] { run(port); }) {}
  ~Bystander() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  std::string firstFailure() const { return first_failure_; }

 private:
  void run(int port) {
    httplib::Client c = localClient(port, std::chrono::seconds(10));
    for (int i = 0; !stop_; ++i) {
      auto r = c.Get("/b/echo/" + std::to_string(i));
      if (r && r->status == 200) {
        ++ok_;
      } else {
        if (failed_++ == 0) first_failure_ = r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0};
  std::string first_failure_;
  std::thread thread_;
};

struct Outcome {
  std::string attempt;
  bool escaped = false;
  std::string detail;
};

// Runs one attempt; an attempt that got no verdict (its worker killed, say) did not escape,
// and says so.
Outcome attempt(httplib::Client& client, const std::string& path) {
  auto r = client.Get(path);
  if (!r) return {path, false, "no answer: " + httplib::to_string(r.error())};
  auto body = json::parse(r->body, nullptr, false);
  if (!body.is_object() || !body.contains("escaped")) {
    return {path, false, "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 300)};
  }
  return {body["attempt"].get<std::string>(), body["escaped"].get<bool>(), body["detail"].get<std::string>()};
}

std::string q(const std::string& value) { return httplib::detail::encode_query_param(value); }

// The pid of a worker of `app` (its innermost process), found from outside through /proc:
// a gust-worker below the host whose working directory is one of the app's version dirs.
// (Inside its mount namespace the worker's cwd is /app; read from here, the link names the
// version dir that /app binds.)
pid_t workerOf(pid_t host, const fs::path& data_dir, const std::string& app) {
  std::string prefix = (data_dir / "apps" / app).string() + "/";
  pid_t found = 0;
  for (pid_t pid : descendantsNamed(host, "gust-worker")) {
    std::error_code ec;
    fs::path cwd = fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec);
    if (!ec && cwd.string().rfind(prefix, 0) == 0 && pid > found) found = pid;
  }
  return found;
}

void runAttempts(const HostUser& user) {
  TempDir tmp;
  const std::string token = randomHex(32);
  const std::string secret = "host-secret-" + randomHex(8);
  EscapeHost host(user, tmp.path(), token, secret);
  const fs::path data = host.dataDir();
  host.deploy("escape", kEscapeManifest, env("GUST_FIXTURE_ESCAPE"));
  host.deploy("other", kOtherManifest, env("GUST_FIXTURE_ESCAPE"));
  host.deploy("bystander", kBystanderManifest, env("GUST_FIXTURE_MISBEHAVE"));
  httplib::Client client = localClient(host.port(), std::chrono::seconds(30));

  // The other app leaves a secret in its /tmp, and so has a worker to aim at.
  const std::string planted = "/tmp/secret-" + randomHex(8);
  const std::string other_secret = "other-secret-" + randomHex(8);
  auto r = client.Get("/o/plant?path=" + q(planted) + "&secret=" + q(other_secret));
  REQUIRE(r);
  REQUIRE_MESSAGE(r->status == 200, r->body);
  pid_t other_worker = workerOf(host.pid(), data, "other");
  REQUIRE_MESSAGE(other_worker > 0, "no worker of app other below host " << host.pid());
  REQUIRE(client.Get("/b/echo/warm")->status == 200);

  Bystander bystander(host.port());
  std::vector<Outcome> outcomes;
  auto record = [&](const Outcome& o) {
    CHECK_MESSAGE(!o.escaped, "[" << user.label << "] " << o.attempt << " escaped: " << o.detail);
    outcomes.push_back(o);
  };
  auto run = [&](const std::string& path) { record(attempt(client, path)); };
  const std::string host_pid = std::to_string(host.pid());
  const std::string token_file = "&token_file=" + q((data / "admin.token").string());

  run("/e/environment?secret=" + q(secret));
  run("/e/read?path=" + q("/proc/" + host_pid + "/environ") + "&secret=" + q(secret));
  run("/e/read?path=" + q((data / "admin.token").string()) + "&secret=" + q(token));
  run("/e/read?path=" + q((data / "gust.db").string()));
  run("/e/read?path=" + q((data / "apps" / "other" / "v1" / "build" / "other.so").string()));
  run("/e/read?path=" + q(planted) + "&secret=" + q(other_secret));
  run("/e/write?path=" + q((data / "config.json").string()));
  run("/e/write?path=" + q((data / "apps" / "other" / "v1" / "escaped.txt").string()));
  run("/e/write?path=escaped.txt");  // its own version dir
  run("/e/adminsocket?path=" + q((data / "admin.sock").string()) + token_file);
  run("/e/admintcp?port=" + std::to_string(host.adminPort()) + token_file);
  run("/e/admintcp?port=8081" + token_file);
  run("/e/fds");
  run("/e/syscalls");
  run("/e/memory?k=" + std::to_string(kMemoryChildren) + "&mb=" + std::to_string(kMemoryMb * 6 / 10) +
      "&limit_mb=" + std::to_string(kMemoryMb));
  run("/e/forkmany?n=" + std::to_string(kForkAttempt));
  run("/e/ptrace?pid=" + host_pid);
  run("/e/ptrace?pid=" + std::to_string(other_worker));

  // Output from a thread that outlives its invocation: the host's memory stays bounded, the
  // host stops taking the output (after a second's grace, at most kStoredLogLines more in 2
  // s), and the other apps keep answering (the bystander counts).
  // The host reads output that belongs to no invocation on a budget (worker_process.cc).
  long rss_before = host.rssKib();
  run("/e/spam");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  uint64_t first_line = host.newestLogLine("escape");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  uint64_t taken = host.newestLogLine("escape") - first_line;
  long rss_after = host.rssKib();
  record({"background output: host RSS", rss_after - rss_before > 64 * 1024,
          std::to_string(rss_before) + " KiB -> " + std::to_string(rss_after) + " KiB"});
  record({"background output: lines taken", taken > kStoredLogLines,
          std::to_string(taken) + " lines taken in the 2 s after the first second"});

  // Signals last: one that lands ends the host or the other app's worker.
  run("/e/signal?pid=" + std::to_string(other_worker));
  run("/e/signal?pid=" + host_pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  bool host_alive = host.process().running();
  CHECK_MESSAGE(host_alive, "[" << user.label << "] the host ended after the attempts\n" << host.process().lastOutput());
  if (host_alive) CHECK(processAlive(other_worker));

  bystander.stop();
  CHECK_MESSAGE(bystander.failed() == 0, "[" << user.label << "] the bystander failed " << bystander.failed() << " of "
                                             << bystander.ok() + bystander.failed()
                                             << " requests; first: " << bystander.firstFailure());
  CHECK(bystander.ok() > 0);

  std::string summary = "escape attempts with the host as " + user.label + ":\n";
  for (const auto& o : outcomes) {
    summary += (o.escaped ? "  ESCAPED   " : "  contained ") + o.attempt + ": " + o.detail + "\n";
  }
  MESSAGE(summary);
  std::error_code ec;
  fs::remove(planted, ec);
}

}  // namespace

TEST_CASE("a function reaches none of the host's secrets, files, admin API or processes, nor another app's") {
  if (geteuid() == 0) {
    SUBCASE("host as root") { runAttempts({true, 0, 0, "root"}); }
  }
  SUBCASE("host as an unprivileged user") { runAttempts(unprivilegedUser()); }
}
