// gust invocations: the records of recent invocations on a running host, and one in full.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/base/names.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/table.h"

namespace gust::cli {

namespace {

constexpr const char* kInvocationsUsage = R"(usage: gust invocations [APP] [--failed] [--limit N] [--json]
       gust invocations show ID [--json]

Lists a running host's recent invocations, newest first: id, function, trigger, when it
started, how long it took (and its cold start), and its outcome. `show ID` prints one
record in full, with its log lines and, for an async invocation, its status and response.

options:
  --failed          only invocations that did not succeed
  -n, --limit N     at most N records (default 20, at most 1000)
  --json            print the host's answer as it is, for scripts
{admin options}
  -h, --help        show this help
)";

bool safeId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  }
  return true;
}

std::string coldText(const nlohmann::json& record) {
  if (!record.value("cold_start", false)) return "";
  return "cold " + millisText(record, "cold_start_ms");
}

int show(const Args& args, const std::string& id) {
  if (!safeId(id)) {
    return fail("gust invocations show: \"" + id.substr(0, 64) + "\" is not an invocation id (ids are letters, digits, "
                                                                  "'-' and '_'; list them with `gust invocations`)",
                kExitUsage);
  }
  auto res = adminCall(adminTarget(args), "GET", "/v1/invocations/" + id);
  if (!res) return fail("gust invocations show: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust invocations show: " + body.error().message);
  if (args.has("--json")) return printAnswer(*res), 0;
  const auto& r = *body;
  std::printf("id          %s\n", fieldText(r, "id").c_str());
  std::printf("function    %s/%s\n", fieldText(r, "app").c_str(), fieldText(r, "function").c_str());
  std::printf("trigger     %s\n", fieldText(r, "trigger").c_str());
  std::printf("started     %s\n", timeText(r, "started_at").c_str());
  std::printf("duration    %s%s\n", millisText(r, "duration_ms").c_str(),
              r.value("cold_start", false) ? (" (cold start " + millisText(r, "cold_start_ms") + ")").c_str() : "");
  std::printf("attempt     %s\n", fieldText(r, "attempt").c_str());
  std::printf("outcome     %s\n", fieldText(r, "outcome").c_str());
  if (std::string error = fieldText(r, "error"); error != "-" && !error.empty()) std::printf("error       %s\n", error.c_str());
  if (r.contains("trace_id")) std::printf("trace       %s\n", fieldText(r, "trace_id").c_str());
  if (r.contains("host")) std::printf("host        %s\n", fieldText(r, "host").c_str());
  if (r.contains("status")) std::printf("status      %s\n", fieldText(r, "status").c_str());
  if (auto response = r.find("response"); response != r.end() && response->is_object()) {
    std::printf("response    %s\n", fieldText(*response, "status").c_str());
    std::string text = fieldText(*response, "body");
    if (text != "-") std::printf("%s%s", text.c_str(), !text.empty() && text.back() == '\n' ? "" : "\n");
  }
  if (auto logs = r.find("logs"); logs != r.end() && logs->is_array() && !logs->empty()) {
    std::printf("logs\n");
    for (const auto& line : *logs) {
      std::string text = fieldText(line, "text");
      while (!text.empty() && text.back() == '\n') text.pop_back();
      std::printf("  %s %s %s\n", timeText(line, "ts").c_str(), fieldText(line, "stream").c_str(), text.c_str());
    }
  }
  return 0;
}

}  // namespace

int invocationsCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kInvocationsUsage, 20), 0;
  auto args = Args::parse("invocations", commandOptions("invocations"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const auto& pos = args->positional();
  if (!pos.empty() && pos[0] == "show") {
    if (pos.size() != 2) return fail("gust invocations show: give one invocation id", kExitUsage);
    if (args->has("--failed") || args->has("--limit")) {
      return fail("gust invocations show: --failed and --limit are for the list", kExitUsage);
    }
    return show(*args, pos[1]);
  }
  if (pos.size() > 1) return fail("gust invocations: give at most one app; see `gust invocations --help`", kExitUsage);
  std::string query = "/v1/invocations?limit=";
  int limit = 20;
  if (auto l = args->get("--limit")) {
    char* end = nullptr;
    long n = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n < 1 || n > 1000) {
      return fail("gust invocations: --limit must be a number from 1 to 1000", kExitUsage);
    }
    limit = static_cast<int>(n);
  }
  query += std::to_string(limit);
  if (!pos.empty()) {
    if (auto valid = validateAppName(pos[0]); !valid) return fail("gust invocations: " + valid.error().message, kExitUsage);
    query += "&app=" + pos[0];
  }
  if (args->has("--failed")) query += "&failed=1";
  auto res = adminCall(adminTarget(*args), "GET", query);
  if (!res) return fail("gust invocations: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust invocations: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& records = (*body)["invocations"];
  if (!records.is_array() || records.empty()) {
    std::printf("no invocations%s yet\n", args->has("--failed") ? " failed" : "");
    return 0;
  }
  Table table({"ID", "FUNCTION", "TRIGGER", "STARTED", "DURATION", "COLD", "ATTEMPT", "OUTCOME"});
  for (const auto& r : records) {
    std::string outcome = fieldText(r, "outcome");
    if (std::string error = fieldText(r, "error"); error != "-" && !error.empty()) outcome += ": " + error;
    table.add({fieldText(r, "id"), fieldText(r, "app") + "/" + fieldText(r, "function"), fieldText(r, "trigger"),
               timeText(r, "started_at"), millisText(r, "duration_ms"), coldText(r), fieldText(r, "attempt"), outcome});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

}  // namespace gust::cli
