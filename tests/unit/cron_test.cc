#include "runtime/base/cron.h"

#include <date/date.h>
#include <date/tz.h>
#include <doctest/doctest.h>

#include <cctype>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace gust {
namespace {

using SysTime = std::chrono::system_clock::time_point;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

SysTime at(std::string_view iso) {
  auto t = parseIso8601(iso);
  REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.error().message));
  return *t;
}

CronSchedule mustParse(std::string_view expr, std::string_view tz = "") {
  auto s = CronSchedule::parse(expr, tz);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
  return *s;
}

// The next instant after `from`, shown in the schedule's zone ("none" if there is none).
std::string nextAfter(const CronSchedule& s, std::string_view from) {
  auto n = s.next(at(from));
  return n ? formatIso8601(*n, s.zone(), Iso8601Precision::kSeconds) : "none";
}

std::string nextAfter(std::string_view expr, std::string_view tz, std::string_view from) {
  return nextAfter(mustParse(expr, tz), from);
}

// The first `count` instants after `from`, each shown in the schedule's zone.
std::vector<std::string> sequence(std::string_view expr, std::string_view tz, std::string_view from, int count) {
  CronSchedule s = mustParse(expr, tz);
  std::vector<std::string> out;
  SysTime t = at(from);
  for (int i = 0; i < count; ++i) {
    auto n = s.next(t);
    if (!n) break;
    out.push_back(formatIso8601(*n, s.zone()));
    t = *n;
  }
  return out;
}

std::string parseError(std::string_view expr, std::string_view tz = "") {
  auto s = CronSchedule::parse(expr, tz);
  if (s.ok()) return "(accepted)";
  CHECK(s.error().kind == ErrorKind::kBadInput);
  return s.error().message;
}

struct Case {
  const char* expr;
  const char* from;
  const char* expected;
};

void checkTable(const std::vector<Case>& cases, std::string_view tz = "") {
  for (const Case& c : cases) {
    CAPTURE(c.expr);
    CAPTURE(c.from);
    CHECK(nextAfter(c.expr, tz, c.from) == c.expected);
  }
}

