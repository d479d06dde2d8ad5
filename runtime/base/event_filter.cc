#include "runtime/base/event_filter.h"

#include <algorithm>
#include <cctype>

namespace gust {
namespace {

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const std::string* valueOf(const std::vector<std::pair<std::string, std::string>>& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (sameName(k, name)) return &v;
  }
  return nullptr;
}

}  // namespace

bool EventFilter::matches(const std::vector<std::pair<std::string, std::string>>& event_headers) const {
  if (!types.empty()) {
    const std::string* type = valueOf(event_headers, "ce-type");
    if (type == nullptr || std::find(types.begin(), types.end(), *type) == types.end()) return false;
  }
  for (const auto& [name, value] : headers) {
    const std::string* got = valueOf(event_headers, name);
    if (got == nullptr || *got != value) return false;
  }
  return true;
}

}  // namespace gust
