// gust rollback: makes an earlier version of an app the active one.
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

constexpr const char* kRollbackUsage = R"(usage: gust rollback APP [VERSION] [--admin URL] [--data-dir DIR]

Makes VERSION (default: the version before the active one) the active version of APP on
a running host. The swap is the same as a deploy's: the version starts, takes new
requests, and the one it replaces finishes what it was doing. `gust describe APP` lists
the versions.

options:
{admin options}
  -h, --help        show this help
)";

}  // namespace

int rollbackCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kRollbackUsage, 20), 0;
  auto args = Args::parse("rollback", commandOptions("rollback"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const auto& pos = args->positional();
  if (pos.empty() || pos.size() > 2) {
    return fail("gust rollback: give the app and, optionally, the version; see `gust rollback --help`", kExitUsage);
  }
  if (auto valid = validateAppName(pos[0]); !valid) return fail("gust rollback: " + valid.error().message, kExitUsage);
  AdminRequest request;
  request.method = "POST";
  request.path = "/v1/apps/" + pos[0] + "/rollback";
  if (pos.size() == 2) {
    if (auto valid = validateVersionName(pos[1]); !valid) return fail("gust rollback: " + valid.error().message, kExitUsage);
  }
  if (pos.size() == 2) request.body = nlohmann::json{{"version", pos[1]}}.dump();
  auto res = adminSend(adminTarget(*args), request);
  if (!res) return fail("gust rollback: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust rollback: " + body.error().message);
  std::printf("%s is at %s now (swapped in %s)\n", pos[0].c_str(), fieldText(*body, "version").c_str(),
              millisText(*body, "took_ms").c_str());
  return 0;
}

}  // namespace gust::cli
