// DevHost with a stand-in for `gust serve`: a shell script that prints the host's startup
// lines. Real processes, so the lifetime rules (stop, the parent's death) are the real ones.
#include "runtime/cli/dev_host.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "tests/support/wait_for.h"
#include "tests/unit/cli_test_support.h"

using namespace gust::cli;
using gust::test::TempDir;
using gust::test::writeFile;
namespace fs = std::filesystem;

namespace {

// Writes an executable script that stands in for the gust binary; it runs in the data dir.
std::string fakeGust(const fs::path& dir, const std::string& body) {
  fs::path script = dir / "fake-gust";
  writeFile(script, "#!/bin/sh\n" + body);
  fs::permissions(script, fs::perms::owner_all);
  return script.string();
}

constexpr const char* kServes = R"SH(echo $$ > pid
echo "args: $*" > args
echo "gust 0.1.0 listening on http://127.0.0.1:18080"
echo "admin API on unix:$PWD/admin.sock (token in $PWD/admin.token)"
echo "a later line"
exec sleep 60
)SH";

bool alive(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

pid_t pidIn(const fs::path& file) {
  gust::test::waitFor("the stand-in host to write its pid to " + file.string(),
                      [&] { return !gust::test::readFile(file).empty(); }, std::chrono::seconds(2));
  return static_cast<pid_t>(std::stol(gust::test::readFile(file)));
}

}  // namespace

TEST_CASE("the dev host starts, reports both addresses, and stops on request") {
  TempDir tmp;
  DevHostOptions options{fakeGust(tmp.path(), kServes), tmp.path() / "data", 18080};
  auto host = DevHost::start(options);
  REQUIRE_MESSAGE(host.ok(), host.error().message);
  CHECK((*host)->httpUrl() == "http://127.0.0.1:18080");
  CHECK((*host)->adminUrl() == "unix:" + (tmp.path() / "data" / "admin.sock").string());
  CHECK(gust::test::readFile(tmp.path() / "data" / "args") ==
        "args: serve --port 18080 --data-dir " + (tmp.path() / "data").string() + " --expose-errors --callback-allow 127.0.0.0/8,::1\n");
  pid_t pid = (*host)->pid();
  CHECK_FALSE((*host)->exited().has_value());
  (*host)->stop();
  CHECK((*host)->exited() == -SIGTERM);
  CHECK_FALSE(alive(pid));
}

TEST_CASE("a host that exits before it listens is an error with its status") {
  TempDir tmp;
  DevHostOptions options{fakeGust(tmp.path(), "echo 'gust serve: port 8080 is taken' >&2\nexit 3\n"), tmp.path() / "d"};
  auto host = DevHost::start(options);
  REQUIRE_FALSE(host.ok());
  CHECK(host.error().message.find("status 3") != std::string::npos);
}

TEST_CASE("a host that never listens is stopped after the start timeout") {
  TempDir tmp;
  DevHostOptions options{fakeGust(tmp.path(), "echo $$ > pid\nexec sleep 60\n"), tmp.path() / "d"};
  options.start_timeout = std::chrono::milliseconds(300);
  auto host = DevHost::start(options);
  REQUIRE_FALSE(host.ok());
  CHECK(host.error().message.find("did not start listening") != std::string::npos);
  CHECK_FALSE(alive(pidIn(tmp.path() / "d" / "pid")));
}

TEST_CASE("the host does not outlive a gust dev that dies without stopping it") {
  TempDir tmp;
  std::string gust = fakeGust(tmp.path(), kServes);
  fs::path data = tmp.path() / "data";
  pid_t dev = fork();
  REQUIRE(dev >= 0);
  if (dev == 0) {
    auto host = DevHost::start(DevHostOptions{gust, data, 18080});
    _exit(host.ok() ? 0 : 1);  // no destructor, no stop(): as if it were killed
  }
  int status = 0;
  gust::test::waitFor("the forked gust dev to start its host and exit",
                      [&] { return waitpid(dev, &status, WNOHANG) == dev; }, std::chrono::seconds(30));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  pid_t child = pidIn(data / "pid");
  // The orphan was re-parented; whoever reaps it, it must be gone soon.
  gust::test::waitFor(
      "the orphaned host to end",
      [&] {
        waitpid(child, nullptr, WNOHANG);
        return !alive(child);
      },
      std::chrono::seconds(3));
}

TEST_CASE("the address is read from the host's startup lines") {
  CHECK(urlInLine("gust 0.1.0 listening on http://127.0.0.1:8080", "http://") == "http://127.0.0.1:8080");
  CHECK(urlInLine("admin API on unix:/d/admin.sock (token in /d/admin.token)", "unix:") == "unix:/d/admin.sock");
  CHECK(urlInLine("admin API on http://127.0.0.1:41234", "http://") == "http://127.0.0.1:41234");
  CHECK(urlInLine("no address", "http://") == "");
}
