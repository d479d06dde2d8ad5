// gust serve: resolves the host's settings (runtime/host/config.h) and runs it.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "runtime/cli/args.h"
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

// Workers of a root host run as an unprivileged user, so user code cannot signal the host.
Result<WorkerContainment> containmentFor(const std::optional<std::string>& user) {
  WorkerContainment c;
  if (geteuid() != 0) {
    if (user) return makeError(ErrorKind::kBadInput, "--worker-user needs the host to run as root");
    return c;
  }
  std::string name = user.value_or("nobody");
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    return makeError(ErrorKind::kBadInput, "no user named \"" + name + "\" for the workers; give an existing one with --worker-user");
  }
  if (pw->pw_uid == 0) {
    return makeError(ErrorKind::kBadInput, "--worker-user must not be root: workers run user code");
  }
  c.drop_user = true;
  c.uid = pw->pw_uid;
  c.gid = pw->pw_gid;
  return c;
}

}  // namespace

int serveCommand(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) {
    std::printf("%s%s  -h, --help                    show this help\n", kServeUsageHead, settingsHelp().c_str());
    return 0;
  }
  std::vector<OptionSpec> specs;
  for (const auto& s : hostSettings()) {
    if (!s.flag.empty()) specs.push_back({s.flag, s.short_flag, !s.value_name.empty()});
  }
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
  auto containment = containmentFor(options->worker_user);
  if (!containment) return fail("gust serve: " + containment.error().message, kExitUsage);
  options->containment = *containment;
  for (const auto& p : args->positional()) options->app_dirs.emplace_back(p);
  // With no folder named, serve the current one if it is an app; otherwise start with only
  // what was deployed (the app store), ready for `gust deploy`.
  std::error_code ec;
  if (options->app_dirs.empty() && std::filesystem::exists("gust.json", ec)) options->app_dirs.emplace_back(".");
  return runHost(*options);
}

}  // namespace gust::cli