TEST_CASE("cron fields: wildcards, values, lists, ranges and steps") {
  checkTable({
      {"* * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
      {"* * * * *", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z"},
      {"* * * * *", "2026-01-01T00:00:59.999Z", "2026-01-01T00:01:00Z"},
      {"*/5 * * * *", "2026-01-01T00:03:00Z", "2026-01-01T00:05:00Z"},
      {"*/5 * * * *", "2026-01-01T00:55:00Z", "2026-01-01T01:00:00Z"},
      {"10-40/10 * * * *", "2026-01-01T00:10:00Z", "2026-01-01T00:20:00Z"},
      {"10-40/10 * * * *", "2026-01-01T00:41:00Z", "2026-01-01T01:10:00Z"},
      {"5/15 * * * *", "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"},
      {"5/15 * * * *", "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z"},
      {"15,45 * * * *", "2026-01-01T00:15:00Z", "2026-01-01T00:45:00Z"},
      {"0,30-31,58/1 * * * *", "2026-01-01T00:31:00Z", "2026-01-01T00:58:00Z"},
      {"0 9-17/4 * * *", "2026-01-01T10:00:00Z", "2026-01-01T13:00:00Z"},
      {"0 9-17/4 * * *", "2026-01-01T17:00:00Z", "2026-01-02T09:00:00Z"},
      {"0 */6 * * *", "2026-01-01T19:00:00Z", "2026-01-02T00:00:00Z"},
      {"59 23 31 12 *", "2026-01-01T00:00:00Z", "2026-12-31T23:59:00Z"},
      {"0 0 1 * *", "2026-01-15T00:00:00Z", "2026-02-01T00:00:00Z"},
      {"0 0 1-7/3 * *", "2026-01-02T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 1 1/5 *", "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"},
      {"0 0 1 */4 *", "2026-06-01T00:00:00Z", "2026-09-01T00:00:00Z"},
  });
}

TEST_CASE("cron month and weekday names are case-insensitive and work in ranges") {
  checkTable({
      {"0 0 * JAN,jul *", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
      {"0 0 1 MAR-may *", "2026-05-02T00:00:00Z", "2027-03-01T00:00:00Z"},
      {"0 0 1 Oct-DEC/2 *", "2026-10-02T00:00:00Z", "2026-12-01T00:00:00Z"},
      {"0 12 * * MON-FRI", "2026-03-06T12:00:00Z", "2026-03-09T12:00:00Z"},  // Friday -> Monday
      {"0 12 * * mon-fri", "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z"},
      {"0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},  // 7 is Sunday
      {"0 0 * * 0", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * sun", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * 5-7", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * FRI-SUN", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
      {"0 0 * * FRI-SUN", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * FRI-SUN", "2026-01-04T00:00:00Z", "2026-01-09T00:00:00Z"},
      {"0 0 * * */2", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},  // Sun, Tue, Thu, Sat
  });
  CHECK(sequence("0 0 * * FRI-SUN", "", "2026-01-01T00:00:00Z", 4) ==
        std::vector<std::string>{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
                                 "2026-01-09T00:00:00Z"});
}

TEST_CASE("cron skips days a month does not have and keeps Feb 29 to leap years") {
  checkTable({
      {"0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
      {"0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
      {"0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"},
      {"0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
      {"0 0 29 2 *", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
      {"0 0 28-31 2 *", "2027-02-28T00:00:00Z", "2028-02-28T00:00:00Z"},
      {"0 0 30 2 *", "2026-01-01T00:00:00Z", "none"},
      {"0 0 31 4,6,9,11 *", "2026-01-01T00:00:00Z", "none"},
  });
}

TEST_CASE("day-of-month and day-of-week follow the Vixie rule") {
  checkTable({
      // Both restricted: either matches. 2026-01-02 is a Friday, 2026-01-13 a Tuesday.
      {"0 0 13 * FRI", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
      {"0 0 13 * FRI", "2026-01-10T00:00:00Z", "2026-01-13T00:00:00Z"},
      {"0 0 13 * FRI", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"},
      {"0 0 1,15 * 0", "2026-01-11T00:00:00Z", "2026-01-15T00:00:00Z"},
      // One is `*` (or `?`): only the other counts.
      {"0 0 13 * *", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
      {"0 0 * * FRI", "2026-01-03T00:00:00Z", "2026-01-09T00:00:00Z"},
      {"0 0 ? * FRI", "2026-01-03T00:00:00Z", "2026-01-09T00:00:00Z"},
      {"0 0 13 * ?", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00Z"},
      // A field starting with `*` counts as unrestricted for the rule, so its own values and
      // the other field must both match: days 1, 11, 21, 31 that are Fridays.
      {"0 0 */10 * FRI", "2026-01-01T00:00:00Z", "2026-05-01T00:00:00Z"},
      {"0 0 */10 * FRI", "2026-05-01T00:00:00Z", "2026-07-31T00:00:00Z"},
  });
  CHECK(sequence("0 0 1,15 * 0", "", "2026-01-01T00:00:00Z", 4) ==
        std::vector<std::string>{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-15T00:00:00Z",
                                 "2026-01-18T00:00:00Z"});
}

TEST_CASE("six fields put seconds first") {
  checkTable({
      {"*/10 * * * * *", "2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z"},
      {"*/10 * * * * *", "2026-01-01T00:00:50Z", "2026-01-01T00:01:00Z"},
      {"30 0 0 1 1 *", "2026-01-01T00:00:00Z", "2026-01-01T00:00:30Z"},
      {"0 0 12 * * *", "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z"},
      {"15,45 30 * * * MON", "2026-01-05T00:30:15Z", "2026-01-05T00:30:45Z"},
      {"* * * * * *", "2026-01-01T00:00:00.5Z", "2026-01-01T00:00:01Z"},
  });
}

TEST_CASE("cron macros expand to their classic schedules") {
  checkTable({
      {"@yearly", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@annually", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@monthly", "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z"},
      {"@weekly", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"@daily", "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"},
      {"@midnight", "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"},
      {"@hourly", "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"},
      {"@DAILY", "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"},
      {"  @hourly  ", "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"},
  });
}

TEST_CASE("@every counts intervals from its anchor") {
  // Without an anchor the grid starts at the Unix epoch.
  CHECK(nextAfter("@every 10s", "", "2026-01-01T00:00:05Z") == "2026-01-01T00:00:10Z");
  CHECK(nextAfter("@every 2h", "", "2026-01-01T01:00:00Z") == "2026-01-01T02:00:00Z");

  CronSchedule s = mustParse("@every 1m30s").withAnchor(at("2026-01-01T00:00:03.250Z"));
  CHECK(s.isInterval());
  CHECK(s.interval() == milliseconds(90'000));
  auto show = [](std::optional<SysTime> t) {
    return t ? formatIso8601(*t, nullptr, Iso8601Precision::kMillis) : "none";
  };
  CHECK(show(s.next(at("2026-01-01T00:00:03.250Z"))) == "2026-01-01T00:01:33.250Z");
  CHECK(show(s.next(at("2026-01-01T00:01:33.250Z"))) == "2026-01-01T00:03:03.250Z");
  CHECK(show(s.next(at("2026-01-01T00:01:33.249Z"))) == "2026-01-01T00:01:33.250Z");
  CHECK(show(s.next(at("2025-12-31T00:00:00Z"))) == "2026-01-01T00:01:33.250Z");  // before the anchor
  CHECK(show(s.previous(at("2026-01-01T00:04:00Z"))) == "2026-01-01T00:03:03.250Z");
  CHECK(show(s.previous(at("2026-01-01T00:01:00Z"))) == "none");

  CronSchedule ms = mustParse("@every 1500ms").withAnchor(at("2026-01-01T00:00:00Z"));
  CHECK(show(ms.next(at("2026-01-01T00:00:02Z"))) == "2026-01-01T00:00:03.000Z");
  CHECK(mustParse("@every 1h1m1s").interval() == milliseconds(3'661'000));
  CHECK(mustParse("@EVERY 1s").interval() == milliseconds(1000));
}

TEST_CASE("previous() finds the last instant at or before a time") {
  CronSchedule s = mustParse("*/15 * * * *");
  CHECK(formatIso8601(*s.previous(at("2026-01-01T10:20:00Z")), nullptr) == "2026-01-01T10:15:00Z");
  CHECK(formatIso8601(*s.previous(at("2026-01-01T10:15:00Z")), nullptr) == "2026-01-01T10:15:00Z");
  CronSchedule leap = mustParse("0 0 29 2 *");
  CHECK(formatIso8601(*leap.previous(at("2027-06-01T00:00:00Z")), nullptr) == "2024-02-29T00:00:00Z");
  CHECK_FALSE(mustParse("0 0 30 2 *").previous(at("2027-06-01T00:00:00Z")).has_value());
}

// America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
TEST_CASE("DST in New York: fixed-hour schedules fire once, shifted out of the gap") {
  const char* ny = "America/New_York";
  checkTable(
      {
          {"30 2 * * *", "2026-03-07T12:00:00-05:00", "2026-03-08T03:30:00-04:00"},
          {"30 2 * * *", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"},
          {"0 2 * * *", "2026-03-07T12:00:00-05:00", "2026-03-08T03:00:00-04:00"},
          {"0 3 * * *", "2026-03-07T12:00:00-05:00", "2026-03-08T03:00:00-04:00"},
          {"59 1 * * *", "2026-03-07T12:00:00-05:00", "2026-03-08T01:59:00-05:00"},
          {"30 1 * * *", "2026-10-31T12:00:00-04:00", "2026-11-01T01:30:00-04:00"},
          {"30 1 * * *", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
          {"30 1 * * *", "2026-11-01T01:10:00-05:00", "2026-11-02T01:30:00-05:00"},  // inside the repeat
          {"0 2 * * *", "2026-10-31T12:00:00-04:00", "2026-11-01T02:00:00-05:00"},
          {"0 0 * * *", "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00"},
      },
      ny);
  CHECK(sequence("*/20 2 * * *", ny, "2026-03-08T00:00:00-05:00", 4) ==
        std::vector<std::string>{"2026-03-08T03:00:00-04:00", "2026-03-08T03:20:00-04:00", "2026-03-08T03:40:00-04:00",
                                 "2026-03-09T02:00:00-04:00"});
  CHECK(sequence("*/15 1 * * *", ny, "2026-11-01T00:00:00-04:00", 5) ==
        std::vector<std::string>{"2026-11-01T01:00:00-04:00", "2026-11-01T01:15:00-04:00", "2026-11-01T01:30:00-04:00",
                                 "2026-11-01T01:45:00-04:00", "2026-11-02T01:00:00-05:00"});
}

TEST_CASE("DST in New York: wildcard-hour schedules follow the real clock") {
  const char* ny = "America/New_York";
  CHECK(
      sequence("*/15 * * * *", ny, "2026-03-08T01:40:00-05:00", 3) ==
      std::vector<std::string>{"2026-03-08T01:45:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00"});
  CHECK(sequence("30 * * * *", ny, "2026-03-08T01:00:00-05:00", 2) ==
        std::vector<std::string>{"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"});
  CHECK(sequence("*/15 * * * *", ny, "2026-11-01T00:50:00-04:00", 10) ==
        std::vector<std::string>{"2026-11-01T01:00:00-04:00", "2026-11-01T01:15:00-04:00", "2026-11-01T01:30:00-04:00",
                                 "2026-11-01T01:45:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:15:00-05:00",
                                 "2026-11-01T01:30:00-05:00", "2026-11-01T01:45:00-05:00", "2026-11-01T02:00:00-05:00",
                                 "2026-11-01T02:15:00-05:00"});
  CHECK(
      sequence("@hourly", ny, "2026-11-01T00:30:00-04:00", 3) ==
      std::vector<std::string>{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"});
}

// Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
TEST_CASE("DST in Berlin: fixed-hour and wildcard-hour schedules") {
  const char* berlin = "Europe/Berlin";
  checkTable(
      {
          {"0 2 * * *", "2026-03-28T12:00:00+01:00", "2026-03-29T03:00:00+02:00"},
          {"30 2 * * *", "2026-03-28T12:00:00+01:00", "2026-03-29T03:30:00+02:00"},
          {"0 30 2 * * *", "2026-03-28T12:00:00+01:00", "2026-03-29T03:30:00+02:00"},
          {"30 2 * * *", "2026-10-24T12:00:00+02:00", "2026-10-25T02:30:00+02:00"},
          {"30 2 * * *", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"},
          {"0 3 * * *", "2026-10-24T12:00:00+02:00", "2026-10-25T03:00:00+01:00"},
          {"@daily", "2026-03-28T12:00:00+01:00", "2026-03-29T00:00:00+01:00"},
          {"0 0 * * *", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"},
      },
      berlin);
  // 02:30 shifted to 03:30 coincides with the real 03:30: one fire.
  CHECK(sequence("30 2,3 * * *", berlin, "2026-03-29T00:00:00+01:00", 2) ==
        std::vector<std::string>{"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"});
  CHECK(sequence("*/30 * * * *", berlin, "2026-10-25T01:50:00+02:00", 5) ==
        std::vector<std::string>{"2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00",
                                 "2026-10-25T02:30:00+01:00", "2026-10-25T03:00:00+01:00"});
  CHECK(
      sequence("@hourly", berlin, "2026-03-29T00:30:00+01:00", 3) ==
      std::vector<std::string>{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"});
  CHECK(sequence("*/20 * 2 * * *", berlin, "2026-10-25T02:59:00+02:00", 4) ==
        std::vector<std::string>{"2026-10-25T02:59:20+02:00", "2026-10-25T02:59:40+02:00", "2026-10-26T02:00:00+01:00",
                                 "2026-10-26T02:00:20+01:00"});
}

TEST_CASE("invalid schedules are refused with the field, the column and the reason") {
  CHECK(parseError("*/0 * * * *") == "schedule \"*/0 * * * *\": minute field at column 1: step must be at least 1");
  CHECK(parseError("0 24 * * *") == "schedule \"0 24 * * *\": hour field at column 3: value 24 is out of range 0-23");
  CHECK(parseError("0 0 32 * *") ==
        "schedule \"0 0 32 * *\": day-of-month field at column 5: value 32 is out of range 1-31");
  CHECK(parseError("0 0 0 * *") ==
        "schedule \"0 0 0 * *\": day-of-month field at column 5: value 0 is out of range 1-31");
  CHECK(parseError("0 0 * 13 *") == "schedule \"0 0 * 13 *\": month field at column 7: value 13 is out of range 1-12");
  CHECK(parseError("0 0 * FOO *") ==
        "schedule \"0 0 * FOO *\": month field at column 7: unknown name \"FOO\" (expected JAN..DEC)");
  CHECK(parseError("0 0 * * 8") ==
        "schedule \"0 0 * * 8\": day-of-week field at column 9: value 8 is out of range 0-7");
  CHECK(parseError("0 0 * * MON-FOO") ==
        "schedule \"0 0 * * MON-FOO\": day-of-week field at column 13: unknown name \"FOO\" (expected SUN..SAT)");
  CHECK(parseError("5-1 * * * *") ==
        "schedule \"5-1 * * * *\": minute field at column 1: range 5-1 runs backwards (ranges do not wrap)");
  CHECK(parseError("0 22-2 * * *") ==
        "schedule \"0 22-2 * * *\": hour field at column 3: range 22-2 runs backwards (ranges do not wrap)");
  CHECK(parseError("1,,2 * * * *") ==
        "schedule \"1,,2 * * * *\": minute field at column 3: unexpected character \",\"");
  CHECK(parseError("1, * * * *") == "schedule \"1, * * * *\": minute field at column 2: a list cannot end with `,`");
  CHECK(parseError("*/ * * * *") ==
        "schedule \"*/ * * * *\": minute field at column 1: a step needs a number after `/`");
  CHECK(parseError("*/61 * * * *") ==
        "schedule \"*/61 * * * *\": minute field at column 1: step 61 is larger than the 60 values of the field");
  CHECK(parseError("0 10-20/0 * * *") ==
        "schedule \"0 10-20/0 * * *\": hour field at column 3: step must be at least 1");
  CHECK(parseError("*5 * * * *") == "schedule \"*5 * * * *\": minute field at column 2: unexpected character \"5\"");
  CHECK(parseError("0 H * * *") ==
        "schedule \"0 H * * *\": hour field at column 3: names are not allowed here, found \"H\"");
  CHECK(parseError("? * * * *") ==
        "schedule \"? * * * *\": minute field at column 1: `?` is only allowed in the day-of-month and "
        "day-of-week fields");
  CHECK(parseError("99999999999 * * * *") ==
        "schedule \"99999999999 * * * *\": minute field at column 1: value 99999999999 is out of range 0-59");
  CHECK(parseError("0 0 * * 1-") ==
        "schedule \"0 0 * * 1-\": day-of-week field at column 11: expected a value at the end of the field");
  CHECK(parseError("70 * * * * *") ==
        "schedule \"70 * * * * *\": second field at column 1: value 70 is out of range 0-59");
  CHECK(parseError("* * * *") ==
        "schedule \"* * * *\": expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds "
        "first), got 4");
  CHECK(parseError("* * * * * * *").find("got 7") != std::string::npos);
  CHECK(parseError("") == "schedule \"\": the schedule is empty");
  CHECK(parseError("   ") == "schedule \"   \": the schedule is empty");
  CHECK(parseError("0 0 * * *\x01") == "schedule \"0 0 * * *\\x01\": unexpected character at column 10");
  CHECK(parseError("@foo") ==
        "schedule \"@foo\": unknown macro \"@foo\" at column 1 (expected @yearly, @annually, @monthly, @weekly, "
        "@daily, @midnight, @hourly or @every)");
  CHECK(parseError("@daily x") == "schedule \"@daily x\": @daily takes no arguments, found \"x\" at column 8");
  CHECK(parseError("@every") == "schedule \"@every\": @every takes one duration, e.g. \"@every 1m30s\"");
  CHECK(parseError("@every 0s") ==
        "schedule \"@every 0s\": @every interval at column 8: the interval must be at least 1s");
  CHECK(parseError("@every 900ms") ==
        "schedule \"@every 900ms\": @every interval at column 8: the interval must be at least 1s");
  // The duration's own message (runtime/base/duration.h) follows the column.
  CHECK(parseError("@every 10").find("schedule \"@every 10\": @every interval at column 8: invalid duration \"10\"") ==
        0);
  CHECK(parseError("@every 5x").find("@every interval at column 8: invalid duration \"5x\": unknown unit") !=
        std::string::npos);
  CHECK(parseError("@every 1.5h").find("@every interval at column 8: invalid duration") != std::string::npos);
  CHECK(parseError("@every m").find("@every interval at column 8: invalid duration") != std::string::npos);
  CHECK(parseError("@every 9000h") ==
        "schedule \"@every 9000h\": @every interval at column 8: the interval is longer than 366 days");
  CHECK(parseError("@every 99999999999999999999h").find("@every interval at column 8") != std::string::npos);

  std::string long_expr(300, '*');
  CHECK(parseError(long_expr) == "schedule is 300 characters long; the limit is 256");
  std::string just_fits = "0 0 * * *" + std::string(kMaxCronExpressionLength - 9, ' ');
  CHECK(CronSchedule::parse(just_fits).ok());
}

TEST_CASE("unknown time zones are refused, known ones are kept by name") {
  std::string message = parseError("* * * * *", "Mars/Base");
  CHECK(message.find("time zone \"Mars/Base\" is not a known IANA time zone") == 0);
  CHECK(parseError("* * * * *", "../../etc/passwd").find("is not a known IANA time zone") != std::string::npos);
  CHECK(parseError("* * * * *", std::string(200, 'A')).find("longer than 128") != std::string::npos);

  CronSchedule berlin = mustParse("0 2 * * *", "Europe/Berlin");
  CHECK(berlin.timeZone() == "Europe/Berlin");
  CHECK(berlin.expression() == "0 2 * * *");
  CHECK(berlin.zone() != nullptr);
  CronSchedule utc = mustParse("0 2 * * *");
  CHECK(utc.timeZone() == "UTC");
  CHECK(utc.zone() == nullptr);
  CHECK(mustParse("0 2 * * *", "UTC").zone() == nullptr);
  CHECK(mustParse("0 2 * * *", "US/Eastern").zone() != nullptr);  // links resolve too
}

TEST_CASE("ISO 8601 formatting and parsing") {
  auto berlin = locateTimeZone("Europe/Berlin");
  REQUIRE(berlin.ok());
  auto kolkata = locateTimeZone("Asia/Kolkata");
  REQUIRE(kolkata.ok());
  SysTime t = at("2026-03-29T01:00:00Z");
  CHECK(formatIso8601(t, nullptr) == "2026-03-29T01:00:00Z");
  CHECK(formatIso8601(t, *berlin) == "2026-03-29T03:00:00+02:00");
  CHECK(formatIso8601(t - seconds(1), *berlin) == "2026-03-29T01:59:59+01:00");
  CHECK(formatIso8601(t, *kolkata) == "2026-03-29T06:30:00+05:30");
  CHECK(formatIso8601(at("2026-01-01T00:00:00.0429Z"), nullptr, Iso8601Precision::kMillis) ==
        "2026-01-01T00:00:00.042Z");
  auto ny = locateTimeZone("America/New_York");
  REQUIRE(ny.ok());
  CHECK(formatIso8601(at("2026-01-01T00:00:00Z"), *ny) == "2025-12-31T19:00:00-05:00");

  CHECK(at("2026-03-29T03:00:00+02:00") == t);
  CHECK(at("2026-03-29 01:00:00z") == t);
  CHECK(at("2026-03-29T06:30:00+0530") == t);
  CHECK(at("2026-03-28T20:00:00-05:00") == t);
  CHECK((at("2026-03-29T01:00:00.123456789Z") - t) == std::chrono::nanoseconds(123456789));
  CHECK(at("2024-02-29T00:00:00Z") == SysTime(date::sys_days(date::year(2024) / 2 / 29).time_since_epoch()));

  for (const char* bad :
       {"", "2026-03-29", "2026-03-29T01:00:00", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-29T24:00:00Z",
        "2026-03-29T01:60:00Z", "2026-03-29T01:00:00+24:00", "2026-03-29T01:00:00Zjunk", "26-03-29T01:00:00Z",
        "2026-03-29T01:00:00.Z", "2026-03-29T01:00:00.1234567890Z", "tomorrow", "9999-01-01T00:00:00Z",
        "1800-01-01T00:00:00Z"}) {
    CAPTURE(bad);
    auto r = parseIso8601(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().kind == ErrorKind::kBadInput);
  }
  CHECK(parseIso8601("2026-03-29T01:00:00").error().message.find("add `Z` or an offset") != std::string::npos);
}

// ---- Cross-check against a brute-force matcher ----
//
// The matcher below shares no code with cron.cc: it expands each field naively into a set and
// walks real time one step at a time, asking the zone database about each wall time.

struct BruteSchedule {
  std::vector<std::set<int>> fields;  // second, minute, hour, dom, month, dow
  bool dom_star = false;
  bool dow_star = false;
  bool hour_star = false;
  bool has_seconds = false;
};

int bruteValue(const std::string& text) {
  static const char* kNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  std::string l;
  for (char c : text) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 7; ++i) {
    if (l == kNames[i]) return i;
  }
  for (int i = 0; i < 12; ++i) {
    if (l == kMonths[i]) return i + 1;
  }
  return std::stoi(text);
}

std::set<int> bruteField(const std::string& text, int lo, int hi) {
  std::set<int> out;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) {
    int step = 1;
    auto slash = item.find('/');
    bool stepped = slash != std::string::npos;
    if (stepped) {
      step = std::stoi(item.substr(slash + 1));
      item = item.substr(0, slash);
    }
    int a = lo;
    int b = hi;
    if (item != "*" && item != "?") {
      auto dash = item.find('-');
      if (dash != std::string::npos) {
        a = bruteValue(item.substr(0, dash));
        b = bruteValue(item.substr(dash + 1));
      } else {
        a = bruteValue(item);
        b = stepped ? hi : a;
      }
    }
    for (int v = a; v <= b; v += step) out.insert(v);
  }
  return out;
}

BruteSchedule bruteParse(const std::string& expr) {
  std::vector<std::string> parts;
  std::stringstream in(expr);
  std::string part;
  while (in >> part) parts.push_back(part);
  BruteSchedule s;
  s.has_seconds = parts.size() == 6;
  if (!s.has_seconds) parts.insert(parts.begin(), "0");
  const int lo[] = {0, 0, 0, 1, 1, 0};
  const int hi[] = {59, 59, 23, 31, 12, 6};
  for (int i = 0; i < 6; ++i) s.fields.push_back(bruteField(parts[static_cast<std::size_t>(i)], lo[i], hi[i]));
  if (s.fields[5].count(7)) s.fields[5].insert(0);
  s.dom_star = parts[3][0] == '*' || parts[3][0] == '?';
  s.dow_star = parts[5][0] == '*' || parts[5][0] == '?';
  s.hour_star = parts[2][0] == '*';
  return s;
}

bool bruteMatches(const BruteSchedule& s, date::local_seconds wall) {
  auto day = date::floor<date::days>(wall);
  date::year_month_day ymd{day};
  date::hh_mm_ss<seconds> tod{wall - day};
  int dow = static_cast<int>(date::weekday(day).c_encoding());
  bool dom_ok = s.fields[3].count(static_cast<int>(static_cast<unsigned>(ymd.day()))) > 0;
  bool dow_ok = s.fields[5].count(dow) > 0;
  bool day_ok = (s.dom_star || s.dow_star) ? (dom_ok && dow_ok) : (dom_ok || dow_ok);
  return s.fields[0].count(static_cast<int>(tod.seconds().count())) &&
         s.fields[1].count(static_cast<int>(tod.minutes().count())) &&
         s.fields[2].count(static_cast<int>(tod.hours().count())) &&
         s.fields[4].count(static_cast<int>(static_cast<unsigned>(ymd.month()))) && day_ok;
}

// Whether the brute-force rules fire at real instant t.
bool bruteFires(const BruteSchedule& s, const date::time_zone* zone, date::sys_seconds t) {
  if (zone == nullptr) return bruteMatches(s, date::local_seconds(t.time_since_epoch()));
  date::local_seconds wall(t.time_since_epoch() + zone->get_info(t).offset);
  bool matches = bruteMatches(s, wall);
  if (s.hour_star) return matches;
  if (matches) {
    date::local_info info = zone->get_info(wall);
    if (info.result == date::local_info::unique) return true;
    // In a repeated hour, only the first occurrence.
    if (info.result == date::local_info::ambiguous &&
        t.time_since_epoch() == wall.time_since_epoch() - info.first.offset) {
      return true;
    }
  }
  // A wall time that does not exist fires at wall - (offset before the gap).
  seconds before = zone->get_info(t - hours(3)).offset;
  date::local_seconds shifted(t.time_since_epoch() + before);
  return zone->get_info(shifted).result == date::local_info::nonexistent && bruteMatches(s, shifted);
}

void crossCheck(const std::string& expr, const char* tz, const char* from, hours window) {
  CAPTURE(expr);
  CAPTURE(tz);
  CAPTURE(from);
  CronSchedule schedule = mustParse(expr, tz);
  BruteSchedule brute = bruteParse(expr);
  date::sys_seconds start = date::floor<seconds>(at(from));
  date::sys_seconds end = start + window;
  seconds step = brute.has_seconds ? seconds(1) : seconds(60);

  std::vector<SysTime> expected;
  for (date::sys_seconds t = start + step; t <= end; t += step) {
    if (bruteFires(brute, schedule.zone(), t)) expected.emplace_back(t);
  }
  std::vector<SysTime> actual;
  SysTime t = start;
  while (true) {
    auto n = schedule.next(t);
    if (!n || *n > end) break;
    // An instant that does not move past `t` would loop here for ever.
    REQUIRE_MESSAGE(*n > t, "next() of " << formatIso8601(t, schedule.zone()) << " does not move past it");
    actual.push_back(*n);
    t = *n;
  }
  REQUIRE(actual.size() == expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    CAPTURE(i);
    CHECK(formatIso8601(actual[i], schedule.zone()) == formatIso8601(expected[i], schedule.zone()));
  }
  // Starting between fire instants must land on the same ones.
  for (std::size_t i = 0; i + 1 < expected.size(); i += 7) {
    SysTime mid = expected[i] + (expected[i + 1] - expected[i]) / 2;
    CHECK(schedule.next(mid) == expected[i + 1]);
    CHECK(schedule.previous(mid) == expected[i]);
  }
}

TEST_CASE("next() agrees with a brute-force matcher in UTC and across DST") {
  const std::vector<std::string> minute_exprs = {
      "* * * * *",        "*/7 * * * *",      "0 * * * *",        "30 * * * *",     "0 2 * * *",       "30 2 * * *",
      "30 1 * * *",       "*/15 1 * * *",     "*/15 2 * * *",     "0 1-3 * * *",    "15,45 */2 * * *", "0 0 * * *",
      "59 23 * * *",      "0 0 1 * *",        "0 12 * * MON-FRI", "0 0 13 * FRI",   "0 0 */2 * SUN",   "0 0 1,15 * 0",
      "5/15 10-20 * * *", "0 0 28-31 * *",    "0 0 29 2 *",       "*/20 2,3 * * *", "0 3 * * 0",       "45 1 1 11 *",
      "0 0,12 8 3 *",     "10-40/10 * * * *", "0 2 * 3 SUN",      "0 */3 * * *",    "0 1,2 * * *",     "30 2,3 * * *",
      "0 0 ? * 1-5",      "*/10 0-4 * * *",   "0 2 29 3 *",       "0 2 25 10 *",    "20 1 * NOV sun",
  };
  struct Window {
    const char* tz;
    const char* from;
  };
  const std::vector<Window> windows = {
      {"", "2026-02-26T00:00:00Z"},  // the end of February
      {"", "2028-02-27T00:00:00Z"},  // a leap day
      {"America/New_York", "2026-03-06T00:00:00Z"},
      {"America/New_York", "2026-10-30T00:00:00Z"},
      {"Europe/Berlin", "2026-03-27T00:00:00Z"},
      {"Europe/Berlin", "2026-10-23T00:00:00Z"},
  };
  for (const Window& w : windows) {
    for (const std::string& expr : minute_exprs) crossCheck(expr, w.tz, w.from, hours(24 * 5));
  }

  const std::vector<std::string> second_exprs = {
      "*/20 * * * * *", "0 */30 * * * *", "30 0 2 * * *", "0 30 1 * * *", "*/30 * 1 * * *", "*/45 59 * * * *",
  };
  const std::vector<Window> short_windows = {
      {"", "2026-03-08T00:00:00Z"},
      {"America/New_York", "2026-03-08T05:00:00Z"},
      {"America/New_York", "2026-11-01T04:00:00Z"},
      {"Europe/Berlin", "2026-10-24T23:00:00Z"},
  };
  for (const Window& w : short_windows) {
    for (const std::string& expr : second_exprs) crossCheck(expr, w.tz, w.from, hours(5));
  }
}

}  // namespace
}  // namespace gust
