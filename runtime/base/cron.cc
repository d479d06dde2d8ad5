#include "runtime/base/cron.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <charconv>
#include <exception>
#include <vector>

#include "runtime/base/duration.h"
#include "runtime/base/text.h"

// meson.build sets these for every file: Debian's libdate-tz reads the system zoneinfo.
static_assert(USE_OS_TZDB == 1 && HAS_STRING_VIEW == 1, "build with -DUSE_OS_TZDB=1 -DHAS_STRING_VIEW=1");

namespace gust {

namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using SysTime = std::chrono::system_clock::time_point;

constexpr std::size_t kMaxTimeZoneNameLength = 128;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isSpace(char c) { return c == ' ' || c == '\t'; }

// The lowest set bit at or above `from`, or -1.
int nextBit(std::uint64_t mask, int from) {
  if (from >= 64) return -1;
  std::uint64_t rest = mask & (~std::uint64_t{0} << from);
  return rest == 0 ? -1 : std::countr_zero(rest);
}

struct FieldSpec {
  const char* name;
  int min;
  int max;
  const std::array<const char*, 13>* names;  // index = value; nullptr entries are unnamed
};

constexpr std::array<const char*, 13> kMonthNames = {nullptr, "jan", "feb", "mar", "apr", "may", "jun",
                                                     "jul",   "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<const char*, 13> kWeekdayNames = {"sun",   "mon",   "tue",   "wed",   "thu",   "fri",  "sat",
                                                       nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

constexpr FieldSpec kSecondField{"second", 0, 59, nullptr};
constexpr FieldSpec kMinuteField{"minute", 0, 59, nullptr};
constexpr FieldSpec kHourField{"hour", 0, 23, nullptr};
constexpr FieldSpec kDayOfMonthField{"day-of-month", 1, 31, nullptr};
constexpr FieldSpec kMonthField{"month", 1, 12, &kMonthNames};
constexpr FieldSpec kDayOfWeekField{"day-of-week", 0, 7, &kWeekdayNames};

struct Token {
  std::string_view text;
  std::size_t column;  // 1-based column of text[0] in the whole expression
};

// Splits on spaces and tabs, remembering where each token starts.
std::vector<Token> tokenize(std::string_view expr) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && isSpace(expr[i])) ++i;
    std::size_t start = i;
    while (i < expr.size() && !isSpace(expr[i])) ++i;
    if (i > start) tokens.push_back({expr.substr(start, i - start), start + 1});
  }
  return tokens;
}

}  // namespace

// Parses one expression into a CronSchedule; a class (not free functions) so that it can
// fill the schedule's private fields and carry the error context.
class CronParser {
 public:
  explicit CronParser(std::string_view expr) : expr_(expr) {}

