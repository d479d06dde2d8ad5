#pragma once
// "Did you mean ...?" as graphql-js words it, so that our validation messages match a
// client's own tools: candidates within a lexical distance (Damerau-Levenshtein, case
// changes counting one edit), closest first, ties in natural order. Any thread.

#include <string>
#include <string_view>
#include <vector>

namespace gust::graphql {

std::vector<std::string> suggestionList(std::string_view input, const std::vector<std::string>& options);

// " Did you mean "a", "b", or "c"?" (at most five), or empty when there are none.
// `lead` goes between "Did you mean" and the names ("to use an inline fragment on").
std::string didYouMean(const std::vector<std::string>& suggestions, std::string_view lead = {});

// Orders names with their digit runs compared as numbers ("a2" before "a10").
int naturalCompare(std::string_view a, std::string_view b);

}  // namespace gust::graphql
