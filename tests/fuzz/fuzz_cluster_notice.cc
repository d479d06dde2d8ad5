// libFuzzer target: any bytes published on the cluster's notice channels (any client of that
// Redis can publish) read as a well-formed notice or as nothing, never a crash; what reads
// as an event notice is written back as the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/store/cluster_notice_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto event = gust::parseEventNotice(text)) {
    if (event->seq == 0 || event->topic.empty()) __builtin_trap();
    auto again = gust::parseEventNotice(std::to_string(event->seq) + " " + event->topic);
    if (!again || again->seq != event->seq || again->topic != event->topic) __builtin_trap();
  }
  size_t total = 0;
  for (const auto& name : gust::parseReadyNotice(text)) {
    if (name.empty() || name.find('\n') != std::string::npos) __builtin_trap();
    total += name.size();
  }
  if (total > size) __builtin_trap();
  return 0;
}
