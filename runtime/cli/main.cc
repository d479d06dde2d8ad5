// The gust binary: the host, the worker mode, and the developer CLI. A thin shell (STYLE
// 14): it parses arguments, calls the library, and maps results to exit codes. Every
// failure is one line on stderr that says what was wrong and what to do.

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "functions/worker/fork_server.h"
#include "functions/worker/worker_main.h"
#include "gust/abi.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/observe/logging.h"

namespace gust::cli {

int fail(const std::string& message, int status) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return status;
}

bool wantsHelp(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

int unknownSubcommand(const std::string& verb, const std::string& word, const std::vector<std::string>& known) {
  std::string message = "gust " + verb + ": unknown command \"" + word + "\"";
  if (auto close = closestMatch(word, known)) message += " (did you mean \"" + *close + "\"?)";
  return fail(message + "; run `gust " + verb + " --help` for the list", kExitUsage);
}

namespace {

std::string selfExecutable(const char* argv0) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : self.string();
}

constexpr const char* kUsage = R"(usage: gust <command> [arguments]

Gust runs native functions: C++ compiled to shared objects, served over HTTP by a libuv
host that runs each app in its own worker processes.

commands:
  init NAME              create a function project (--template http|timer|queue)
  dev [APP_DIR]          build, serve and reload an app on every save
  build [APP_DIR...]     compile an app's sources into its module
  deploy [APP_DIR]       build an app and deploy it to a running host
  serve [APP_DIR...]     run the host, serving the given apps
  ls                     list the apps of the running host
  describe APP           show an app's versions, routes, triggers and pool
  rollback APP [VERSION] make an earlier version the active one
  rm APP                 remove an app and its versions from the host
  env <command> APP      set, ls, rm: an app's own variables and secrets
  keys <command> APP     create, ls, revoke: keys for functions with "auth": "key"
  state <command> APP    ls, get: what an app's functions keep in ctx.state()
  logs APP [--follow]    print an app's log lines
  invoke [URL|PATH]      call a function over HTTP and print the answer
  invoke --timer A/F     run a timer function now on the running host
  invocations [APP]      list recent invocations; `invocations show ID` for one
  queue <command>        send, ls, peek, redrive, purge: the host's queues
  topic <command>        ls, publish, subs: the host's topics and their subscriptions
  webhook <command>      add, ls, rm, rotate: external URLs subscribed to a topic
  connections <command>  ls, send, close: the host's open WebSocket connections
  cron next "EXPR"       print when a schedule fires next
  ps                     show the worker pools of the running host
  console                open the host's browser console with a one-time login link
  version                print the version of gust and of its function ABI

Run `gust <command> --help` for a command's options.
)";

int run(int argc, char** argv) {
  std::string self = selfExecutable(argv[0]);
  // Logs go to stderr (stdout carries the command's own output); `gust serve` switches to
  // its configured format once its settings are read.
  setUpHostLogging(LogFormat::kText);
  if (argc < 2) return std::fprintf(stderr, "%s", kUsage), kExitUsage;
  std::string verb = argv[1];
  int rest_argc = argc - 2;
  char** rest = argv + 2;
  if (verb == "worker") {
    WorkerOptions options;
    if (!parseWorkerArgs(rest_argc, rest, options)) return kExitUsage;
    return runWorker(options);
  }
  if (verb == "fork-server") {
    ForkServerOptions options;
    if (!parseForkServerArgs(rest_argc, rest, options)) return kExitUsage;
    return runForkServer(options);
  }
  if (verb == "serve") return serveCommand(rest_argc, rest, self);
  if (verb == "build") return buildCommand(rest_argc, rest, self);
  if (verb == "invoke") return invokeCommand(rest_argc, rest);
  if (verb == "cron") return cronCommand(rest_argc, rest);
  if (verb == "ps") return psCommand(rest_argc, rest);
  if (verb == "init") return initCommand(rest_argc, rest);
  if (verb == "deploy") return deployCommand(rest_argc, rest, self);
  if (verb == "dev") return devCommand(rest_argc, rest, self);
  if (verb == "ls") return lsCommand(rest_argc, rest);
  if (verb == "describe") return describeCommand(rest_argc, rest);
  if (verb == "rollback") return rollbackCommand(rest_argc, rest);
  if (verb == "rm") return rmCommand(rest_argc, rest);
  if (verb == "env") return envCommand(rest_argc, rest);
  if (verb == "keys") return keysCommand(rest_argc, rest);
  if (verb == "state") return stateCommand(rest_argc, rest);
  if (verb == "logs") return logsCommand(rest_argc, rest);
  if (verb == "queue") return queueCommand(rest_argc, rest);
  if (verb == "topic") return topicCommand(rest_argc, rest);
  if (verb == "connections") return connectionsCommand(rest_argc, rest);
  if (verb == "webhook") return webhookCommand(rest_argc, rest);
  if (verb == "invocations") return invocationsCommand(rest_argc, rest);
  if (verb == "console") return consoleCommand(rest_argc, rest);
  if (verb == "version" || verb == "--version") {
    std::printf("gust %s (function ABI %d)\n", GUST_VERSION, GUST_ABI_VERSION);
    return 0;
  }
  if (verb == "help" || verb == "--help" || verb == "-h") return std::printf("%s", kUsage), 0;
  std::string message = "gust: unknown command \"" + verb + "\"";
  if (auto close = closestMatch(verb, {"init", "dev", "build", "deploy", "serve", "ls", "describe", "rollback", "rm",
                                         "env", "keys", "state", "logs", "invoke", "invocations", "queue", "topic", "webhook",
                                         "connections", "console", "cron", "ps", "version", "help"})) {
    message += " (did you mean \"" + *close + "\"?)";
  }
  return fail(message + "; run `gust --help` for the list", kExitUsage);
}

}  // namespace
}  // namespace gust::cli

int main(int argc, char** argv) {
  // Commands read JSON from the host with defaults (`value(key, fallback)`), which throws on
  // a field of an unexpected type; that is a host this CLI does not understand, not a crash.
  try {
    return gust::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gust: unexpected answer or state: %s\n", e.what());
    return 1;
  }
}
