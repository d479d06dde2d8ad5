// gust ls: the apps a running host serves, with their active version and functions.
#include <cstdio>
#include <map>
#include <vector>
#include <string>

#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
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
  auto args = Args::parse("ls", commandOptions("ls"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust ls: takes no arguments; see `gust ls --help`", kExitUsage);
  // Chosen once: the choice may read the host records (runtime/host/host_record.h).
  AdminTarget target = adminTarget(*args);
  auto res = adminCall(target, "GET", "/v1/apps");
  if (!res) return fail("gust ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust ls: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& apps = (*body)["apps"];
  if (!apps.is_array() || apps.empty()) {
    std::printf("no apps; deploy one with `gust deploy DIR`\n");
    return 0;
  }
  auto runningIn = [](const nlohmann::json& app) {
    const auto& pool = app.value("pool", nlohmann::json::object());
    return pool.value("idle", 0) + pool.value("busy", 0) + pool.value("starting", 0);
  };
  // On a cluster (docs/scale-out.md) every host serves the same apps: instances are counted
  // over all of them.
  std::map<std::string, int> running;
  std::vector<std::string> host_names;
  if (auto cluster = adminCall(target, "GET", "/v1/cluster"); cluster && cluster->status == 200) {
    auto parsed = nlohmann::json::parse(cluster->body, nullptr, false);
    if (parsed.is_object() && parsed["hosts"].is_array()) {
      for (const auto& host : parsed["hosts"]) {
        host_names.push_back(host.value("name", "?"));
        for (const auto& app : host.value("apps", nlohmann::json::array())) {
          running[app.value("name", "")] += runningIn(app);
        }
      }
    }
  }
  Table table({"APP", "VERSION", "INSTANCES", "FUNCTIONS"});
  for (const auto& app : apps) {
    const int instances = host_names.empty() ? runningIn(app) : running[app.value("name", "")];
    table.add({fieldText(app, "name"), fieldText(app, "version"), std::to_string(instances),
               functionNames(app.value("functions", nlohmann::json::array()))});
  }
  std::printf("%s", table.render().c_str());
  if (!host_names.empty()) {
    std::string names;
    for (const auto& n : host_names) names += (names.empty() ? "" : ", ") + n;
    std::printf("on %zu host%s: %s (`gust ps` shows each one's pools)\n", host_names.size(),
                host_names.size() == 1 ? "" : "s", names.c_str());
  }
  return 0;
}

}  // namespace gust::cli
