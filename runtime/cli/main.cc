// The gust binary: the host, the worker mode, and the developer CLI. A thin shell (STYLE
// 14): it parses arguments, calls the library, and maps results to exit codes. Every
// failure is one line on stderr that says what was wrong and what to do.

#include <httplib.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <pwd.h>
#include <strings.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "functions/worker_main.h"
#include "gust/abi.h"
#include "runtime/builder.h"
#include "runtime/cli/args.h"
#include "runtime/duration.h"
#include "runtime/host.h"

namespace gust {
namespace {

namespace fs = std::filesystem;

constexpr int kExitUsage = 2;

std::string selfExecutable(const char* argv0) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(argv0) : self.string();
}

int fail(const std::string& message, int status = 1) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return status;
}

bool wantsHelp(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return true;
  }
  return false;
}

// ---- gust serve ----------------------------------------------------------------------

constexpr const char* kServeUsage = R"(usage: gust serve [APP_DIR...] [options]

Serves the apps in APP_DIR... (default: the current folder) on one HTTP listener. Each app
folder holds a gust.json and its built module (see `gust build`).

options:
  --host ADDR          address to listen on (default 127.0.0.1)
  --port N, -p N       port to listen on (default 8080; 0 picks a free port and prints it)
  --data-dir DIR       where the host keeps its state (default ./.gust, or $GUST_DATA)
  --max-body BYTES     largest request body accepted (default 4194304)
  --drain-timeout D    how long SIGTERM/SIGINT waits for in-flight requests (default 10s)
  --log-level LEVEL    debug, info, warn or error (default info)
  --worker-user USER   run workers as USER when the host runs as root (default nobody);
                       workers always get their own PID namespace
  -h, --help           show this help
)";

// Workers of a root host run as an unprivileged user, so user code cannot signal the host.
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

int cmdServe(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kServeUsage), 0;
  auto args = Args::parse("serve", {{"--host", "", true}, {"--port", "-p", true}, {"--data-dir", "", true},
                                    {"--max-body", "", true}, {"--drain-timeout", "", true},
                                    {"--log-level", "", true}, {"--worker-user", "", true}},
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

// ---- gust build ----------------------------------------------------------------------

constexpr const char* kBuildUsage = R"(usage: gust build [APP_DIR...] [--force]

Compiles each app's C++ sources into its module (default: build/<app>.so) against the Gust
SDK. With no build configuration, every *.cpp and *.cc in the app folder and its src/ is
compiled; an app with its own meson.build is built with meson. Sources that have not
changed since the last build are not compiled again.

options:
  --force        rebuild even when the module is up to date
  -h, --help     show this help
)";

int cmdBuild(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kBuildUsage), 0;
  auto args = Args::parse("build", {{"--force", "", false}}, argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  std::vector<std::string> dirs = args->positional();
  if (dirs.empty()) dirs.push_back(".");
  for (const auto& dir : dirs) {
    BuildOptions options;
    options.force = args->has("--force");
    options.executable = self;
    auto built = buildApp(dir, options);
    if (!built) return fail("gust build: " + built.error().message);
    if (built->rebuilt) {
      std::printf("built %s in %.1f s\n", built->module.string().c_str(), built->seconds);
    } else {
      std::printf("%s is up to date\n", built->module.string().c_str());
    }
  }
  return 0;
}

// ---- gust invoke ---------------------------------------------------------------------

constexpr const char* kInvokeUsage = R"(usage: gust invoke [URL|PATH] [options]

Calls a function over HTTP and prints the response status and body. PATH (such as
/hello/world) is resolved against --host.

options:
  -X METHOD             the request method (default GET, or POST with --data)
  -H 'Name: value'      a request header; repeatable
  --data TEXT           the request body; --data @FILE reads it from FILE
  --host URL            where the host listens (default http://127.0.0.1:8080, or $GUST_URL)
  -i, --include         print the response headers too
  --timeout D           give up after this long (default 60s)
  -h, --help            show this help

Exit status: 0 for a 2xx or 3xx answer, 1 otherwise.
)";

