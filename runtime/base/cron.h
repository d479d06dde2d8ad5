#pragma once
// Cron schedules for the timer trigger: parsing, the next fire instant, and ISO 8601 helpers.
//
// CronSchedule is a value type: copyable, immutable after parse, safe to share between
// threads. It holds a pointer into the process-wide time zone database, which lives until
// exit.
//
// Syntax
//   5 fields: minute hour day-of-month month day-of-week
//   6 fields: second minute hour day-of-month month day-of-week
//   Each field is a comma list of elements: `*`, `N`, `A-B`, each optionally followed by
//   `/STEP`; `N/STEP` means from N to the field's maximum every STEP. Months accept
//   JAN..DEC and weekdays SUN..SAT (any case, also in ranges); weekday 7 is Sunday, and a
//   range that ends in the name SUN (FRI-SUN) ends on that Sunday. `?` means `*` in the two
//   day fields. Ranges do not wrap (22-2 is refused) and a step is 1 up to the number of
//   values in the field.
//   Macros (any case): @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly,
//   and `@every D` where D is a duration as runtime/base/duration.h reads it: integer parts with
//   units h, m, s, ms (`10s`, `1m30s`, `1500ms`); at least 1s and at most 366 days.
//   An expression is at most kMaxCronExpressionLength characters.
//
// Day of month and day of week follow Vixie cron: if either field starts with `*` (or
// `?`), a day must match both fields, which means only the other one counts when its
// partner is a plain `*`; if neither starts with `*`, a day matches when either field
// matches ("0 0 13 * FRI" runs on every 13th and on every Friday).
//
// @every fires at anchor + k * interval for k = 1, 2, ...; the anchor is the Unix epoch
// unless withAnchor() moves it (the scheduler anchors at its start or at the last handled
// instant, so a restart keeps the grid).
//
// Time zones and daylight saving
//   Fields are matched against the wall clock of the schedule's IANA zone (UTC when none
//   is given). Where that wall clock is not one-to-one with real time:
//   - Fixed-hour schedules (the hour field does not start with `*`, e.g. "30 2 * * *",
//     "*/15 1 * * *", @daily): every matching wall time fires once.
//     * A wall time inside a repeated hour (fall back) fires at its first occurrence only.
//     * A wall time inside a skipped hour (spring forward) is shifted forward by the length
//       of the gap, as mktime() and systemd do: in Europe/Berlin on 2026-03-29, 02:30
//       fires at 03:30 CEST (01:30Z). If that coincides with another fire instant, it
//       fires once.
//   - Wildcard-hour schedules (the hour field starts with `*`, e.g. "*/15 * * * *",
//     @hourly) follow the real clock: they fire at every real instant whose wall time
//     matches. In a repeated hour that is both occurrences (so "every 15 minutes" stays
//     every 15 real minutes); wall times inside a skipped hour do not exist and do not
//     fire.
//   Debian's zoneinfo files list transitions up to 2037 only; after that the library
//   applies the last standard offset, so DST is not modelled beyond 2037.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/base/iso8601.h"
#include "runtime/base/result.h"

namespace date {
class time_zone;
}  // namespace date

namespace gust {

inline constexpr std::size_t kMaxCronExpressionLength = 256;

// How far next() looks ahead before it decides a schedule never fires ("0 0 30 2 *").
inline constexpr std::chrono::hours kCronSearchHorizon{24 * (5 * 365 + 2)};

// Resolves an IANA zone name. "" and "UTC" give nullptr, which means UTC everywhere in this
// header. An unknown name is a kBadInput error naming it.
Result<const date::time_zone*> locateTimeZone(std::string_view name);

class CronSchedule {
 public:
  // Refuses invalid input with a kBadInput error of the form
  //   schedule "*/0 * * * *": minute field at column 1: step must be at least 1
  // The column is 1-based in `expr` and points at the first character of the offending
  // token; for a bad step that is the element the step applies to.
  static Result<CronSchedule> parse(std::string_view expr, std::string_view tz = "");

  // The first fire instant strictly after `after`, or nullopt if there is none within
  // kCronSearchHorizon. Cron instants are whole seconds; @every instants whole milliseconds.
  std::optional<std::chrono::system_clock::time_point> next(std::chrono::system_clock::time_point after) const;

  // The last fire instant at or before `at_or_before`, or nullopt if there is none within
  // kCronSearchHorizon (for @every: none since the anchor). Consistent with next().
  std::optional<std::chrono::system_clock::time_point> previous(
      std::chrono::system_clock::time_point at_or_before) const;

  // A copy whose @every intervals count from `anchor` (floored to milliseconds). Cron
  // schedules ignore the anchor.
  CronSchedule withAnchor(std::chrono::system_clock::time_point anchor) const;

  std::string_view expression() const { return expression_; }
  // The zone name as given, or "UTC".
  std::string_view timeZone() const { return zone_name_.empty() ? std::string_view("UTC") : zone_name_; }
  const date::time_zone* zone() const { return zone_; }  // nullptr for UTC
  bool isInterval() const { return interval_.count() > 0; }
  std::chrono::milliseconds interval() const { return interval_; }
  std::chrono::system_clock::time_point anchor() const { return anchor_; }

 private:
  CronSchedule() = default;
  friend class CronParser;

  struct Fields {
    std::uint64_t seconds = 0;  // bit i: second i
    std::uint64_t minutes = 0;  // bit i: minute i
    std::uint32_t hours = 0;    // bit i: hour i
    std::uint32_t days = 0;     // bit d: day of month d (1..31)
    std::uint16_t months = 0;   // bit m: month m (1..12)
    std::uint8_t weekdays = 0;  // bit w: weekday w (0 = Sunday)
    bool dom_star = false;      // the day-of-month field starts with `*` or `?`
    bool dow_star = false;      // the day-of-week field starts with `*` or `?`
    bool hour_star = false;     // the hour field starts with `*`: real-clock DST rule
  };

  std::optional<std::chrono::seconds> nextCronInstant(std::chrono::seconds start, std::chrono::seconds limit) const;
  std::optional<std::chrono::seconds> nextWallMatch(std::chrono::seconds from, std::chrono::seconds to) const;
  bool dayMatches(unsigned day_of_month, unsigned weekday) const;

  std::string expression_;
  std::string zone_name_;
  const date::time_zone* zone_ = nullptr;
  Fields fields_;
  std::chrono::milliseconds interval_{0};  // > 0 for @every
  std::chrono::system_clock::time_point anchor_{};
};

}  // namespace gust
