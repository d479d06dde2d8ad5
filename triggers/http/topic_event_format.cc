#include "triggers/http/topic_event_format.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace gust {
namespace {

// A field value of the SSE format ends at a line break; one inside an attribute would
// start a field of the publisher's choosing.
std::string oneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

}  // namespace

std::string sseEvent(const TopicEvent& event) {
  std::string out = "id: " + std::to_string(event.seq) + "\n";
  if (!event.type.empty()) out += "event: " + oneLine(event.type) + "\n";
  std::string_view data = event.data;
  size_t start = 0;
  while (true) {
    size_t end = data.find_first_of("\r\n", start);
    out += "data: ";
    out.append(data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    out += "\n";
    if (end == std::string_view::npos) break;
    start = end + ((data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n') ? 2 : 1);
  }
  out += "\n";
  return out;
}

std::string sseRetry(uint64_t ms) { return "retry: " + std::to_string(ms) + "\n\n"; }

std::string sseHeartbeat() { return ":\n\n"; }

std::string webSocketEventJson(const TopicEvent& event) {
  nlohmann::json data = nlohmann::json::parse(event.data, nullptr, false);
  if (data.is_discarded()) data = event.data;
  nlohmann::json out = {{"id", event.id},           {"seq", event.seq},   {"type", event.type},
                        {"subject", event.subject}, {"time", event.time}, {"data", std::move(data)}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<uint64_t> parseEventSeq(std::string_view text) {
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return seq;
}

bool StreamFilter::matches(const TopicEvent& event) const {
  for (const auto& [name, value] : equals) {
    const std::string& actual = name == "subject" ? event.subject : name == "type" ? event.type : event.source;
    if (actual != value) return false;
  }
  return true;
}

}  // namespace gust
