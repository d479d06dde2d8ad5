// gust init: writes a new function project that builds and runs as it is.
#include <cstdio>
#include <string>

#include "runtime/cli/app_templates.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"

namespace gust::cli {

namespace {

constexpr const char* kInitUsage = R"(usage: gust init NAME [--template http|timer|queue] [--dir DIR]

Creates a function project in DIR (default: ./NAME): gust.json, main.cpp written against
the Gust SDK, a .gitignore and a README. It builds as it is: `cd NAME && gust dev`.

NAME is the app's name: 1 to 63 lower-case letters, digits, '-' or '_', starting with a
letter. DIR must not exist yet, or be empty.

templates:
  http     a GET route that answers with a greeting (the default)
  timer    a function that runs every minute
  queue    a POST route that queues jobs, and a consumer that acks each one

options:
  --template T   which project to start from (default http)
  --dir DIR      where to write it (default ./NAME)
  -h, --help     show this help
)";

}  // namespace

int initCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kInitUsage), 0;
  auto args = Args::parse("init", commandOptions("init"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() != 1) {
    return fail("gust init: give the app's name, such as `gust init hello`; see `gust init --help`", kExitUsage);
  }
  const std::string& name = args->positional()[0];
  std::string kind = args->get("--template").value_or("http");
  auto files = renderTemplate(kind, name);
  if (!files) return fail("gust init: " + files.error().message, kExitUsage);
  std::string dir = args->get("--dir").value_or(name);
  if (auto written = writeProject(dir, *files); !written) return fail("gust init: " + written.error().message);
  std::printf("created %s (%s template) in %s:\n", name.c_str(), kind.c_str(), dir.c_str());
  for (const auto& f : *files) std::printf("  %s\n", f.path.c_str());
  std::printf("next: cd %s && gust dev\n", dir.c_str());
  return 0;
}

}  // namespace gust::cli
