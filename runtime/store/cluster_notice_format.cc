#include "runtime/store/cluster_notice_format.h"

#include <charconv>

namespace gust {

std::optional<EventNotice> parseEventNotice(std::string_view message) {
  const size_t space = message.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == message.size()) return std::nullopt;
  EventNotice notice;
  auto [end, ec] = std::from_chars(message.data(), message.data() + space, notice.seq);
  if (ec != std::errc() || end != message.data() + space || notice.seq == 0) return std::nullopt;
  notice.topic = std::string(message.substr(space + 1));
  return notice;
}

std::vector<std::string> parseReadyNotice(std::string_view message) {
  std::vector<std::string> names;
  while (!message.empty()) {
    const size_t end = message.find('\n');
    std::string_view name = message.substr(0, end);
    if (!name.empty()) names.emplace_back(name);
    if (end == std::string_view::npos) break;
    message.remove_prefix(end + 1);
  }
  return names;
}

}  // namespace gust
