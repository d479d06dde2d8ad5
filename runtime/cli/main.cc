// The gust binary: the host, the worker mode, and the developer CLI. A thin shell (STYLE
// 14): it parses arguments, calls the library, and maps results to exit codes. Every
// failure is one line on stderr that says what was wrong and what to do.

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "functions/fork_server.h"
#include "functions/worker_main.h"
#include "gust/abi.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/logging.h"

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
  serve [APP_DIR...]     run the host, serving the given apps
  build [APP_DIR...]     compile an app's sources into its module
  invoke [URL|PATH]      call a function over HTTP and print the answer
  invoke --timer A/F     run a timer function now on the running host
  cron next "EXPR"       print when a schedule fires next
  ps                     show the worker pools of the running host
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
  if (verb == "version" || verb == "--version") {
    std::printf("gust %s (function ABI %d)\n", GUST_VERSION, GUST_ABI_VERSION);
    return 0;
  }
  if (verb == "help" || verb == "--help" || verb == "-h") return std::printf("%s", kUsage), 0;
  std::string message = "gust: unknown command \"" + verb + "\"";
  if (auto close = closestMatch(verb, {"serve", "build", "invoke", "cron", "ps", "version", "help"})) {
    message += " (did you mean \"" + *close + "\"?)";
  }
  return fail(message + "; run `gust --help` for the list", kExitUsage);
}

}  // namespace
}  // namespace gust::cli

int main(int argc, char** argv) { return gust::cli::run(argc, argv); }
