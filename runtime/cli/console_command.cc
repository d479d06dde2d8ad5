// gust console: a one-time login link to a host's browser console, opened in the browser.
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/console_proxy.h"

extern char** environ;

namespace gust::cli {

namespace {

constexpr const char* kConsoleUsage = R"(usage: gust console [--no-open] [--port N] [--admin URL] [--data-dir DIR]

Prints a one-time login link to the browser console of a running host, and opens it with
xdg-open when stdout is a terminal. The link holds a code, not the admin token: it opens
one session within 60 seconds and is useless after (docs/console.md).

A host started with --admin-listen serves the console on that address. A host with only
its admin socket cannot be reached by a browser: gust console then serves it on
http://127.0.0.1:PORT itself, forwarding to the socket, until Ctrl-C.

options:
{admin options}
  --no-open         print the link only
  --port N          with the admin socket: the local port to serve on (default: a free one)
  -h, --help        show this help
)";

// Opens `url` in the user's browser, when xdg-open is there; a failure to open is no error,
// the printed link is the answer. SIGCHLD is ignored so that it needs no wait.
void openInBrowser(const std::string& url) {
  std::signal(SIGCHLD, SIG_IGN);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::string program = "xdg-open";
  char* argv[] = {program.data(), const_cast<char*>(url.c_str()), nullptr};
  pid_t pid = 0;
  posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
}

}  // namespace

int consoleCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kConsoleUsage, 20), 0;
  auto args = Args::parse("console", commandOptions("console"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust console takes no arguments; see `gust console --help`", kExitUsage);
  int port = 0;
  if (auto text = args->get("--port")) {
    auto parsed = parsePort(*text);
    if (!parsed) return fail("gust console: --port: " + parsed.error().message, kExitUsage);
    port = *parsed;
  }
  AdminTarget target = adminTarget(*args);
  AdminRequest request;
  request.method = "POST";
  request.path = "/v1/console/links";
  auto res = adminSend(target, request);
  if (!res) return fail("gust console: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust console: " + body.error().message);
  std::string path = body->value("path", "");
  bool open = !args->has("--no-open") && ::isatty(STDOUT_FILENO);

  // The CLI's own TCP address reaches the host from this machine's browser as well.
  std::string base = target.url.starts_with("http://") ? target.url : body->value("admin_url", "");
  while (base.ends_with("/")) base.pop_back();
  if (!base.empty()) {
    std::printf("%s%s\n(one-time link, valid %d s)\n", base.c_str(), path.c_str(), body->value("expires_in_s", 60));
    if (open) openInBrowser(base + path);
    return 0;
  }
  auto served = runConsoleProxy(target, port, [&](int bound) {
    std::string url = "http://127.0.0.1:" + std::to_string(bound) + path;
    std::printf("%s\n(one-time link, valid %d s)\nserving the console of %s on http://127.0.0.1:%d until Ctrl-C\n",
                url.c_str(), body->value("expires_in_s", 60), adminAddress(target).c_str(), bound);
    std::fflush(stdout);
    if (open) openInBrowser(url);
  });
  if (!served) return fail("gust console: " + served.error().message);
  return 0;
}

}  // namespace gust::cli
