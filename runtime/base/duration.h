#pragma once
// Durations as people write them in manifests and flags: "500ms", "30s", "5m", "1h30m".

#include <chrono>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

// Accepts one or more <digits><unit> parts with units ms, s, m, h (e.g. "1m30s"). The
// error message says what was wrong and shows a valid example.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

// The shortest exact form: 1500ms -> "1500ms", 90000ms -> "1m30s".
std::string formatDuration(std::chrono::milliseconds d);

}  // namespace gust
