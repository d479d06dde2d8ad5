// libFuzzer target: any bytes as gust.json must give a Manifest or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "functions/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto manifest = gust::parseManifest(std::string_view(reinterpret_cast<const char*>(data), size));
  if (manifest) {
    // A parsed manifest keeps its promises.
    if (manifest->functions.empty() || manifest->name.empty()) __builtin_trap();
  } else if (manifest.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
