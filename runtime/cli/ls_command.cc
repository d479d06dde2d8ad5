// gust ls: the apps a running host serves, with their active version and functions.
#include <cstdio>
#include <string>

#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/table.h"

namespace gust::cli {

namespace {

constexpr const char* kLsUsage = R"(usage: gust ls [--json] [--admin URL] [--data-dir DIR]

Lists the apps of a running host: name, active version, functions, and instances running.

options:
  --json            print the host's answer (GET /v1/apps) as it is, for scripts
{admin options}
  -h, --help        show this help
)";

std::string functionNames(const nlohmann::json& functions) {
  std::string out;
  if (!functions.is_array()) return "-";
  for (const auto& f : functions) {
    std::string name = f.is_string() ? f.get<std::string>() : fieldText(f, "name");
    out += (out.empty() ? "" : ",") + name;
  }
  return out.empty() ? "-" : out;
}

}  // namespace

int lsCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kLsUsage, 20), 0;
  auto args = Args::parse("ls", {{"--json", "", false}, {"--admin", "", true}, {"--data-dir", "", true}}, argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust ls: takes no arguments; see `gust ls --help`", kExitUsage);
  auto res = adminCall(adminTarget(*args), "GET", "/v1/apps");
  if (!res) return fail("gust ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust ls: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& apps = (*body)["apps"];
  if (!apps.is_array() || apps.empty()) {
    std::printf("no apps; deploy one with `gust deploy DIR`\n");
    return 0;
  }
  Table table({"APP", "VERSION", "INSTANCES", "FUNCTIONS"});
  for (const auto& app : apps) {
    const auto& pool = app.value("pool", nlohmann::json::object());
    int running = pool.value("idle", 0) + pool.value("busy", 0) + pool.value("starting", 0);
    table.add({fieldText(app, "name"), fieldText(app, "version"), std::to_string(running),
               functionNames(app.value("functions", nlohmann::json::array()))});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

}  // namespace gust::cli