  Result<CronSchedule> parse(std::string_view tz) {
    if (expr_.size() > kMaxCronExpressionLength) {
      return makeError(ErrorKind::kBadInput, "schedule is " + std::to_string(expr_.size()) +
                                                 " characters long; the limit is " +
                                                 std::to_string(kMaxCronExpressionLength));
    }
    CronSchedule schedule;
    schedule.expression_ = std::string(expr_);
    auto zone = locateTimeZone(tz);
    if (!zone.ok()) return zone.error();
    schedule.zone_ = *zone;
    if (schedule.zone_ != nullptr) schedule.zone_name_ = std::string(tz);

    std::vector<Token> tokens = tokenize(expr_);
    if (tokens.empty()) return fail("the schedule is empty");
    for (const Token& token : tokens) {
      for (std::size_t i = 0; i < token.text.size(); ++i) {
        auto c = static_cast<unsigned char>(token.text[i]);
        if (c < 0x20 || c >= 0x7f) {
          return fail("unexpected character at column " + std::to_string(token.column + i));
        }
      }
    }

    if (tokens[0].text[0] == '@') {
      std::string macro = lower(tokens[0].text);
      if (macro == "@every") {
        if (tokens.size() != 2) {
          return fail("@every takes one duration, e.g. \"@every 1m30s\"");
        }
        auto interval = parseInterval(tokens[1]);
        if (!interval.ok()) return interval.error();
        schedule.interval_ = *interval;
        return schedule;
      }
      const char* fields = nullptr;
      if (macro == "@yearly" || macro == "@annually") fields = "0 0 1 1 *";
      if (macro == "@monthly") fields = "0 0 1 * *";
      if (macro == "@weekly") fields = "0 0 * * 0";
      if (macro == "@daily" || macro == "@midnight") fields = "0 0 * * *";
      if (macro == "@hourly") fields = "0 * * * *";
      if (fields == nullptr) {
        return fail("unknown macro " + quote(tokens[0].text) + " at column " + std::to_string(tokens[0].column) +
                    " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every)");
      }
      if (tokens.size() != 1) {
        return fail(std::string(tokens[0].text) + " takes no arguments, found " + quote(tokens[1].text) +
                    " at column " + std::to_string(tokens[1].column));
      }
      // The expansion is ours; its columns never reach an error message.
      std::vector<Token> expanded = tokenize(fields);
      auto filled = fillFields(schedule, expanded);
      if (!filled.ok()) return makeError(ErrorKind::kInternal, filled.error().message);
      return schedule;
    }

    if (tokens.size() != 5 && tokens.size() != 6) {
      return fail("expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with seconds first), got " +
                  std::to_string(tokens.size()));
    }
    auto filled = fillFields(schedule, tokens);
    if (!filled.ok()) return filled.error();
    return schedule;
  }

 private:
  Error fail(const std::string& reason) const {
    return makeError(ErrorKind::kBadInput, "schedule " + quote(expr_) + ": " + reason);
  }
  Error fieldError(const FieldSpec& field, std::size_t column, const std::string& reason) const {
    return fail(std::string(field.name) + " field at column " + std::to_string(column) + ": " + reason);
  }

  Result<void> fillFields(CronSchedule& schedule, const std::vector<Token>& tokens) {
    std::size_t i = 0;
    CronSchedule::Fields& f = schedule.fields_;
    if (tokens.size() == 6) {
      auto bits = parseField(kSecondField, tokens[i++]);
      if (!bits.ok()) return bits.error();
      f.seconds = *bits;
    } else {
      f.seconds = 1;  // five fields fire at second 0
    }
    auto minutes_bits = parseField(kMinuteField, tokens[i++]);
    if (!minutes_bits.ok()) return minutes_bits.error();
    f.minutes = *minutes_bits;
    const Token& hour_token = tokens[i++];
    auto hours_bits = parseField(kHourField, hour_token);
    if (!hours_bits.ok()) return hours_bits.error();
    f.hours = static_cast<std::uint32_t>(*hours_bits);
    f.hour_star = hour_token.text[0] == '*';
    const Token& dom_token = tokens[i++];
    auto days_bits = parseField(kDayOfMonthField, dom_token);
    if (!days_bits.ok()) return days_bits.error();
    f.days = static_cast<std::uint32_t>(*days_bits);
    f.dom_star = dom_token.text[0] == '*' || dom_token.text[0] == '?';
    auto months_bits = parseField(kMonthField, tokens[i++]);
    if (!months_bits.ok()) return months_bits.error();
    f.months = static_cast<std::uint16_t>(*months_bits);
    const Token& dow_token = tokens[i++];
    auto weekday_bits = parseField(kDayOfWeekField, dow_token);
    if (!weekday_bits.ok()) return weekday_bits.error();
    // Weekday 7 is Sunday.
    std::uint64_t w = *weekday_bits;
    if (w & (1u << 7)) w = (w | 1u) & 0x7f;
    f.weekdays = static_cast<std::uint8_t>(w);
    f.dow_star = dow_token.text[0] == '*' || dow_token.text[0] == '?';
    return {};
  }

  struct Value {
    int value;
    bool was_sunday_name;  // "sun": may close a range as 7
  };

