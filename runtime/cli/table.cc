#include "runtime/cli/table.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace gust::cli {

namespace {

// Counts code points, so "…" and other UTF-8 text line up.
size_t displayWidth(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string cut(const std::string& s, size_t width) {
  if (displayWidth(s) <= width) return s;
  std::string out;
  size_t shown = 0;
  for (char c : s) {
    bool starts = (c & 0xC0) != 0x80;
    if (starts && ++shown > width - 1) break;
    out += c;
  }
  return out + "…";
}

}  // namespace

std::string Table::render() const {
  size_t columns = 0;
  for (const auto& row : rows_) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], std::min(displayWidth(row[i]), kMaxWidth));
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      bool last = i + 1 == row.size();
      std::string cell = last ? row[i] : cut(row[i], widths[i]);
      line += cell;
      if (!last) line += std::string(widths[i] - displayWidth(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string fieldText(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string timeText(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return fieldText(object, key);
  auto ms = it->get<int64_t>();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return text;
}

std::string millisText(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return fieldText(object, key);
  double ms = it->get<double>();
  char text[32];
  if (ms < 1) std::snprintf(text, sizeof text, "%.2f ms", ms);
  else if (ms < 10) std::snprintf(text, sizeof text, "%.1f ms", ms);
  else if (ms < 10'000) std::snprintf(text, sizeof text, "%.0f ms", ms);
  else std::snprintf(text, sizeof text, "%.1f s", ms / 1000);
  return text;
}

}  // namespace gust::cli
