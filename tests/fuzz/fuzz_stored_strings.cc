// libFuzzer target: any bytes as a stored list of strings or pairs (a gust.db column, or an
// invocation record in the cluster's Redis) decode or fail with a message, never read past
// their end; what decodes reads back as itself once encoded (byte for byte, except the empty
// blob, which reads as an empty list).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/store/stored_strings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view blob(reinterpret_cast<const char*>(data), size);
  if (auto strings = gust::decodeStoredStrings(blob)) {
    const std::string again = gust::encodeStoredStrings(*strings);
    if (!blob.empty() && again != blob) __builtin_trap();
    auto reread = gust::decodeStoredStrings(again);
    if (!reread || *reread != *strings) __builtin_trap();
  } else if (strings.error().message.empty()) {
    __builtin_trap();
  }
  if (auto pairs = gust::decodeStoredPairs(blob)) {
    const std::string again = gust::encodeStoredPairs(*pairs);
    if (!blob.empty() && again != blob) __builtin_trap();
    auto reread = gust::decodeStoredPairs(again);
    if (!reread || *reread != *pairs) __builtin_trap();
  } else if (pairs.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
