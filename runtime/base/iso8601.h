#pragma once
// ISO 8601 times as the admin API, the CLI and schedules print and read them.

#include <chrono>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace date {
class time_zone;
}

namespace gust {

enum class Iso8601Precision { kSeconds, kMillis };

// Formats `t` (floored to the precision) as e.g. 2026-03-29T03:00:00+02:00 in `zone`, or
// 2026-03-29T01:00:00Z when zone is nullptr (UTC).
std::string formatIso8601(std::chrono::system_clock::time_point t, const date::time_zone* zone,
                          Iso8601Precision precision = Iso8601Precision::kSeconds);

// Parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM); `T` may be a space and `Z` may be
// lower case. An offset is required so that a time is never silently read in the wrong zone.
Result<std::chrono::system_clock::time_point> parseIso8601(std::string_view text);

}  // namespace gust
