// Every app under examples/ as a user meets it: built by the real `gust build`, served by
// the real binary, and driven by the commands of its README. Each line of a ```sh block is
// run with bash; one with a trailing `# => text` must print that text (any run of spaces
// and line breaks counts as one space), and is tried again until it does, because queue
// and timer results arrive in the background; one without must exit 0.
#include <doctest/doctest.h>

#include <regex>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

// The examples that have a TEST_CASE below. A folder of examples/ missing here fails
// "every example has a README with commands", so a new example cannot go untested.
const std::vector<std::string> kExamples = {"cron-report", "hello", "orders"};

// How long a command may keep printing something else than its expected text.
constexpr std::chrono::seconds kSettle{15};
// How long one run of a command may take.
constexpr std::chrono::seconds kCommandLimit{30};
// The mark that turns a trailing comment into the text the command prints.
constexpr std::string_view kExpectMark = "# =>";

struct Command {
  int line = 0;        // in the README, for failure messages
  std::string text;    // what the user types
  std::string expect;  // what it prints; empty when it only has to exit 0
};

fs::path exampleDir(const std::string& name) { return fs::path(env("GUST_SOURCE_ROOT")) / "examples" / name; }

// The commands of the ```sh blocks of a README: one per line; blank lines and lines that
// start with # are notes.
std::vector<Command> readmeCommands(const std::string& readme) {
  std::vector<Command> commands;
  std::istringstream in(readme);
  std::string line;
  bool in_sh = false;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.rfind("```", 0) == 0) {
      in_sh = !in_sh && line == "```sh";
      continue;
    }
    size_t first = line.find_first_not_of(" \t");
    if (!in_sh || first == std::string::npos || line[first] == '#') continue;
    Command c{number, line, ""};
    if (size_t mark = line.find(kExpectMark); mark != std::string::npos) {
      c.text = line.substr(0, mark);
      c.expect = line.substr(mark + kExpectMark.size());
    }
    c.text = std::regex_replace(c.text, std::regex(R"(^\s+|\s+$)"), "");
    commands.push_back(c);
  }
  return commands;
}

// Each run of spaces and line breaks as one space, without any at either end.
std::string squeezeSpaces(const std::string& text) {
  return std::regex_replace(std::regex_replace(text, std::regex(R"(\s+)"), " "), std::regex(R"(^ | $)"), "");
}

// A README command as it runs against `host`: the CLI is $GUST_BIN rather than
// build/gust, the port is the host's rather than 8080, files of the repository it names
// (tests/js's npm clients, an example's script) are the source tree's, and the CLI finds the
// host through the variables it reads (GUST_URL, GUST_ADMIN_URL for its socket, GUST_DATA for
// the token).
std::string shellScript(const std::string& command, Host& host, const fs::path& work) {
  std::string text = std::regex_replace(command, std::regex(R"((^|[\s;|&(])build/gust\b)"), "$1\"$$GUST_BIN\"");
  text = std::regex_replace(text, std::regex(R"((^|[\s=;|&(])((tests/js|examples)/))"),
                            "$1" + env("GUST_SOURCE_ROOT") + "/$2");
  text = std::regex_replace(text, std::regex(R"(\b(localhost|127\.0\.0\.1):8080\b)"),
                            "$1:" + std::to_string(host.port()));
  return "exec 2>&1; cd '" + work.string() + "' || exit 1; unset GUST_ADMIN_TOKEN; export GUST_URL=http://127.0.0.1:" +
         std::to_string(host.port()) + " GUST_ADMIN_URL='" + host.adminUrl() + "' GUST_DATA='" + host.dataDir().string() + "'; " + text;
}

// Every example copied out of the source tree (whose build/ folders are the user's) and
// built with `gust build`. Built once per run of this test: compiling the three examples
// takes most of a minute, and every TEST_CASE serves all of them.
struct BuiltExamples {
  TempDir tmp;
  std::vector<fs::path> dirs;

