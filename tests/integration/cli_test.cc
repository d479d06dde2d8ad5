// The developer CLI through the real gust binary: init writes a project, build compiles it
// outside this repository against the SDK (next to the binary, and from an installed
// prefix), and every command answers --help and points out typos.
#include <doctest/doctest.h>

#include <cstdlib>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

const std::vector<std::string> kVerbs = {"init", "dev", "build", "deploy", "serve", "ls", "describe", "rollback", "rm",
                                         "logs", "invoke", "invocations", "queue", "cron", "ps", "completion", "man"};

}  // namespace

TEST_CASE("gust init writes an http project that builds outside the repository") {
  TempDir tmp;
  fs::path dir = tmp.path() / "greeter";
  auto init = runGust({"init", "greeter", "--dir", dir.string()}, tmp.path());
  REQUIRE_MESSAGE(init.status == 0, init.err);
  CHECK(init.out.find("gust dev") != std::string::npos);
  for (const char* f : {"gust.json", "main.cpp", ".gitignore", "README.md"}) CHECK(fs::is_regular_file(dir / f));
  auto build = runGust({"build", dir.string()}, tmp.path());
  REQUIRE_MESSAGE(build.status == 0, build.err);
  CHECK(fs::is_regular_file(dir / "build" / "greeter.so"));
  // -Wall -Wextra: a template that warns teaches users to ignore warnings.
  CHECK_MESSAGE(build.err.find("warning") == std::string::npos, build.err);
  auto again = runGust({"build", dir.string()}, tmp.path());
  CHECK(again.out.find("up to date") != std::string::npos);
}

TEST_CASE("the timer and queue templates build as they are") {
  TempDir tmp;
  for (const char* kind : {"timer", "queue"}) {
    CAPTURE(kind);
    std::string name = std::string("my-") + kind;
    fs::path dir = tmp.path() / name;
    auto init = runGust({"init", name, "--template", kind, "--dir", dir.string()}, tmp.path());
    REQUIRE_MESSAGE(init.status == 0, init.err);
    auto build = runGust({"build", dir.string()}, tmp.path());
    CHECK_MESSAGE(build.status == 0, build.err);
    CHECK_MESSAGE(build.err.find("warning") == std::string::npos, build.err);
    CHECK(fs::is_regular_file(dir / "build" / (name + ".so")));
  }
}

TEST_CASE("a project builds against an installed gust, with no source tree in sight") {
  const char* build_root = std::getenv("GUST_BUILD_ROOT");
  REQUIRE(build_root != nullptr);
  TempDir tmp;
  fs::path dest = tmp.path() / "root";
  fs::path prefix = dest / "opt" / "gust";
  // Installs what `meson install` installs (the binary, the SDK headers, gust-sdk.pc) under
  // a throwaway prefix, as a packager would.
  CommandResult installed = Process({"/bin/sh", "-c", "exec meson install -C '" + std::string(build_root) +
                                                          "' --no-rebuild --quiet --destdir '" + dest.string() + "'"},
                                    tmp.path() / "install.stderr")
                                .finish(std::chrono::seconds(300));
  REQUIRE_MESSAGE(installed.status == 0, installed.out << installed.err);
  // The build dir's prefix is whatever it was configured with; find the installed binary.
  fs::path gust;
  for (const auto& e : fs::recursive_directory_iterator(dest)) {
    if (e.path().filename() == "gust" && e.is_regular_file()) gust = e.path();
  }
  REQUIRE(!gust.empty());
  CHECK(fs::is_regular_file(gust.parent_path().parent_path() / "include" / "gust" / "gust.hpp"));

  fs::path project = tmp.path() / "elsewhere" / "app";
  unsetenv("GUST_SDK_INCLUDE");
  auto run = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {gust.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process(argv, tmp.path() / "installed.stderr").finish(std::chrono::seconds(120));
  };
  auto init = run({"init", "app", "--dir", project.string()});
  REQUIRE_MESSAGE(init.status == 0, init.err);
  auto build = run({"build", project.string()});
  CHECK_MESSAGE(build.status == 0, build.err);
  CHECK(fs::is_regular_file(project / "build" / "app.so"));
}

