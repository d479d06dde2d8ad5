#pragma once
// Plain-text output for the CLI's listings: aligned columns, and the JSON fields the admin
// API answers with turned into short text.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gust::cli {

// Rows of cells printed with each column as wide as its widest cell (at most kMaxWidth;
// longer cells are cut with "…"), two spaces apart. The last column is never padded or cut.
class Table {
 public:
  static constexpr size_t kMaxWidth = 48;
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const;
  size_t rowCount() const { return rows_.size() - 1; }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// A field as text: strings as they are, numbers and booleans in their JSON form, "-" when
// absent or null.
std::string fieldText(const nlohmann::json& object, const char* key);

// A time field: an ISO 8601 string as it is; a number is milliseconds since the epoch.
std::string timeText(const nlohmann::json& object, const char* key);

// A duration in milliseconds: "0.8 ms", "12 ms", "3.2 s".
std::string millisText(const nlohmann::json& object, const char* key);

}  // namespace gust::cli
