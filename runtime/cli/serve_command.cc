// gust serve: resolves the host's settings (runtime/host/config.h) and runs it.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/host/config.h"
#include "runtime/host/host.h"
#include "runtime/observe/logging.h"

namespace gust::cli {
namespace {

constexpr const char* kServeUsageHead = R"(usage: gust serve [APP_DIR...] [options]

Serves the apps in APP_DIR... (default: the current folder) on one HTTP listener. Each app
folder holds a gust.json and its built module (see `gust build`).

Each setting comes from, in order: its flag, its GUST_* environment variable, the config
file, or its default. In the config file (JSON) a setting's key is its flag without the
leading dashes and with '_' for '-': {"port": 9000, "default_timeout": "5s"}.

options:
)";

// Workers of a root host run as their app's own uid (the Dispatcher hands them out); any
// other host needs a user namespace to give them namespaces of their own.
void completeContainment(WorkerContainment& c) {
  bool root = geteuid() == 0;
  c.drop_user = root;
  c.user_namespace = !root;
}

}  // namespace

int serveCommand(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) {
    std::printf("%s%s  -h, --help                    show this help\n", kServeUsageHead, settingsHelp().c_str());
    return 0;
  }
  std::vector<OptionSpec> specs = commandOptions("serve");
  // Before parsing, which would only call a removed flag unknown.
  for (int i = 0; i < argc; ++i) {
    std::string_view flag = std::string_view(argv[i]).substr(0, std::string_view(argv[i]).find('='));
    if (auto advice = removedSettingAdvice(flag)) {
      return fail("gust serve: " + std::string(flag) + ": " + *advice, kExitUsage);
    }
  }
  auto args = Args::parse("serve", specs, argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  ConfigSources sources;
  sources.env = gustEnvironment();
  for (const auto& spec : specs) {
    if (args->has(spec.name)) sources.flags[spec.name] = spec.takes_value ? *args->get(spec.name) : "true";
  }
  auto options = resolveHostOptions(sources);
  if (!options) return fail("gust serve: " + options.error().message, kExitUsage);
  options->executable = self;
  applyLogSettings(options->log_level, options->log_format);
  completeContainment(options->containment);
  for (const auto& p : args->positional()) options->app_dirs.emplace_back(p);
  // With no folder named, serve the current one if it is an app; otherwise start with only
  // what was deployed (the app store), ready for `gust deploy`.
  std::error_code ec;
  if (options->app_dirs.empty() && std::filesystem::exists("gust.json", ec)) options->app_dirs.emplace_back(".");
  return runHost(*options);
}

}  // namespace gust::cli