TEST_CASE("gust init refuses a bad name, an unknown template and a folder with files in it") {
  TempDir tmp;
  auto bad = runGust({"init", "My App", "--dir", (tmp.path() / "x").string()}, tmp.path());
  CHECK(bad.status == 2);
  CHECK(bad.err.find("lower-case letters") != std::string::npos);
  CHECK_FALSE(fs::exists(tmp.path() / "x"));

  auto typo = runGust({"init", "app", "--template", "cron", "--dir", (tmp.path() / "y").string()}, tmp.path());
  CHECK(typo.status == 2);
  CHECK(typo.err.find("http, timer and queue") != std::string::npos);
  auto close = runGust({"init", "app", "--template", "timr", "--dir", (tmp.path() / "y").string()}, tmp.path());
  CHECK(close.err.find("did you mean \"timer\"") != std::string::npos);

  writeFile(tmp.path() / "taken" / "notes.txt", "mine");
  auto taken = runGust({"init", "app", "--dir", (tmp.path() / "taken").string()}, tmp.path());
  CHECK(taken.status == 1);
  CHECK(taken.err.find("not empty") != std::string::npos);
  CHECK(readFile(tmp.path() / "taken" / "notes.txt") == "mine");
  CHECK_FALSE(fs::exists(tmp.path() / "taken" / "gust.json"));
}

TEST_CASE("every command has --help, and the overview lists every command") {
  TempDir tmp;
  auto overview = runGust({"--help"}, tmp.path());
  CHECK(overview.status == 0);
  for (const auto& verb : kVerbs) {
    CAPTURE(verb);
    CHECK(overview.out.find("\n  " + verb + " ") != std::string::npos);
    auto help = runGust({verb, "--help"}, tmp.path());
    CHECK(help.status == 0);
    CHECK(help.out.find("usage: gust " + verb) != std::string::npos);
  }
  for (const char* sub : {"send", "ls", "peek", "redrive", "purge"}) {
    auto help = runGust({"queue", sub, "--help"}, tmp.path());
    CHECK(help.status == 0);
    CHECK(help.out.find("usage: gust queue") != std::string::npos);
  }
}

TEST_CASE("a mistyped command, sub-command or option gets a did-you-mean and a pointer to --help") {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    std::string suggestion, help;
  };
  for (const auto& c : std::vector<Case>{{{"deplyo"}, "\"deploy\"", "gust --help"},
                                         {{"invocation"}, "\"invocations\"", "gust --help"},
                                         {{"queue", "pek", "jobs"}, "\"peek\"", "gust queue --help"},
                                         {{"queue", "send", "jobs", "--dely", "3s"}, "--delay", "gust queue send --help"},
                                         {{"ls", "--jsn"}, "--json", "gust ls --help"},
                                         {{"logs", "app", "--folow"}, "--follow", "gust logs --help"},
                                         {{"dev", "--prot", "1"}, "--port", "gust dev --help"},
                                         {{"invocations", "--faild"}, "--failed", "gust invocations --help"}}) {
    CAPTURE(c.args[0]);
    auto r = runGust(c.args, tmp.path());
    CHECK(r.status == 2);
    CHECK_MESSAGE(r.err.find("did you mean " + c.suggestion) != std::string::npos, r.err);
    CHECK_MESSAGE(r.err.find(c.help) != std::string::npos, r.err);
  }
}

TEST_CASE("admin commands with no host to talk to say what is wrong") {
  TempDir tmp;
  writeFile(tmp.path() / "data" / "admin.token", "t\n");
  auto r = runGust({"ls", "--admin", "http://127.0.0.1:1", "--data-dir", (tmp.path() / "data").string()}, tmp.path());
  CHECK(r.status == 1);
  CHECK(r.err.find("gust serve") != std::string::npos);
  auto no_host = runGust({"queue", "ls", "--data-dir", (tmp.path() / "none").string()}, tmp.path());
  CHECK(no_host.status == 1);
  CHECK_MESSAGE(no_host.err.find("no host is serving " + (tmp.path() / "none").string() +
                                 " (no admin.sock): start one with `gust serve`, or give --admin / --data-dir") !=
                    std::string::npos,
                no_host.err);
  auto no_token = runGust({"queue", "ls", "--admin", "http://127.0.0.1:1", "--data-dir", (tmp.path() / "none").string()},
                          tmp.path());
  CHECK(no_token.status == 1);
  CHECK(no_token.err.find("GUST_ADMIN_TOKEN") != std::string::npos);
  auto redrive = runGust({"queue", "redrive", "jobs"}, tmp.path());
  CHECK(redrive.status == 2);
  CHECK(redrive.err.find("jobs.dead") != std::string::npos);
}
