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
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
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

int run(int argc, char** argv) {
  std::string self = selfExecutable(argv[0]);
  // Logs go to stderr (stdout carries the command's own output); `gust serve` switches to
  // its configured format once its settings are read.
  setUpHostLogging(LogFormat::kText);
  int first = 1;
  // `gust --verbose CMD`: say which host the command talks to, and why that one.
  for (; first < argc && (std::strcmp(argv[first], "--verbose") == 0 || std::strcmp(argv[first], "-v") == 0); ++first) {
    setExplainAdminTarget(true);
  }
  if (argc <= first) return std::fprintf(stderr, "%s", overviewUsage().c_str()), kExitUsage;
  std::string verb = argv[first];
  int rest_argc = argc - first - 1;
  char** rest = argv + first + 1;
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
  if (verb == "completion") return completionCommand(rest_argc, rest);
  if (verb == "man") return manCommand(rest_argc, rest);
  if (verb == "version" && wantsHelp(rest_argc, rest)) {
    return std::printf("usage: gust version\n\nPrints the version of gust and of its function ABI.\n\noptions:\n"
                       "  -h, --help    show this help\n"),
           0;
  }
  if (verb == "console") return consoleCommand(rest_argc, rest);
  if (verb == "version" || verb == "--version") {
    std::printf("gust %s (function ABI %d)\n", GUST_VERSION, GUST_ABI_VERSION);
    return 0;
  }
  if (verb == "help" || verb == "--help" || verb == "-h") return std::printf("%s", overviewUsage().c_str()), 0;
  std::string message = "gust: unknown command \"" + verb + "\"";
  std::vector<std::string> known = commandNames();
  known.push_back("help");
  if (auto close = closestMatch(verb, known)) {
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
