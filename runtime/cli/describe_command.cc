// gust describe: one app of a running host: its versions, routes, triggers and pool.
#include <cstdio>
#include <string>

#include "runtime/base/names.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/deploy_client.h"
#include "runtime/cli/table.h"

namespace gust::cli {

namespace {

constexpr const char* kDescribeUsage = R"(usage: gust describe APP [--json] [--admin URL] [--data-dir DIR]

Shows one app of a running host: its active version and the versions it can roll back
to, its routes (with their URLs), timers and queue consumers, its worker pool, and the
limits in force for it (cgroups, or limits per worker).

options:
  --json            print the host's answer (GET /v1/apps/APP) as it is, for scripts
{admin options}
  -h, --help        show this help
)";

void printDescription(const nlohmann::json& app) {
  std::printf("app      %s\n", fieldText(app, "name").c_str());
  std::string source = fieldText(app, "source");
  std::printf("version  %s%s\n", fieldText(app, "version").c_str(),
              source == "dir" ? " (served from its folder)" : source == "store" ? " (deployed)" : "");
  std::string base = app.value("http_url", "");
  auto routes = routesFrom(app.value("routes", nlohmann::json::array()));
  if (!routes.empty()) {
    std::printf("routes\n");
    for (const auto& line : routeLines(routes, base)) std::printf("  %s\n", line.c_str());
  }
  if (auto timers = app.value("timers", nlohmann::json::array()); !timers.empty()) {
    std::printf("timers\n");
    for (const auto& t : timers) std::printf("  %s  %s\n", fieldText(t, "function").c_str(), fieldText(t, "schedule").c_str());
  }
  if (auto queues = app.value("queues", nlohmann::json::array()); !queues.empty()) {
    std::printf("queues\n");
    for (const auto& q : queues) std::printf("  %s  <- %s\n", fieldText(q, "function").c_str(), fieldText(q, "queue").c_str());
  }
  if (auto versions = app.value("versions", nlohmann::json::array()); !versions.empty()) {
    std::printf("versions\n");
    Table table({"  VERSION", "CREATED", "SIZE", "ACTIVE"});
    for (const auto& v : versions) {
      table.add({"  " + fieldText(v, "version"), timeText(v, "created_at"), fieldText(v, "size_bytes"),
                 v.value("active", false) ? "yes" : ""});
    }
    std::printf("%s", table.render().c_str());
  }
  if (auto pool = app.value("pool", nlohmann::json::object()); !pool.empty()) {
    std::printf("pool     %d starting, %d idle, %d busy, %d stopping, %d pending; %d cold starts (last %s), %d crashes\n",
                pool.value("starting", 0), pool.value("idle", 0), pool.value("busy", 0), pool.value("stopping", 0),
                pool.value("pending", 0), pool.value("cold_starts", 0), millisText(pool, "last_cold_start_ms").c_str(),
                pool.value("crashes", 0));
    std::string error = pool.value("last_start_error", "");
    if (!error.empty()) std::printf("         last start failed: %s\n", error.c_str());
  }
  if (auto limits = app.value("limits", nlohmann::json::object()); !limits.empty()) {
    std::printf("limits   %s\n", limits.value("summary", "").c_str());
    std::string containment = limits.value("containment", "");
    if (!containment.empty()) std::printf("         %s\n", containment.c_str());
  }
}

}  // namespace

int describeCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kDescribeUsage, 20), 0;
  auto args = Args::parse("describe", commandOptions("describe"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() != 1) return fail("gust describe: give one app name; see `gust describe --help`", kExitUsage);
  const std::string& app = args->positional()[0];
  if (auto valid = validateAppName(app); !valid) return fail("gust describe: " + valid.error().message, kExitUsage);
  auto res = adminCall(adminTarget(*args), "GET", "/v1/apps/" + app);
  if (!res) return fail("gust describe: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust describe: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  printDescription(*body);
  return 0;
}

}  // namespace gust::cli
