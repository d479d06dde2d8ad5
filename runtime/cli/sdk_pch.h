#pragma once
// The SDK's header, precompiled for `gust build`. Parsing gust.hpp and the standard headers
// it pulls in is most of the compile of a small app, so it is done once per SDK, compiler
// and flags, and kept in a cache folder:
//
//   <cache>/sdk-pch/<key>/sdk.hpp        #include <gust/gust.hpp> (or <gust/json.hpp>)
//   <cache>/sdk-pch/<key>/sdk.hpp.gch    what GCC made of it
//   <cache>/sdk-pch/<key>/inputs         each file it read, with its size and time
//
// The key names the compiler (its path and `--version`), the flags, the SDK folder and the
// header. An entry is used only while every file it read is as it was: an SDK that changed
// (another version, an edit) or a new nlohmann/json is precompiled again. A build passes
// `-include <entry>/sdk.hpp`: GCC takes the .gch when it is valid for the compile and reads
// sdk.hpp as text otherwise, so the worst a bad entry can do is cost time.
//
// GCC only: another compiler gets no precompiled header (and builds as before).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/result.h"

namespace gust {

struct PrecompileRequest {
  std::string compiler;                // argv[0] of the compile: "c++", $CXX
  std::vector<std::string> flags;      // what every source is compiled with, -I of the SDK included
  std::filesystem::path sdk_include;   // the folder that holds gust/gust.hpp
  std::string header;                  // "gust/gust.hpp" or "gust/json.hpp"
  std::filesystem::path cache_root;    // see sdkPchCacheRoot()
};

// The file to pass as `-include`, precompiled first if it is not yet (or no longer) valid.
// An error says why there is none; the build then goes on without it.
Result<std::filesystem::path> precompiledSdkHeader(const PrecompileRequest& request);

// $GUST_CACHE_DIR, else $XDG_CACHE_HOME/gust, else $HOME/.cache/gust; nullopt when
// precompiling is off (GUST_PCH=0) or there is no home to cache in.
std::optional<std::filesystem::path> sdkPchCacheRoot();

// How many entries the cache keeps (the most recently used): one per SDK header, compiler
// and flags in use, and a spare for the SDK being edited.
inline constexpr size_t kSdkPchEntriesKept = 4;

}  // namespace gust
