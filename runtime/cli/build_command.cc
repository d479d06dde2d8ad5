// gust build: compiles apps into their modules.
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/cli/builder.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"

namespace gust::cli {

constexpr const char* kBuildUsage = R"(usage: gust build [APP_DIR...] [--force]

Compiles each app's C++ sources into its module (default: build/<app>.so) against the Gust
SDK. With no build configuration, every *.cpp and *.cc in the app folder and its src/ is
compiled; an app with its own meson.build is built with meson. Sources that have not
changed since the last build are not compiled again.

The SDK's header is precompiled once per SDK, compiler and flags, into $GUST_CACHE_DIR
(default $XDG_CACHE_HOME/gust or ~/.cache/gust), which makes a small app's build about
twice as fast; GUST_PCH=0 builds without it. GCC only.

options:
  --force        rebuild even when the module is up to date
  -h, --help     show this help
)";

int buildCommand(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kBuildUsage), 0;
  auto args = Args::parse("build", commandOptions("build"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  std::vector<std::string> dirs = args->positional();
  if (dirs.empty()) dirs.push_back(".");
  for (const auto& dir : dirs) {
    BuildOptions options;
    options.force = args->has("--force");
    options.executable = self;
    auto built = buildApp(dir, options);
    if (!built) return fail("gust build: " + built.error().message);
    if (built->rebuilt) {
      std::printf("built %s in %.1f s\n", built->module.string().c_str(), built->seconds);
    } else {
      std::printf("%s is up to date\n", built->module.string().c_str());
    }
  }
  return 0;
}

}  // namespace gust::cli