int cmdInvoke(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kInvokeUsage), 0;
  auto args = Args::parse("invoke", {{"-X", "--request", true}, {"-H", "--header", true, true}, {"--data", "-d", true},
                                     {"--host", "", true}, {"--include", "-i", false}, {"--timeout", "", true}},
                          argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() > 1) return fail("gust invoke: give one URL or path; see `gust invoke --help`", kExitUsage);
  std::string target = args->positional().empty() ? "/" : args->positional()[0];
  std::string base = "http://127.0.0.1:8080";
  if (const char* env = std::getenv("GUST_URL"); env && *env) base = env;
  if (auto host = args->get("--host")) base = *host;
  std::string path = target;
  if (target.rfind("http://", 0) == 0) {
    size_t slash = target.find('/', 7);
    base = target.substr(0, slash);
    path = slash == std::string::npos ? "/" : target.substr(slash);
  } else if (target.rfind("https://", 0) == 0) {
    return fail("gust invoke: https is not supported; use http:// (the host listens on plain HTTP)", kExitUsage);
  } else if (target.empty() || target[0] != '/') {
    return fail("gust invoke: \"" + target + "\" is neither a URL (http://...) nor a path starting with '/'", kExitUsage);
  }
  std::string body;
  bool has_body = false;
  if (auto data = args->get("--data")) {
    has_body = true;
    if (!data->empty() && (*data)[0] == '@') {
      std::ifstream in(data->substr(1), std::ios::binary);
      if (!in) return fail("gust invoke: cannot read " + data->substr(1) + " (given with --data @FILE)");
      body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
      body = *data;
    }
  }
  std::string method = args->get("-X").value_or(has_body ? "POST" : "GET");
  httplib::Headers headers;
  std::string content_type = "application/octet-stream";
  for (const auto& h : args->all("-H")) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      return fail("gust invoke: header \"" + h + "\" must look like 'Name: value'", kExitUsage);
    }
    std::string name = h.substr(0, colon);
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (strcasecmp(name.c_str(), "content-type") == 0) content_type = value;
    else headers.emplace(name, value);
  }
  std::chrono::milliseconds timeout{60'000};
  if (auto t = args->get("--timeout")) {
    auto parsed = parseDuration(*t);
    if (!parsed) return fail("gust invoke: --timeout: " + parsed.error().message, kExitUsage);
    timeout = *parsed;
  }
  httplib::Client client(base);
  if (!client.is_valid()) return fail("gust invoke: \"" + base + "\" is not a valid http:// address", kExitUsage);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout - secs);
  client.set_read_timeout(secs.count(), usecs.count());
  client.set_write_timeout(secs.count(), usecs.count());
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = headers;
  if (has_body) {
    req.body = body;
    req.set_header("Content-Type", content_type);
  }
  httplib::Result res = client.send(req);
  if (!res) {
    return fail("gust invoke: cannot reach " + base + ": " + httplib::to_string(res.error()) +
                " (is `gust serve` running there?)");
  }
  std::printf("HTTP %d\n", res->status);
  if (args->has("--include")) {
    for (const auto& [k, v] : res->headers) std::printf("%s: %s\n", k.c_str(), v.c_str());
  }
  std::fwrite(res->body.data(), 1, res->body.size(), stdout);
  if (!res->body.empty() && res->body.back() != '\n') std::printf("\n");
  return res->status >= 200 && res->status < 400 ? 0 : 1;
}

// ---- dispatch ------------------------------------------------------------------------

constexpr const char* kUsage = R"(usage: gust <command> [arguments]

Gust runs native functions: C++ compiled to shared objects, served over HTTP by a libuv
host that runs each app in its own worker processes.

commands:
  serve [APP_DIR...]     run the host, serving the given apps
  build [APP_DIR...]     compile an app's sources into its module
  invoke [URL|PATH]      call a function over HTTP and print the answer
  version                print the version of gust and of its function ABI

Run `gust <command> --help` for a command's options.
)";

// Logs go to stderr (stdout carries the command's own output), with UTC timestamps.
void setUpLogging() {
  auto logger = spdlog::stderr_color_mt("gust");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
}

int run(int argc, char** argv) {
  std::string self = selfExecutable(argv[0]);
  setUpLogging();
  if (argc < 2) return std::fprintf(stderr, "%s", kUsage), kExitUsage;
  std::string verb = argv[1];
  int rest_argc = argc - 2;
  char** rest = argv + 2;
  if (verb == "worker") {
    WorkerOptions options;
    if (!parseWorkerArgs(rest_argc, rest, options)) return kExitUsage;
    return runWorker(options);
  }
  if (verb == "serve") return cmdServe(rest_argc, rest, self);
  if (verb == "build") return cmdBuild(rest_argc, rest, self);
  if (verb == "invoke") return cmdInvoke(rest_argc, rest);
  if (verb == "version" || verb == "--version") {
    std::printf("gust %s (function ABI %d)\n", GUST_VERSION, GUST_ABI_VERSION);
    return 0;
  }
  if (verb == "help" || verb == "--help" || verb == "-h") return std::printf("%s", kUsage), 0;
  std::string message = "gust: unknown command \"" + verb + "\"";
  if (auto close = closestMatch(verb, {"serve", "build", "invoke", "version", "help"})) {
    message += " (did you mean \"" + *close + "\"?)";
  }
  return fail(message + "; run `gust --help` for the list", kExitUsage);
}

}  // namespace
}  // namespace gust

int main(int argc, char** argv) { return gust::run(argc, argv); }
