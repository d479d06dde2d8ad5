// gust serve: parses the host's options and runs it.
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/duration.h"
#include "runtime/host.h"

namespace gust::cli {

constexpr const char* kServeUsage = R"(usage: gust serve [APP_DIR...] [options]

Serves the apps in APP_DIR... (default: the current folder) on one HTTP listener. Each app
folder holds a gust.json and its built module (see `gust build`).

options:
  --host ADDR          address to listen on (default 127.0.0.1)
  --port N, -p N       port to listen on (default 8080; 0 picks a free port and prints it)
  --admin-host ADDR    address of the admin API (default 127.0.0.1; binding elsewhere is explicit)
  --admin-port N       port of the admin API (default 8081; 0 picks a free port)
  --data-dir DIR       where the host keeps its state (default ./.gust, or $GUST_DATA)
  --max-body BYTES     largest request body accepted (default 4194304)
  --drain-timeout D    how long SIGTERM/SIGINT waits for in-flight requests (default 10s)
  --log-level LEVEL    debug, info, warn or error (default info)
  --worker-user USER   run workers as USER when the host runs as root (default nobody);
                       workers always get their own PID namespace
  -h, --help           show this help
)";

// Workers of a root host run as an unprivileged user, so user code cannot signal the host.
namespace {

Result<WorkerContainment> containmentFor(const std::optional<std::string>& user) {
  WorkerContainment c;
  if (geteuid() != 0) {
    if (user) return makeError(ErrorKind::kBadInput, "--worker-user needs the host to run as root");
    return c;
  }
  std::string name = user.value_or("nobody");
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    return makeError(ErrorKind::kBadInput, "no user named \"" + name + "\" for the workers; give an existing one with --worker-user");
  }
  if (pw->pw_uid == 0) {
    return makeError(ErrorKind::kBadInput, "--worker-user must not be root: workers run user code");
  }
  c.drop_user = true;
  c.uid = pw->pw_uid;
  c.gid = pw->pw_gid;
  return c;
}

}  // namespace

int serveCommand(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kServeUsage), 0;
  auto args = Args::parse("serve", {{"--host", "", true}, {"--port", "-p", true}, {"--data-dir", "", true},
                                    {"--max-body", "", true}, {"--drain-timeout", "", true},
                                    {"--log-level", "", true}, {"--worker-user", "", true},
                                    {"--admin-host", "", true}, {"--admin-port", "", true}},
                          argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  HostOptions options;
  options.executable = self;
  if (auto host = args->get("--host")) options.http_host = *host;
  if (auto port = args->get("--port")) {
    auto p = parsePort(*port);
    if (!p) return fail("gust serve: " + p.error().message, kExitUsage);
    options.http_port = *p;
  }
  if (auto host = args->get("--admin-host")) options.admin_host = *host;
  if (auto port = args->get("--admin-port")) {
    auto p = parsePort(*port);
    if (!p) return fail("gust serve: --admin-port: " + p.error().message, kExitUsage);
    options.admin_port = *p;
  }
  if (const char* data = std::getenv("GUST_DATA"); data && *data) options.data_dir = data;
  if (auto dir = args->get("--data-dir")) options.data_dir = *dir;
  if (auto body = args->get("--max-body")) {
    char* end = nullptr;
    unsigned long long n = std::strtoull(body->c_str(), &end, 10);
    if (body->empty() || *end != '\0' || n == 0 || n > (1ull << 30)) {
      return fail("gust serve: --max-body must be a number of bytes from 1 to 1073741824", kExitUsage);
    }
    options.http_limits.max_body = n;
  }
  if (auto d = args->get("--drain-timeout")) {
    auto parsed = parseDuration(*d);
    if (!parsed) return fail("gust serve: --drain-timeout: " + parsed.error().message, kExitUsage);
    options.drain_timeout = *parsed;
  }
  if (auto level = args->get("--log-level")) {
    auto l = spdlog::level::from_str(*level);
    if (l == spdlog::level::off && *level != "off") {
      return fail("gust serve: --log-level must be debug, info, warn or error", kExitUsage);
    }
    spdlog::set_level(l);
  }
  auto containment = containmentFor(args->get("--worker-user"));
  if (!containment) return fail("gust serve: " + containment.error().message, kExitUsage);
  options.containment = *containment;
  for (const auto& p : args->positional()) options.app_dirs.emplace_back(p);
  if (options.app_dirs.empty()) options.app_dirs.emplace_back(".");
  return runHost(options);
}

}  // namespace gust::cli