  // Reads a number or a name at `pos` of `text`; advances pos.
  Result<Value> parseValue(const FieldSpec& field, const Token& token, std::size_t& pos) {
    std::string_view text = token.text;
    std::size_t start = pos;
    std::size_t column = token.column + start;
    if (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
      std::string_view digits = text.substr(start, pos - start);
      int value = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
      if (ec != std::errc() || value < field.min || value > field.max) {
        return fieldError(field, column,
                          "value " + std::string(digits) + " is out of range " + std::to_string(field.min) + "-" +
                              std::to_string(field.max));
      }
      return Value{value, false};
    }
    if (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) {
      while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
      std::string name = lower(text.substr(start, pos - start));
      if (field.names != nullptr) {
        for (std::size_t v = 0; v < field.names->size(); ++v) {
          const char* candidate = (*field.names)[v];
          if (candidate != nullptr && name == candidate) return Value{static_cast<int>(v), name == "sun"};
        }
        return fieldError(field, column,
                          "unknown name " + quote(text.substr(start, pos - start)) +
                              (field.names == &kMonthNames ? " (expected JAN..DEC)" : " (expected SUN..SAT)"));
      }
      return fieldError(field, column, "names are not allowed here, found " + quote(text.substr(start, pos - start)));
    }
    if (pos >= text.size()) return fieldError(field, token.column + pos, "expected a value at the end of the field");
    return fieldError(field, column, "unexpected character " + quote(text.substr(pos, 1)));
  }

  // Returns the field's bit mask (bit v set when value v matches).
  Result<std::uint64_t> parseField(const FieldSpec& field, const Token& token) {
    std::string_view text = token.text;
    std::uint64_t mask = 0;
    std::size_t pos = 0;
    while (true) {
      std::size_t element_start = pos;
      std::size_t element_column = token.column + element_start;
      int low = field.min;
      int high = field.max;
      bool is_day_field = &field == &kDayOfMonthField || &field == &kDayOfWeekField;
      bool has_range = false;
      if (pos < text.size() && (text[pos] == '*' || (text[pos] == '?' && is_day_field))) {
        ++pos;
        has_range = true;
        if (&field == &kDayOfWeekField) high = 6;  // `*` covers each weekday once
      } else {
        if (pos < text.size() && text[pos] == '?') {
          return fieldError(field, element_column, "`?` is only allowed in the day-of-month and day-of-week fields");
        }
        auto first = parseValue(field, token, pos);
        if (!first.ok()) return first.error();
        low = high = first->value;
        if (pos < text.size() && text[pos] == '-') {
          ++pos;
          has_range = true;
          auto last = parseValue(field, token, pos);
          if (!last.ok()) return last.error();
          high = last->value;
          if (last->was_sunday_name && high < low) high = 7;  // FRI-SUN
          if (high < low) {
            return fieldError(
                field, element_column,
                "range " + std::to_string(low) + "-" + std::to_string(high) + " runs backwards (ranges do not wrap)");
          }
        }
      }
      int step = 1;
      if (pos < text.size() && text[pos] == '/') {
        ++pos;
        std::size_t step_start = pos;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
        std::string_view digits = text.substr(step_start, pos - step_start);
        if (digits.empty()) {
          return fieldError(field, element_column, "a step needs a number after `/`");
        }
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
        int span = (&field == &kDayOfWeekField ? 7 : field.max - field.min + 1);
        if (ec == std::errc() && step < 1) {
          return fieldError(field, element_column, "step must be at least 1");
        }
        if (ec != std::errc() || step > span) {
          return fieldError(
              field, element_column,
              "step " + std::string(digits) + " is larger than the " + std::to_string(span) + " values of the field");
        }
        if (!has_range) high = field.max;  // "5/15": from 5 to the maximum
        if (!has_range && &field == &kDayOfWeekField) high = 6;
      }
      for (int v = low; v <= high; v += step) mask |= std::uint64_t{1} << v;
      if (pos == text.size()) break;
      if (text[pos] != ',') {
        return fieldError(field, token.column + pos, "unexpected character " + quote(text.substr(pos, 1)));
      }
      ++pos;
      if (pos == text.size()) return fieldError(field, token.column + pos - 1, "a list cannot end with `,`");
    }
    return mask;
  }

