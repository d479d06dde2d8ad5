// libFuzzer target: any bytes as a --callback-allow list or as a callback URL's host must
// give ranges, an address or an error, never a crash; what parses keeps its promises.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "triggers/http/callback_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto ranges = gust::parseIpRanges(text);
  if (ranges) {
    for (const auto& range : *ranges) {
      // A range holds its own base, and reads back as itself.
      if (!range.contains(range.base)) __builtin_trap();
      auto again = gust::parseIpRanges(range.text());
      if (!again || again->size() != 1 || (*again)[0].base != range.base || (*again)[0].prefix != range.prefix) {
        __builtin_trap();
      }
    }
  } else if (ranges.error().message.empty()) {
    __builtin_trap();
  }
  if (auto address = gust::parseIpLiteral(text)) {
    auto again = gust::parseIpLiteral(address->text());
    if (!again || *again != *address) __builtin_trap();
    // The allowlist wins: an address refused alone is let through when its own range is allowed.
    if (gust::refusedCallbackAddress(*address, {}) &&
        gust::refusedCallbackAddress(*address, {gust::IpRange{*address, address->v6 ? 128 : 32}})) {
      __builtin_trap();
    }
  }
  return 0;
}
