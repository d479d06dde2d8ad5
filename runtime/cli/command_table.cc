#include "runtime/cli/command_table.h"

#include <map>

#include "runtime/host/config.h"

namespace gust::cli {

namespace {

std::vector<OptionSpec> withAdmin(std::vector<OptionSpec> specs) {
  specs.push_back({"--admin", "", true});
  specs.push_back({"--data-dir", "", true});
  return specs;
}

// The options of each command and sub-command, by "verb" or "verb sub". `serve` takes the
// host's settings (runtime/host/config.h), which have a table of their own.
const std::map<std::string, std::vector<OptionSpec>, std::less<>>& optionTable() {
  static const auto* table = new std::map<std::string, std::vector<OptionSpec>, std::less<>>{
      {"init", {{"--template", "-t", true}, {"--dir", "", true}}},
      {"dev", {{"--port", "-p", true}}},
      {"build", {{"--force", "", false}}},
      {"deploy", withAdmin({{"--host", "", true}, {"--json", "", false}})},
      {"ls", withAdmin({{"--json", "", false}})},
      {"describe", withAdmin({{"--json", "", false}})},
      {"rollback", withAdmin({})},
      {"rm", withAdmin({})},
      {"env set", withAdmin({})},
      {"env ls", withAdmin({})},
      {"env rm", withAdmin({})},
      {"keys create", withAdmin({{"--function", "", true}, {"--name", "", true}})},
      {"keys ls", withAdmin({})},
      {"keys revoke", withAdmin({})},
      {"state ls", withAdmin({{"--prefix", "", true}, {"--limit", "", true}})},
      {"state get", withAdmin({})},
      {"logs", withAdmin({{"--follow", "-f", false}, {"--json", "", false}})},
      {"invoke", withAdmin({{"-X", "--request", true},
                            {"-H", "--header", true, true},
                            {"--data", "-d", true},
                            {"--host", "", true},
                            {"--include", "-i", false},
                            {"--timeout", "", true},
                            {"--timer", "", true}})},
      {"invocations", withAdmin({{"--failed", "", false}, {"--limit", "-n", true}, {"--json", "", false}})},
      {"queue send", withAdmin({{"--data", "-d", true},
                                {"--id", "", true},
                                {"--delay", "", true},
                                {"--header", "-H", true, true}})},
      {"queue ls", withAdmin({{"--json", "", false}})},
      {"queue peek", withAdmin({{"--limit", "-n", true}, {"--json", "", false}})},
      {"queue redrive", withAdmin({})},
      {"queue purge", withAdmin({})},
      {"topic ls", withAdmin({{"--json", "", false}})},
      {"topic publish", withAdmin({{"--data", "-d", true}, {"--type", "", true}, {"--id", "", true},
                                   {"--subject", "", true}})},
      {"topic subs", withAdmin({{"--json", "", false}})},
      {"webhook add", withAdmin({{"--type", "", true}})},
      {"webhook ls", withAdmin({{"--json", "", false}})},
      {"webhook rm", withAdmin({})},
      {"console", withAdmin({{"--no-open", "", false}, {"--port", "", true}})},
      {"webhook rotate", withAdmin({})},
      {"connections ls", withAdmin({{"--json", "", false}})},
      {"connections send", withAdmin({{"--data", "-d", true}, {"--binary", "", false}})},
      {"connections close", withAdmin({{"--code", "", true}})},
      {"cron next", {{"-n", "", true}, {"--tz", "", true}, {"--from", "", true}}},
      {"ps", withAdmin({{"--json", "", false}})},
  };
  return *table;
}

}  // namespace

const std::vector<CommandSpec>& commandTable() {
  static const auto* table = new std::vector<CommandSpec>{
      {"init", {{"init", "NAME", "create a function project (--template http|timer|queue)"}}, {}, false},
      {"dev", {{"dev", "[APP_DIR]", "build, serve and reload an app on every save"}}, {}, false},
      {"build", {{"build", "[APP_DIR...]", "compile an app's sources into its module"}}, {}, false},
      {"deploy", {{"deploy", "[APP_DIR]", "build an app and deploy it to a running host"}}, {}, true},
      {"serve", {{"serve", "[APP_DIR...]", "run the host, serving the given apps"}}, {}, false},
      {"ls", {{"ls", "", "list the apps of the running host"}}, {}, true},
      {"describe", {{"describe", "APP", "show an app's versions, routes, triggers and pool"}}, {}, true},
      {"rollback", {{"rollback", "APP [VERSION]", "make an earlier version the active one"}}, {}, true},
      {"rm", {{"rm", "APP", "remove an app and its versions from the host"}}, {}, true},
      {"env", {{"env", "<command> APP", "set, ls, rm: an app's own variables and secrets"}}, {"set", "ls", "rm"}, true},
      {"keys",
       {{"keys", "<command> APP", "create, ls, revoke: keys for functions with \"auth\": \"key\""}},
       {"create", "ls", "revoke"},
       true},
      {"state", {{"state", "<command> APP", "ls, get: what an app's functions keep in ctx.state()"}}, {"ls", "get"}, true},
      {"logs", {{"logs", "APP [--follow]", "print an app's log lines"}}, {}, true},
      {"invoke",
       {{"invoke", "[URL|PATH]", "call a function over HTTP and print the answer"},
        {"invoke", "--timer A/F", "run a timer function now on the running host"}},
       {},
       true},
      {"invocations",
       {{"invocations", "[APP]", "list recent invocations; `invocations show ID` for one"}},
       {},
       true},
      {"queue",
       {{"queue", "<command>", "send, ls, peek, redrive, purge: the host's queues"}},
       {"send", "ls", "peek", "redrive", "purge"},
       true},
      {"topic", {{"topic", "<command>", "ls, publish, subs: the host's topics and their subscriptions"}},
       {"ls", "publish", "subs"},
       true},
      {"webhook", {{"webhook", "<command>", "add, ls, rm, rotate: external URLs subscribed to a topic"}},
       {"add", "ls", "rm", "rotate"},
       true},
      {"connections", {{"connections", "<command>", "ls, send, close: the host's open WebSocket connections"}},
       {"ls", "send", "close"},
       true},
      {"cron", {{"cron", "next \"EXPR\"", "print when a schedule fires next"}}, {"next"}, false},
      {"ps", {{"ps", "", "show the worker pools of the running host"}}, {}, true},
      {"console", {{"console", "", "open the host's browser console with a one-time login link"}}, {}, true},
      {"version", {{"version", "", "print the version of gust and of its function ABI"}}, {}, false},
      {"completion", {{"completion", "bash|zsh", "print a shell completion script (see --help)"}}, {"bash", "zsh"}, false},
      {"man", {{"man", "", "print the manual page, gust(1), as roff"}}, {}, false},
  };
  return *table;
}

std::vector<std::string> commandNames() {
  std::vector<std::string> names;
  for (const auto& c : commandTable()) names.push_back(c.name);
  return names;
}

std::vector<std::string> subcommandsOf(std::string_view verb) {
  for (const auto& c : commandTable()) {
    if (c.name == verb) return c.subcommands;
  }
  return {};
}

std::vector<OptionSpec> commandOptions(std::string_view command) {
  if (command == "serve") {
    std::vector<OptionSpec> specs;
    for (const auto& s : hostSettings()) {
      if (!s.flag.empty()) specs.push_back({s.flag, s.short_flag, !s.value_name.empty()});
    }
    return specs;
  }
  auto it = optionTable().find(command);
  return it == optionTable().end() ? std::vector<OptionSpec>{} : it->second;
}

const std::vector<OptionSpec>& globalOptions() {
  static const auto* options = new std::vector<OptionSpec>{{"--verbose", "-v", false}};
  return *options;
}

std::string overviewUsage() {
  std::string out = R"(usage: gust [-v] <command> [arguments]

Gust runs native functions: C++ compiled to shared objects, served over HTTP by a libuv
host that runs each app in its own worker processes.

commands:
)";
  constexpr size_t kColumn = 25;
  for (const auto& command : commandTable()) {
    for (const auto& line : command.lines) {
      std::string left = "  " + line.name + (line.arguments.empty() ? "" : " " + line.arguments);
      left.resize(std::max(left.size() + 1, kColumn), ' ');
      out += left + line.summary + "\n";
    }
  }
  out += R"(
global options (before the command):
  -v, --verbose          say which host a command talks to, and why that one

Run `gust <command> --help` for a command's options.
)";
  return out;
}

}  // namespace gust::cli