  // The duration syntax is the one manifests use (runtime/base/duration.h); the bounds are ours.
  Result<milliseconds> parseInterval(const Token& token) {
    std::string where = "@every interval at column " + std::to_string(token.column) + ": ";
    auto interval = parseDuration(token.text);
    if (!interval.ok()) return fail(where + interval.error().message);
    if (*interval < seconds(1)) return fail(where + "the interval must be at least 1s");
    if (*interval > hours(24 * 366)) return fail(where + "the interval is longer than 366 days");
    return *interval;
  }

  std::string_view expr_;
};

Result<const date::time_zone*> locateTimeZone(std::string_view name) {
  if (name.empty() || name == "UTC") return static_cast<const date::time_zone*>(nullptr);
  if (name.size() > kMaxTimeZoneNameLength) {
    return makeError(ErrorKind::kBadInput,
                     "time zone name is longer than " + std::to_string(kMaxTimeZoneNameLength) + " characters");
  }
  // locate_zone throws for an unknown name and when the database cannot be read; both are
  // configuration input, so they become an error value here.
  try {
    return date::locate_zone(name);
  } catch (const std::exception& e) {
    return makeError(ErrorKind::kBadInput,
                     "time zone " + quote(name) + " is not a known IANA time zone (e.g. Europe/Berlin): " + e.what());
  }
}

Result<CronSchedule> CronSchedule::parse(std::string_view expr, std::string_view tz) {
  return CronParser(expr).parse(tz);
}

CronSchedule CronSchedule::withAnchor(SysTime anchor) const {
  CronSchedule copy = *this;
  copy.anchor_ = std::chrono::floor<milliseconds>(anchor);
  return copy;
}

bool CronSchedule::dayMatches(unsigned day_of_month, unsigned weekday) const {
  bool dom = (fields_.days >> day_of_month) & 1u;
  bool dow = (fields_.weekdays >> weekday) & 1u;
  if (fields_.dom_star || fields_.dow_star) return dom && dow;
  return dom || dow;
}

// Searches wall-clock time (seconds since 1970-01-01 00:00 on the zone's wall clock) for
// the first matching instant in [from, to). Skips whole months, days, hours and minutes
// that cannot match, so a call touches at most a few thousand days.
std::optional<seconds> CronSchedule::nextWallMatch(seconds from, seconds to) const {
  using date::days;
  date::sys_days day = std::chrono::floor<days>(date::sys_seconds(from));
  seconds in_day = from - day.time_since_epoch();
  int hour = static_cast<int>(in_day.count() / 3600);
  int minute = static_cast<int>(in_day.count() % 3600 / 60);
  int second = static_cast<int>(in_day.count() % 60);
  auto next_day = [&] {
    day += days{1};
    hour = minute = second = 0;
  };
  while (day.time_since_epoch() < to) {
    date::year_month_day ymd{day};
    unsigned month = static_cast<unsigned>(ymd.month());
    if (((fields_.months >> month) & 1u) == 0) {
      int next_month = nextBit(fields_.months, static_cast<int>(month) + 1);
      date::year y = ymd.year();
      if (next_month < 0) {
        y += date::years{1};
        next_month = nextBit(fields_.months, 1);
      }
      day = date::sys_days(y / date::month(static_cast<unsigned>(next_month)) / 1);
      hour = minute = second = 0;
      continue;
    }
    unsigned weekday = date::weekday(day).c_encoding();
    if (!dayMatches(static_cast<unsigned>(ymd.day()), weekday)) {
      next_day();
      continue;
    }
    int h = nextBit(fields_.hours, hour);
    if (h < 0) {
      next_day();
      continue;
    }
    if (h != hour) {
      hour = h;
      minute = second = 0;
    }
    int m = nextBit(fields_.minutes, minute);
    if (m < 0) {
      ++hour;
      minute = second = 0;
      continue;  // hour 24 finds no bit and moves to the next day
    }
    if (m != minute) {
      minute = m;
      second = 0;
    }
    int s = nextBit(fields_.seconds, second);
    if (s < 0) {
      ++minute;
      second = 0;
      continue;
    }
    seconds wall = day.time_since_epoch() + hours(hour) + minutes(minute) + seconds(s);
    if (wall >= to) return std::nullopt;
    return wall;
  }
  return std::nullopt;
}

