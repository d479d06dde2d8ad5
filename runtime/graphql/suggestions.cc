#include "runtime/graphql/suggestions.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <utility>

namespace gust::graphql {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<size_t> lexicalDistance(std::string_view input, std::string_view option, size_t threshold) {
  if (input == option) return 0;
  std::string a = lower(option);
  std::string b = lower(input);
  if (a == b) return 1;
  if (a.size() < b.size()) std::swap(a, b);
  if (a.size() - b.size() > threshold) return std::nullopt;
  std::array<std::vector<size_t>, 3> rows;
  for (auto& r : rows) r.assign(b.size() + 1, 0);
  for (size_t j = 0; j <= b.size(); ++j) rows[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    auto& up = rows[(i - 1) % 3];
    auto& current = rows[i % 3];
    size_t smallest = current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t cell = std::min({up[j] + 1, current[j - 1] + 1, up[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cell = std::min(cell, rows[(i - 2) % 3][j - 2] + 1);  // a transposition
      }
      smallest = std::min(smallest, cell);
      current[j] = cell;
    }
    if (smallest > threshold) return std::nullopt;
  }
  size_t distance = rows[a.size() % 3][b.size()];
  if (distance > threshold) return std::nullopt;
  return distance;
}

}  // namespace

int naturalCompare(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto digit = [](std::string_view s, size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a, i) && digit(b, j)) {
      uint64_t an = 0, bn = 0;
      do {
        an = an * 10 + static_cast<uint64_t>(a[i++] - '0');
      } while (digit(a, i) && an > 0);
      do {
        bn = bn * 10 + static_cast<uint64_t>(b[j++] - '0');
      } while (digit(b, j) && bn > 0);
      if (an != bn) return an < bn ? -1 : 1;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]) ? -1 : 1;
      ++i;
      ++j;
    }
  }
  return static_cast<int>(a.size()) - static_cast<int>(b.size());
}

std::vector<std::string> suggestionList(std::string_view input, const std::vector<std::string>& options) {
  size_t threshold = input.size() * 2 / 5 + 1;  // floor(length * 0.4) + 1
  std::vector<std::pair<size_t, std::string>> found;
  for (const auto& option : options) {
    if (std::any_of(found.begin(), found.end(), [&](const auto& f) { return f.second == option; })) continue;
    if (auto d = lexicalDistance(input, option, threshold)) found.emplace_back(*d, option);
  }
  std::sort(found.begin(), found.end(), [](const auto& x, const auto& y) {
    if (x.first != y.first) return x.first < y.first;
    return naturalCompare(x.second, y.second) < 0;
  });
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

std::string didYouMean(const std::vector<std::string>& suggestions, std::string_view lead) {
  if (suggestions.empty()) return {};
  std::string message = " Did you mean ";
  if (!lead.empty()) message += std::string(lead) + " ";
  size_t n = std::min<size_t>(suggestions.size(), 5);
  auto quoted = [&](size_t i) { return "\"" + suggestions[i] + "\""; };
  if (n == 1) return message + quoted(0) + "?";
  if (n == 2) return message + quoted(0) + " or " + quoted(1) + "?";
  for (size_t i = 0; i + 1 < n; ++i) message += quoted(i) + ", ";
  return message + "or " + quoted(n - 1) + "?";
}

}  // namespace gust::graphql
