// gust logs: an app's log lines from a running host; --follow keeps long-polling for more.
#include <signal.h>
#include <unistd.h>

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

constexpr const char* kLogsUsage = R"(usage: gust logs APP [--follow] [--json] [--admin URL] [--data-dir DIR]

Prints the log lines the host keeps for APP, one per line:

  TIME  FUNCTION  INVOCATION_ID  TEXT

(what the functions wrote with ctx.log and to stdout/stderr, and what the host said about
them). With --follow, waits for new lines and prints them as they come, until Ctrl-C.

options:
  -f, --follow      keep printing new lines
  --json            print each line as the host sent it: one JSON object per line
{admin options}
  -h, --help        show this help
)";

constexpr int kPageLines = 1000;
constexpr int kWaitMs = 25'000;  // below the host's 30 s cap

// Ctrl-C while following is the normal way out: everything printed is already flushed.
void exitQuietly(int) { _exit(0); }

void printLine(const nlohmann::json& line, bool as_json) {
  if (as_json) {
    std::printf("%s\n", line.dump().c_str());
    return;
  }
  std::string text = fieldText(line, "text");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::printf("%s %s %s %s\n", timeText(line, "ts").c_str(), fieldText(line, "function").c_str(),
              fieldText(line, "invocation_id").c_str(), text.c_str());
}

}  // namespace

int logsCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kLogsUsage, 20), 0;
  auto args = Args::parse("logs", commandOptions("logs"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() != 1) return fail("gust logs: give one app name; see `gust logs --help`", kExitUsage);
  const std::string& app = args->positional()[0];
  if (auto valid = validateAppName(app); !valid) return fail("gust logs: " + valid.error().message, kExitUsage);
  bool follow = args->has("--follow");
  bool as_json = args->has("--json");
  AdminTarget target = adminTarget(*args);
  if (follow) {
    struct sigaction action {};
    action.sa_handler = exitQuietly;
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
  }
  int64_t after = 0;
  bool caught_up = false;
  for (;;) {
    std::string path = "/v1/apps/" + app + "/logs?after=" + std::to_string(after) + "&limit=" + std::to_string(kPageLines);
    // Long-poll only once the backlog is printed, so the first lines come at once.
    if (follow && caught_up) path += "&wait=" + std::to_string(kWaitMs);
    auto res = adminCall(target, "GET", path);
    if (!res) return fail("gust logs: " + res.error().message);
    auto body = jsonAnswer(*res);
    if (!body) return fail("gust logs: " + body.error().message);
    const auto& lines = (*body)["lines"];
    size_t count = lines.is_array() ? lines.size() : 0;
    for (size_t i = 0; i < count; ++i) printLine(lines[i], as_json);
    std::fflush(stdout);
    if (auto next = body->find("next"); next != body->end() && next->is_number_integer()) {
      after = std::max(after, next->get<int64_t>());
    } else if (count > 0) {
      after = std::max(after, lines[count - 1].value("seq", after));
    }
    caught_up = count < static_cast<size_t>(kPageLines);
    if (caught_up && !follow) return 0;
  }
}

}  // namespace gust::cli
