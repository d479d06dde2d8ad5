// gust ps: the pools of a running host: instances by state, pending, cold starts, crashes.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"

namespace gust::cli {

namespace {

constexpr const char* kPsUsage = R"(usage: gust ps [--json] [--admin URL] [--data-dir DIR]

Shows each app's worker pool on a running host: instances starting, idle and busy, pending
invocations, cold starts (and the last one's duration), crashes, why the last start
failed, if one did, and the limits in force for the app (cgroups, or limits per worker).

options:
  --json            print the host's answer as JSON, for scripts
{admin options}
)";

}  // namespace

int psCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kPsUsage, 20), 0;
  auto args = Args::parse("ps", {{"--json", "", false}, {"--admin", "", true}, {"--data-dir", "", true}}, argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust ps: takes no arguments; see `gust ps --help`", kExitUsage);
  auto res = adminCall(adminTarget(*args), "GET", "/v1/apps");
  if (!res) return fail("gust ps: " + res.error().message);
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 200 || !body.is_object() || !body.contains("apps")) {
    return fail("gust ps: the host answered " + std::to_string(res->status) + ": " + res->body.substr(0, 200));
  }
  if (args->has("--json")) {
    std::printf("%s\n", body.dump(2).c_str());
    return 0;
  }
  std::printf("%-20s %8s %5s %5s %8s %6s %11s %8s  %s\n", "APP", "STARTING", "IDLE", "BUSY", "STOPPING", "PENDING",
              "COLD STARTS", "CRASHES", "LAST COLD START");
  for (const auto& app : body["apps"]) {
    const auto& p = app["pool"];
    std::string last = p.value("cold_starts", 0) > 0 ? std::to_string(p.value("last_cold_start_ms", 0.0)) : "-";
    if (last != "-") last = last.substr(0, last.find('.') + 2) + " ms";
    std::printf("%-20s %8d %5d %5d %8d %6d %11d %8d  %s\n", app.value("name", "?").c_str(), p.value("starting", 0),
                p.value("idle", 0), p.value("busy", 0), p.value("stopping", 0), p.value("pending", 0),
                p.value("cold_starts", 0), p.value("crashes", 0), last.c_str());
    std::string error = p.value("last_start_error", "");
    if (!error.empty()) std::printf("%-20s last start failed: %s\n", "", error.c_str());
    if (auto limits = app.value("limits", nlohmann::json::object()); !limits.empty()) {
      std::printf("%-20s limits: %s\n", "", limits.value("summary", "").c_str());
    }
  }
  return 0;
}

}  // namespace gust::cli
