// gust man: prints the manual page gust(1) as roff, made from the command table; the build
// runs it to make the gust.1 that `meson install` installs.
#include <cstdio>

#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/completion.h"

namespace gust::cli {

namespace {

constexpr const char* kManUsage = R"(usage: gust man

Prints the manual page gust(1) as roff: `gust man | man -l -` reads it.

options:
  -h, --help        show this help
)";

}  // namespace

int manCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kManUsage), 0;
  auto args = Args::parse("man", {}, argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust man: takes no arguments", kExitUsage);
  std::printf("%s", manPage(GUST_VERSION).c_str());
  return 0;
}

}  // namespace gust::cli
