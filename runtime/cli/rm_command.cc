// gust rm: removes an app from a running host, with all its versions.
#include <cstdio>
#include <string>

#include "runtime/base/names.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/table.h"

namespace gust::cli {

namespace {

constexpr const char* kRmUsage = R"(usage: gust rm APP [--admin URL] [--data-dir DIR]

Removes APP from a running host: its routes stop answering, its triggers stop, its
workers finish what they are doing and exit, and its stored versions and function keys
are deleted. Asks no questions; prints what it removed.

options:
{admin options}
  -h, --help        show this help
)";

// "v1, v2 (active)"; "" when the description has no versions.
std::string versionList(const nlohmann::json& app) {
  std::string out;
  for (const auto& v : app.value("versions", nlohmann::json::array())) {
    out += (out.empty() ? "" : ", ") + fieldText(v, "version") + (v.value("active", false) ? " (active)" : "");
  }
  return out;
}

std::string routeList(const nlohmann::json& app) {
  std::string out;
  for (const auto& r : app.value("routes", nlohmann::json::array())) out += (out.empty() ? "" : ", ") + fieldText(r, "path");
  return out;
}

}  // namespace

int rmCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kRmUsage, 20), 0;
  auto args = Args::parse("rm", commandOptions("rm"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() != 1) return fail("gust rm: give one app name; see `gust rm --help`", kExitUsage);
  const std::string& app = args->positional()[0];
  if (auto valid = validateAppName(app); !valid) return fail("gust rm: " + valid.error().message, kExitUsage);
  AdminTarget target = adminTarget(*args);
  // Read what is there first, so the report names what went away.
  auto described = adminCall(target, "GET", "/v1/apps/" + app);
  if (!described) return fail("gust rm: " + described.error().message);
  auto description = jsonAnswer(*described);
  if (!description) return fail("gust rm: " + description.error().message);
  auto res = adminCall(target, "DELETE", "/v1/apps/" + app);
  if (!res) return fail("gust rm: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust rm: " + body.error().message);
  std::printf("removed %s\n", app.c_str());
  if (auto versions = versionList(*description); !versions.empty()) std::printf("  versions  %s\n", versions.c_str());
  if (auto routes = routeList(*description); !routes.empty()) std::printf("  routes    %s\n", routes.c_str());
  for (const auto& t : description->value("timers", nlohmann::json::array())) {
    std::printf("  timer     %s (%s)\n", fieldText(t, "function").c_str(), fieldText(t, "schedule").c_str());
  }
  for (const auto& q : description->value("queues", nlohmann::json::array())) {
    std::printf("  consumer  %s of %s\n", fieldText(q, "function").c_str(),
                fieldText(q, "queue").c_str());
  }
  if (int keys = body->value("keys_revoked", 0); keys > 0) std::printf("  keys      %d revoked\n", keys);
  return 0;
}

}  // namespace gust::cli
