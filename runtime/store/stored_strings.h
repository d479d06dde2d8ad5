#pragma once
// How lists of strings (header pairs, log lines) are stored in one SQLite BLOB column:
//   count:u32le (size:u32le bytes[size])*count      pairs store name, value, name, value...
// Binary rather than JSON so arbitrary bytes survive (JSON would need valid UTF-8), and a
// decode of a damaged blob fails with a message instead of reading past the end.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/protocol/frame.h"
#include "runtime/base/result.h"

namespace gust {

std::string encodeStoredPairs(const Pairs& pairs);
Result<Pairs> decodeStoredPairs(std::string_view blob);

std::string encodeStoredStrings(const std::vector<std::string>& strings);
Result<std::vector<std::string>> decodeStoredStrings(std::string_view blob);

}  // namespace gust