// Walks the zone's periods of constant UTC offset from `start`, applying the daylight-saving
// rules documented in the header at each transition.
std::optional<seconds> CronSchedule::nextCronInstant(seconds start, seconds limit) const {
  if (zone_ == nullptr) return nextWallMatch(start, limit);
  // Offsets before the zone's first transition are local mean time; no need to look back
  // further than that for a "previous period".
  const date::sys_seconds kEarliest = date::sys_days(date::year(1900) / 1 / 1);
  date::sys_seconds t(start);
  while (t.time_since_epoch() < limit) {
    date::sys_info info = zone_->get_info(t);
    seconds begin = info.begin.time_since_epoch();
    seconds end = std::min(info.end.time_since_epoch(), limit);
    seconds offset = info.offset;
    seconds previous_offset = offset;
    if (info.begin > kEarliest) previous_offset = zone_->get_info(info.begin - seconds(1)).offset;
    seconds from = std::max(t.time_since_epoch(), begin);
    std::optional<seconds> best;

    seconds wall_from = from + offset;
    if (!fields_.hour_star && previous_offset > offset) {
      // Fall back: wall times in [begin + offset, begin + previous_offset) happened already
      // in the previous period, where a fixed-hour schedule fired them.
      wall_from = std::max(wall_from, begin + previous_offset);
    }
    if (auto wall = nextWallMatch(wall_from, end + offset)) best = *wall - offset;

    if (!fields_.hour_star && offset > previous_offset) {
      // Spring forward: wall times in [begin + previous_offset, begin + offset) do not exist.
      // Shifting one forward by the gap gives the instant wall - previous_offset.
      seconds gap_from = std::max(begin, from) + previous_offset;
      seconds gap_to = begin + offset;
      if (gap_from < gap_to) {
        if (auto wall = nextWallMatch(gap_from, gap_to)) {
          seconds instant = *wall - previous_offset;
          if (!best || instant < *best) best = instant;
        }
      }
    }
    if (best) return best;
    t = info.end;
  }
  return std::nullopt;
}

std::optional<SysTime> CronSchedule::next(SysTime after) const {
  if (isInterval()) {
    auto since_anchor = after - anchor_;
    std::int64_t k = 1;
    if (since_anchor.count() >= 0) k = since_anchor / interval_ + 1;
    return anchor_ + interval_ * k;
  }
  seconds start = std::chrono::floor<seconds>(after).time_since_epoch() + seconds(1);
  auto instant = nextCronInstant(start, start + kCronSearchHorizon);
  if (!instant) return std::nullopt;
  return SysTime(*instant);
}

std::optional<SysTime> CronSchedule::previous(SysTime at_or_before) const {
  if (isInterval()) {
    auto since_anchor = at_or_before - anchor_;
    if (since_anchor < interval_) return std::nullopt;
    return anchor_ + interval_ * (since_anchor / interval_);
  }
  // Widen a window backwards until it holds an instant, then walk forward to the last one.
  // Each widening doubles, so the walk covers at most about twice the gap between fires.
  for (seconds width(1); width <= kCronSearchHorizon; width *= 2) {
    auto first = next(at_or_before - width);
    if (!first || *first > at_or_before) continue;
    SysTime last = *first;
    while (auto following = next(last)) {
      if (*following > at_or_before) break;
      last = *following;
    }
    return last;
  }
  return std::nullopt;
}

}  // namespace gust