  BuiltExamples() {
    for (const auto& name : kExamples) {
      fs::path dir = tmp.path() / name;
      fs::create_directories(dir);
      for (const auto& entry : fs::directory_iterator(exampleDir(name))) {
        if (entry.path().filename() == "build") continue;
        fs::copy(entry.path(), dir / entry.path().filename(), fs::copy_options::recursive);
      }
      CommandResult built = runGust({"build", dir.string()}, tmp.path());
      REQUIRE_MESSAGE(built.status == 0, "gust build examples/" << name << ":\n" << built.out << built.err);
      dirs.push_back(dir);
    }
  }
};

const BuiltExamples& builtExamples() {
  static BuiltExamples built;
  return built;
}

// Serves every example, as scripts/run.sh does, and runs the README of `name` against it.
void followReadme(const std::string& name) {
  const BuiltExamples& built = builtExamples();
  std::vector<Command> commands = readmeCommands(readFile(exampleDir(name) / "README.md"));
  REQUIRE_MESSAGE(!commands.empty(), "examples/" << name << "/README.md has no ```sh commands");
  TempDir work;
  Host host(built.dirs, work.path(), {"--callback-allow", "127.0.0.1/32"});  // as scripts/run.sh serves them
  for (const Command& c : commands) {
    std::string where = "examples/" + name + "/README.md:" + std::to_string(c.line) + ": `" + c.text + "`";
    auto run = [&] {
      return Process({"/bin/bash", "-c", shellScript(c.text, host, work.path())}, work.path() / "command.stderr")
          .finish(kCommandLimit);
    };
    if (c.expect.empty()) {
      CommandResult r = run();
      CHECK_MESSAGE(r.status == 0, where << " exited " << r.status << ", printing:\n" << r.out);
      continue;
    }
    std::string expected = squeezeSpaces(c.expect);
    std::string printed;
    waitFor(
        where + " to print \"" + expected + "\"",
        [&] {
          printed = run().out;
          return squeezeSpaces(printed).find(expected) != std::string::npos;
        },
        kSettle, [&] { return "it printed last:\n" + printed + "\nthe host's " + host.process().lastOutput(); });
  }
}

}  // namespace

TEST_CASE("every example has a README with commands, and a test case here") {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(fs::path(env("GUST_SOURCE_ROOT")) / "examples")) {
    if (!entry.is_directory()) continue;
    std::string name = entry.path().filename();
    found.push_back(name);
    CAPTURE(name);
    std::string readme = readFile(entry.path() / "README.md");
    REQUIRE_MESSAGE(!readme.empty(), "examples/" << name << " has no README.md");
    // The rule for comments comes before the commands, where a reader sees it first.
    CHECK_MESSAGE(readme.find(kExpectMark) < readme.find("```sh"),
                  "examples/" << name << "/README.md does not say before its commands what `# =>` means");
    std::vector<Command> commands = readmeCommands(readme);
    CHECK_MESSAGE(std::any_of(commands.begin(), commands.end(), [](const Command& c) { return !c.expect.empty(); }),
                  "examples/" << name << "/README.md has no ```sh command with a `# => text` to check");
  }
  std::sort(found.begin(), found.end());
  CHECK_MESSAGE(found == kExamples, "examples/ and kExamples in tests/integration/examples_test.cc differ: a new "
                                    "example needs a TEST_CASE there");
}

TEST_CASE("the README commands are read from ```sh blocks, and only # => comments are expected output") {
  std::vector<Command> commands = readmeCommands(
      "text\n```json\n{\"a\": 1}\n```\n```sh\n# a note\n\n  curl localhost:8080/x   # => hello,  world \n"
      "build/gust ps # just a note\n```\n```\nnot a command\n```\n");
  REQUIRE(commands.size() == 2);
  CHECK(commands[0].line == 8);
  CHECK(commands[0].text == "curl localhost:8080/x");
  CHECK(squeezeSpaces(commands[0].expect) == "hello, world");
  CHECK(commands[1].text == "build/gust ps # just a note");
  CHECK(commands[1].expect.empty());
}

TEST_CASE("examples/hello works as its README says") { followReadme("hello"); }

TEST_CASE("examples/orders works as its README says") { followReadme("orders"); }

TEST_CASE("examples/cron-report works as its README says") { followReadme("cron-report"); }
