// libFuzzer target: any bytes as an uploaded module must give ArtifactInfo or an error,
// never a crash or a read outside the input.
//
// The seed corpus/fuzz_artifact/echo.so (1.3 KB) is a minimal valid module that exports
// gust_abi_version and gust_fn_echo, made with:
//   gcc -O2 -fPIC -shared -nostdlib -s -fno-asynchronous-unwind-tables -Wl,-z,noseparate-code \
//       -Wl,-z,max-page-size=0x10 -Wl,-z,norelro -Wl,--build-id=none -o echo.so echo.c
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "functions/artifact.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> kFunctions = {"echo"};
  gust::ArtifactLimits limits;
  limits.max_bytes = 1 << 20;
  auto info = gust::checkArtifactFunctions(std::string_view(reinterpret_cast<const char*>(data), size), kFunctions, limits);
  if (info) {
    // A module that passes exports what was asked for.
    bool has_echo = false;
    for (const auto& f : info->exported_functions) has_echo = has_echo || f == "echo";
    if (!has_echo || info->size != size) __builtin_trap();
  } else if (info.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
