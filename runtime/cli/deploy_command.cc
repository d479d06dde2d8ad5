// gust deploy: builds an app if its sources changed, uploads it to a running host, and
// prints the new version and where its routes answer.

#include <cstdio>
#include <optional>
#include <string>

#include "runtime/cli/builder.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/deploy_client.h"
#include "runtime/cli/progress_line.h"
#include "runtime/cli/progress_notice.h"

namespace gust::cli {

namespace {

// Past this size an upload shows how far it has gone (issue 18: feedback on long work).
constexpr size_t kShowUploadProgressFrom = 1u << 20;

constexpr const char* kDeployUsage = R"(usage: gust deploy [APP_DIR] [--host URL] [--data-dir DIR] [--json]

Builds the app in APP_DIR (default: the current folder) if its sources changed, uploads its
gust.json and module to a running host, and prints the new version and its routes. The
host starts the new version beside the active one and swaps them without dropping a
request; if the new version's workers fail to start, the error is printed and the active
version keeps serving.

options:
{admin options}
  --host URL                the same as --admin
  --json                    print the host's answer as JSON
  -h, --help                show this help
)";

}  // namespace

int deployCommand(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kDeployUsage, 28), 0;
  auto args = Args::parse("deploy", commandOptions("deploy"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() > 1) return fail("gust deploy: give one app folder; see `gust deploy --help`", kExitUsage);
  if (args->has("--host") && args->has("--admin")) {
    return fail("gust deploy: --host and --admin are the same option; give one", kExitUsage);
  }
  std::string dir = args->positional().empty() ? "." : args->positional()[0];
  AdminTarget target = adminTarget(*args);

  BuildOptions build_options;
  build_options.executable = self;
  Result<BuildOutcome> built = makeError(ErrorKind::kInternal, "not built");
  {
    ProgressNotice notice("building…");
    built = buildApp(dir, build_options);
  }
  if (!built) return fail("gust deploy: " + built.error().message);
  if (built->rebuilt) std::fprintf(stderr, "built %s in %.1f s\n", built->module.string().c_str(), built->seconds);

  auto upload = readDeployUpload(dir);
  if (!upload) return fail("gust deploy: " + upload.error().message);
  std::optional<ProgressNotice> notice;
  std::optional<TransferProgress> transfer;
  DeployProgress progress;
  progress.uploading = [&notice, &transfer](size_t bytes) {
    // A small module goes in a moment: a line only if it does not.
    if (bytes <= kShowUploadProgressFrom) return notice.emplace("uploading " + formatBytes(bytes) + "…"), void();
    transfer.emplace(stderr, ProgressLine::stderrIsTerminal(), "uploading", "uploaded", bytes);
  };
  progress.sent = [&transfer](size_t bytes) {
    if (transfer) transfer->advance(bytes);
  };
  progress.starting = [&notice, &transfer] {
    notice.reset();
    transfer.reset();  // its last line: "uploaded 4.0 MiB"
    notice.emplace("starting…");
  };
  auto deployed = deployUpload(target, *upload, progress);
  notice.reset();
  if (!deployed) return fail("gust deploy: " + deployed.error().message);
  if (args->has("--json")) {
    std::printf("%s\n", deployed->answer.dump(2).c_str());
    return 0;
  }
  std::printf("deployed %s %s (started in %.0f ms)\n", deployed->app.c_str(), deployed->version.c_str(),
              deployed->took_ms);
  for (const auto& line : routeLines(deployed->routes, deployed->http_url)) std::printf("  %s\n", line.c_str());
  for (const auto& line : deployed->triggers) std::printf("  %s\n", line.c_str());
  if (deployed->http_url.empty() && !deployed->routes.empty()) {
    std::printf("(paths on the host's HTTP address, http://127.0.0.1:8080 unless it was started with --port)\n");
  }
  return 0;
}

}  // namespace gust::cli
