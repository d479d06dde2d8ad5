#include "runtime/base/duration.h"

#include <cstdint>

namespace gust {

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return makeError(ErrorKind::kBadInput, "invalid duration \"" + std::string(text.substr(0, 64)) +
                                               "\": " + std::string(why) +
                                               " (write it like \"500ms\", \"30s\", \"5m\" or \"1h30m\")");
  };
  if (text.empty()) return bad("it is empty");
  if (text.size() > 32) return bad("it is too long");
  // About 292 years of milliseconds fit in int64; cap far below to keep sums exact.
  constexpr int64_t kMaxMs = int64_t{1} << 50;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return bad("expected a number");
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxMs) return bad("it is too large");
      ++i;
    }
    size_t unit_start = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60 * 1000;
    else if (unit == "h") scale = 3600 * 1000;
    else if (unit.empty()) return bad("a unit is missing after the number");
    else return bad("unknown unit \"" + std::string(unit) + "\"");
    if (n > kMaxMs / scale) return bad("it is too large");
    total += n * scale;
    if (total > kMaxMs) return bad("it is too large");
  }
  return std::chrono::milliseconds(total);
}

std::string formatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  if (ms % 1000 != 0) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 3600) {
    out += std::to_string(s / 3600) + "h";
    s %= 3600;
  }
  if (s >= 60) {
    out += std::to_string(s / 60) + "m";
    s %= 60;
  }
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

}  // namespace gust
