#pragma once
// Which events of a topic a subscription takes (a manifest's "filter", a webhook's --type):
// all of its conditions must hold. Value type; any thread.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gust {

struct EventFilter {
  std::vector<std::string> types;  // the event's ce-type is one of these; empty: any type
  // Each is on the event with exactly this value; names compare without case.
  std::vector<std::pair<std::string, std::string>> headers;

  bool matches(const std::vector<std::pair<std::string, std::string>>& event_headers) const;
  bool empty() const { return types.empty() && headers.empty(); }
};

}  // namespace gust
