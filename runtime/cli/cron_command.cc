// gust cron next: prints when a schedule fires, so users can check it before deploying.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/base/cron.h"

namespace gust::cli {

namespace {

constexpr const char* kCronUsage = R"(usage: gust cron next "EXPR" [-n N] [--tz ZONE] [--from TIME]

Prints the next N times (default 5) the schedule EXPR fires, in ISO 8601, in the time zone
ZONE (an IANA name such as Europe/Berlin; default UTC), counting from TIME (ISO 8601, such
as 2026-03-29T00:00:00Z; default now).

EXPR is cron with 5 fields (minute hour day-of-month month day-of-week) or 6 fields
(seconds first); lists, ranges, steps, names (JAN, MON), @yearly, @monthly, @weekly,
@daily, @hourly, or @every 10s / @every 1m30s.

options:
  -n N          how many fire times (default 5)
  --tz ZONE     the time zone to count and print in (default UTC)
  --from TIME   count from this time (default now)
  -h, --help    show this help
)";

}  // namespace

int cronCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return std::printf("%s", kCronUsage), 0;
  auto args = Args::parse("cron", commandOptions("cron next"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const auto& pos = args->positional();
  if (pos.size() != 2 || pos[0] != "next") {
    return fail("gust cron: usage: gust cron next \"EXPR\" [-n N] [--tz ZONE] [--from TIME] (quote EXPR)", kExitUsage);
  }
  long count = 5;
  if (auto n = args->get("-n")) {
    char* end = nullptr;
    count = std::strtol(n->c_str(), &end, 10);
    if (n->empty() || *end != '\0' || count < 1 || count > 1000) {
      return fail("gust cron: -n must be a number from 1 to 1000", kExitUsage);
    }
  }
  auto schedule = CronSchedule::parse(pos[1], args->get("--tz").value_or(""));
  if (!schedule) return fail("gust cron: " + schedule.error().message, kExitUsage);
  auto from = std::chrono::system_clock::now();
  if (auto text = args->get("--from")) {
    auto parsed = parseIso8601(*text);
    if (!parsed) return fail("gust cron: --from: " + parsed.error().message, kExitUsage);
    from = *parsed;
  }
  // An @every schedule counts its intervals from the start instant.
  CronSchedule s = schedule->isInterval() ? schedule->withAnchor(from) : *schedule;
  auto t = from;
  for (long i = 0; i < count; ++i) {
    auto next = s.next(t);
    if (!next) {
      if (i == 0) return fail("gust cron: \"" + pos[1] + "\" never fires in the next 5 years");
      break;
    }
    std::printf("%s\n", formatIso8601(*next, s.zone()).c_str());
    t = *next;
  }
  return 0;
}

}  // namespace gust::cli
