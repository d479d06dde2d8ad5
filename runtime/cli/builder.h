#pragma once
// `gust build`: compiles an app's C++ sources into its module (.so) against the SDK. With
// no configuration, every *.cpp and *.cc in the app folder (and its src/) is compiled; an
// app with its own meson.build is built with meson instead. Compiler output reaches the
// user's terminal exactly as the compiler wrote it; a compile that takes more than 2 s gets
// a progress line on stderr (progress_line.h), and meson shows its own.

#include <filesystem>
#include <string>

#include "runtime/base/result.h"

namespace gust {

struct BuildOptions {
  bool force = false;        // rebuild even when the module is newer than every source
  std::string executable;    // the gust binary; the SDK is looked up next to it
};

struct BuildOutcome {
  std::filesystem::path module;
  bool rebuilt = false;
  double seconds = 0;
};

Result<BuildOutcome> buildApp(const std::filesystem::path& app_dir, const BuildOptions& options);

// Where <gust/gust.hpp> lives: $GUST_SDK_INCLUDE, the source tree or install prefix next to
// the gust binary, or pkg-config gust-sdk.
Result<std::string> findSdkInclude(const std::string& executable);

}  // namespace gust
