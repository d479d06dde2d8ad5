// gust dev: the inner loop. Builds the app, runs a host for it, deploys it, and on every
// saved change rebuilds and deploys again; the host swaps versions without dropping a
// request. A build that fails leaves the last good version serving.
#include <signal.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "functions/manifest.h"
#include "runtime/cli/builder.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/deploy_client.h"
#include "runtime/cli/dev_host.h"
#include "runtime/cli/progress_notice.h"
#include "runtime/cli/source_watcher.h"

namespace gust::cli {

namespace {

constexpr const char* kDevUsage = R"(usage: gust dev [APP_DIR] [--port P]

Runs the app in APP_DIR (default: the current folder) for development: builds it, starts
a host on 127.0.0.1:P (default 8080) with its state in APP_DIR/.gust/dev, deploys the app
and prints its routes. Then it watches the app's sources and gust.json: on every save it
rebuilds and deploys the new version, which takes over without dropping a request, and
prints "reloaded in N ms". When a build fails, the compiler's errors are printed and the
last good version keeps serving. Ctrl-C stops the host and exits.

options:
  --port P, -p P   the host's HTTP port (default 8080; 0 picks a free one)
  -h, --help       show this help
)";

// A snapshot of a hello-sized app costs well under a millisecond; polling often keeps the
// time from a save to its build short (bench/dev_reload).
constexpr auto kPollInterval = std::chrono::milliseconds(100);
// Editors and `git checkout` touch several files in a burst; build once it settles. An
// editor's save (a temp file renamed over the original) is over in far less.
constexpr auto kSettle = std::chrono::milliseconds(100);

volatile std::sig_atomic_t g_stop_signal = 0;
void onStopSignal(int signum) { g_stop_signal = signum; }

using Clock = std::chrono::steady_clock;

class DevLoop {
 public:
  DevLoop(std::string self, std::filesystem::path dir, DevHost& host)
      : self_(std::move(self)), dir_(std::move(dir)), host_(host) {
    target_.url = host.adminUrl();
    target_.data_dir = dir_ / ".gust" / "dev";
  }

  // Builds and deploys; prints the outcome. `force` rebuilds even if the module looks fresh
  // (a change below src/ that the builder's own check does not look at).
  bool buildAndDeploy(bool force, Clock::time_point since) {
    BuildOptions options;
    options.executable = self_;
    options.force = force;
    Result<BuildOutcome> built = makeError(ErrorKind::kInternal, "not built");
    {
      ProgressNotice notice("building…");
      built = buildApp(dir_, options);
    }
    if (!built) {
      std::fprintf(stderr, "gust dev: %s\n", built.error().message.c_str());
      std::printf("build failed; %s\n", serving().c_str());
      std::fflush(stdout);
      return false;
    }
    auto upload = readDeployUpload(dir_);
    if (!upload) {
      std::fprintf(stderr, "gust dev: %s\n", upload.error().message.c_str());
      std::printf("deploy failed; %s\n", serving().c_str());
      std::fflush(stdout);
      return false;
    }
    std::optional<ProgressNotice> notice;
    DeployProgress progress;
    progress.starting = [&notice] { notice.emplace("starting…"); };
    auto deployed = deployUpload(target_, *upload, progress);
    notice.reset();
    if (!deployed) {
      std::fprintf(stderr, "gust dev: %s\n", deployed.error().message.c_str());
      std::printf("deploy failed; %s\n", serving().c_str());
      std::fflush(stdout);
      return false;
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
    bool first = !active_;
    std::string routes_before = routeSummary();
    active_ = std::move(*deployed);
    if (first) {
      std::printf("serving %s %s on %s (built and started in %lld ms)\n", active_->app.c_str(), active_->version.c_str(),
                  host_.httpUrl().c_str(), static_cast<long long>(ms));
    } else {
      std::printf("reloaded in %lld ms (%s %s; built in %.0f ms, the host started it in %.0f ms)\n",
                  static_cast<long long>(ms), active_->app.c_str(), active_->version.c_str(), built->seconds * 1000,
                  active_->took_ms);
    }
    if (first || routeSummary() != routes_before) {
      for (const auto& line : routeLines(active_->routes, host_.httpUrl())) std::printf("  %s\n", line.c_str());
      for (const auto& line : active_->triggers) std::printf("  %s\n", line.c_str());
    }
    std::fflush(stdout);
    return true;
  }

  // Watches until a stop signal or the host's exit; returns the exit status.
  int watch() {
    SourceSnapshot seen = SourceSnapshot::take(dir_);
    std::printf("watching %s for changes (%zu files); Ctrl-C stops\n", dir_.string().c_str(), seen.size());
    std::fflush(stdout);
    for (;;) {
      for (auto slept = Clock::duration::zero(); slept < kPollInterval; slept += std::chrono::milliseconds(20)) {
        if (g_stop_signal) return 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (auto status = host_.exited()) {
        std::fprintf(stderr, "gust dev: the host exited (status %d); its output is above\n", *status);
        return 1;
      }
      SourceSnapshot now = SourceSnapshot::take(dir_);
      if (now == seen) continue;
      for (;;) {
        std::this_thread::sleep_for(kSettle);
        SourceSnapshot again = SourceSnapshot::take(dir_);
        if (again == now) break;
        now = std::move(again);
      }
      auto changed = now.changedSince(seen);
      seen = std::move(now);
      auto since = Clock::now();
      std::string names;
      for (size_t i = 0; i < changed.size() && i < 3; ++i) names += (i ? ", " : "") + changed[i];
      if (changed.size() > 3) names += " and " + std::to_string(changed.size() - 3) + " more";
      std::printf("changed: %s\n", names.c_str());
      std::fflush(stdout);
      buildAndDeploy(true, since);
    }
  }

 private:
  std::string serving() const {
    return active_ ? "still serving " + active_->app + " " + active_->version : "nothing is deployed yet; fix it and save";
  }
  std::string routeSummary() const {
    std::string s;
    if (!active_) return s;
    for (const auto& line : routeLines(active_->routes, "")) s += line + "\n";
    for (const auto& line : active_->triggers) s += line + "\n";
    return s;
  }

  std::string self_;
  std::filesystem::path dir_;
  DevHost& host_;
  AdminTarget target_;
  std::optional<Deployed> active_;
};

}  // namespace

int devCommand(int argc, char** argv, const std::string& self) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kDevUsage), 0;
  auto args = Args::parse("dev", commandOptions("dev"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() > 1) return fail("gust dev: give one app folder; see `gust dev --help`", kExitUsage);
  std::filesystem::path dir = args->positional().empty() ? "." : args->positional()[0];
  DevHostOptions options;
  options.executable = self;
  options.data_dir = dir / ".gust" / "dev";
  if (auto port = args->get("--port")) {
    auto p = parsePort(*port);
    if (!p) return fail("gust dev: " + p.error().message, kExitUsage);
    options.port = *p;
  }
  // Refuse a folder that is not an app before starting anything.
  if (auto manifest = loadManifest(dir); !manifest) return fail("gust dev: " + manifest.error().message);

  struct sigaction action {};
  action.sa_handler = onStopSignal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto started = Clock::now();
  auto host = DevHost::start(options);
  if (!host) return fail("gust dev: " + host.error().message);
  DevLoop loop(self, dir, **host);
  loop.buildAndDeploy(false, started);
  int status = g_stop_signal ? 0 : loop.watch();
  std::printf("stopping the host…\n");
  std::fflush(stdout);
  (*host)->stop();
  return status;
}

}  // namespace gust::cli
