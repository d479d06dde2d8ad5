#include "runtime/base/iso8601.h"

#include <date/date.h>
#include <date/tz.h>

#include <cctype>
#include <charconv>
#include <cstdio>

#include "runtime/base/text.h"

namespace gust {

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using SysTime = std::chrono::system_clock::time_point;

}  // namespace

std::string formatIso8601(SysTime t, const date::time_zone* zone, Iso8601Precision precision) {
  milliseconds ms = std::chrono::floor<milliseconds>(t).time_since_epoch();
  seconds whole = std::chrono::floor<seconds>(ms);
  seconds offset(0);
  if (zone != nullptr) offset = zone->get_info(date::sys_seconds(whole)).offset;
  seconds wall = whole + offset;
  date::sys_days day = std::chrono::floor<date::days>(date::sys_seconds(wall));
  date::year_month_day ymd{day};
  seconds in_day = wall - day.time_since_epoch();
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(in_day.count() / 3600), static_cast<int>(in_day.count() % 3600 / 60),
                        static_cast<int>(in_day.count() % 60));
  std::string out(buf, static_cast<std::size_t>(n));
  if (precision == Iso8601Precision::kMillis) {
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>((ms - whole).count()));
    out += buf;
  }
  if (zone == nullptr) {
    out += 'Z';
  } else {
    std::int64_t total_minutes = offset.count() / 60;
    char sign = total_minutes < 0 ? '-' : '+';
    if (total_minutes < 0) total_minutes = -total_minutes;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", sign, static_cast<int>(total_minutes / 60),
                  static_cast<int>(total_minutes % 60));
    out += buf;
  }
  return out;
}

Result<SysTime> parseIso8601(std::string_view text) {
  auto bad = [&](const std::string& reason) {
    return makeError(ErrorKind::kBadInput, "time " + quote(text) + ": " + reason +
                                               " (expected e.g. 2026-03-29T03:00:00+02:00 or 2026-03-29T01:00:00Z)");
  };
  if (text.size() > 64) return bad("too long");
  std::size_t pos = 0;
  auto number = [&](std::size_t width, int& out) {
    if (pos + width > text.size()) return false;
    for (std::size_t i = 0; i < width; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[pos + i]))) return false;
    }
    std::from_chars(text.data() + pos, text.data() + pos + width, out);
    pos += width;
    return true;
  };
  auto literal = [&](char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!number(4, year) || !literal('-') || !number(2, month) || !literal('-') || !number(2, day)) {
    return bad("expected a date YYYY-MM-DD");
  }
  if (!(literal('T') || literal('t') || literal(' '))) return bad("expected `T` and a time after the date");
  if (!number(2, hour) || !literal(':') || !number(2, minute) || !literal(':') || !number(2, second)) {
    return bad("expected a time HH:MM:SS");
  }
  std::int64_t nanos = 0;
  if (literal('.') || literal(',')) {
    std::size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    std::size_t digits = pos - start;
    if (digits == 0 || digits > 9) return bad("a fraction of a second has 1 to 9 digits");
    std::from_chars(text.data() + start, text.data() + pos, nanos);
    for (std::size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_minutes = 0;
  if (literal('Z') || literal('z')) {
    // UTC
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0, om = 0;
    if (!number(2, oh)) return bad("expected an offset +HH:MM");
    literal(':');
    if (!number(2, om)) return bad("expected an offset +HH:MM");
    if (oh > 23 || om > 59) return bad("the offset is out of range");
    offset_minutes = sign * (oh * 60 + om);
  } else if (pos == text.size()) {
    return bad("add `Z` or an offset like +01:00");
  } else {
    return bad("unexpected character at position " + std::to_string(pos + 1));
  }
  if (pos != text.size()) return bad("unexpected text after the time");
  date::year_month_day ymd{date::year(year), date::month(static_cast<unsigned>(month)),
                           date::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return bad("no such date");
  // system_clock counts nanoseconds in 64 bits, which covers 1678..2262; keep well inside.
  if (year < 1900 || year > 2200) return bad("the year must be between 1900 and 2200");
  if (hour > 23 || minute > 59 || second > 59) return bad("the time of day is out of range");
  auto instant = date::sys_days(ymd) + hours(hour) + minutes(minute) + seconds(second) - minutes(offset_minutes);
  return SysTime(std::chrono::duration_cast<SysTime::duration>(instant.time_since_epoch()) +
                 std::chrono::duration_cast<SysTime::duration>(std::chrono::nanoseconds(nanos)));
}

}  // namespace gust
