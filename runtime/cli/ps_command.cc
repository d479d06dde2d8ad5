// gust ps: the pools of a running host: instances by state, pending, cold starts, crashes;
// on a cluster (docs/scale-out.md), those of every host, each row under its host's name.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"

namespace gust::cli {

namespace {

constexpr const char* kPsUsage = R"(usage: gust ps [--json] [--admin URL] [--data-dir DIR]

Shows each app's worker pool on a running host: instances starting, idle and busy, pending
invocations, cold starts (and the last one's duration), crashes, why the last start
failed, if one did, and the limits in force for the app (cgroups, or limits per worker).
On a host of a cluster (--backend), every host's pools, each under the host's name.

options:
  --json            print the host's answer as JSON, for scripts
{admin options}
  -h, --help        show this help
)";

}  // namespace

int psCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kPsUsage, 20), 0;
  auto args = Args::parse("ps", commandOptions("ps"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust ps: takes no arguments; see `gust ps --help`", kExitUsage);
  // Chosen once: the choice may read the host records (runtime/host/host_record.h).
  AdminTarget target = adminTarget(*args);
  auto res = adminCall(target, "GET", "/v1/apps");
  if (!res) return fail("gust ps: " + res.error().message);
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || !body.is_object() || !body.contains("apps")) {
    return fail("gust ps: the host answered " + std::to_string(res->status) + ": " + res->body.substr(0, 200));
  }
  // A host of a cluster knows every host's pools; a host alone has no such route (404).
  nlohmann::json hosts = nlohmann::json::array();
  if (auto cluster = adminCall(target, "GET", "/v1/cluster"); cluster && cluster->status == 200) {
    auto parsed = nlohmann::json::parse(cluster->body, nullptr, false);
    if (parsed.is_object() && parsed["hosts"].is_array()) hosts = parsed["hosts"];
  }
  if (args->has("--json")) {
    if (!hosts.empty()) body["hosts"] = hosts;
    std::printf("%s\n", body.dump(2).c_str());
    return 0;
  }
  if (hosts.empty()) {
    hosts.push_back(body);  // this host alone, unnamed
  }
  const bool clustered = hosts.size() > 1 || hosts[0].contains("name");
  std::printf("%s%-20s %8s %5s %5s %8s %6s %11s %8s  %s\n", clustered ? "HOST                      " : "", "APP",
              "STARTING", "IDLE", "BUSY", "STOPPING", "PENDING", "COLD STARTS", "CRASHES", "LAST COLD START");
  for (const auto& host : hosts) {
    std::string name = host.value("name", "");
    if (clustered && host.value("self", false)) name += " *";
    for (const auto& app : host.value("apps", nlohmann::json::array())) {
      const auto& p = app["pool"];
      std::string last = p.value("cold_starts", 0) > 0 ? std::to_string(p.value("last_cold_start_ms", 0.0)) : "-";
      if (last != "-") last = last.substr(0, last.find('.') + 2) + " ms";
      if (clustered) std::printf("%-25s ", name.c_str());
      std::printf("%-20s %8d %5d %5d %8d %6d %11d %8d  %s\n", app.value("name", "?").c_str(), p.value("starting", 0),
                  p.value("idle", 0), p.value("busy", 0), p.value("stopping", 0), p.value("pending", 0),
                  p.value("cold_starts", 0), p.value("crashes", 0), last.c_str());
      const char* indent = clustered ? "                          " : "";
      std::string error = p.value("last_start_error", "");
      if (!error.empty()) std::printf("%s%-20s last start failed: %s\n", indent, "", error.c_str());
      if (auto limits = app.value("limits", nlohmann::json::object()); !limits.empty()) {
        std::printf("%s%-20s limits: %s\n", indent, "", limits.value("summary", "").c_str());
      }
    }
  }
  return 0;
}

}  // namespace gust::cli
