#pragma once
// "Did you mean ...?" for names people type: CLI verbs and options, manifest fields.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gust {

// Levenshtein distance.
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a likely typo.
std::optional<std::string> closestMatch(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace gust
