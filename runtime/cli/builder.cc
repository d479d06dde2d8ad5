#include "runtime/cli/builder.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "functions/manifest.h"
#include "runtime/cli/progress_line.h"
#include "runtime/cli/sdk_pch.h"
#include "runtime/cli/subprocess.h"

namespace gust {
namespace fs = std::filesystem;

namespace {

bool isSource(const fs::path& p) { return p.extension() == ".cpp" || p.extension() == ".cc"; }
bool isInput(const fs::path& p) {
  return isSource(p) || p.extension() == ".h" || p.extension() == ".hpp" || p.filename() == "gust.json" ||
         p.filename() == "meson.build";
}

// Newest modification time among the app's inputs (sources, headers, manifest).
fs::file_time_type newestInput(const fs::path& dir) {
  auto newest = fs::file_time_type::min();
  std::error_code ec;
  for (const fs::path& sub : {dir, dir / "src", dir / "include"}) {
    if (!fs::is_directory(sub, ec)) continue;
    for (const auto& e : fs::directory_iterator(sub, ec)) {
      if (e.is_regular_file(ec) && isInput(e.path())) newest = std::max(newest, e.last_write_time(ec));
    }
  }
  return newest;
}

// The SDK header precompiled for these flags (sdk_pch.h), or nullopt to build without one.
// gust/json.hpp when a source includes it, so that nlohmann/json is precompiled too.
std::optional<fs::path> precompiledSdk(const std::string& compiler, const std::vector<std::string>& flags,
                                       const std::string& sdk, const std::vector<fs::path>& sources) {
  auto cache = sdkPchCacheRoot();
  if (!cache) return std::nullopt;
  PrecompileRequest request{compiler, flags, sdk, "gust/gust.hpp", *cache};
  for (const auto& source : sources) {
    std::ifstream in(source);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("#include") != std::string::npos && line.find("gust/json.hpp") != std::string::npos) {
        request.header = "gust/json.hpp";
      }
    }
  }
  auto header = precompiledSdkHeader(request);
  if (!header) return std::nullopt;
  return *header;
}

}  // namespace

Result<std::string> findSdkInclude(const std::string& executable) {
  if (const char* env = std::getenv("GUST_SDK_INCLUDE"); env && *env) return std::string(env);
  std::error_code ec;
  fs::path exe_dir = fs::weakly_canonical(fs::path(executable), ec).parent_path();
  for (const fs::path& candidate : {exe_dir / ".." / "sdk" / "include", exe_dir / ".." / ".." / "sdk" / "include",
                                    exe_dir / ".." / "include"}) {
    if (fs::is_regular_file(candidate / "gust" / "gust.hpp", ec)) return fs::weakly_canonical(candidate, ec).string();
  }
  auto flags = captureCommand({"pkg-config", "--variable=includedir", "gust-sdk"});
  if (flags) {
    std::string dir = *flags;
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' ')) dir.pop_back();
    if (fs::is_regular_file(fs::path(dir) / "gust" / "gust.hpp", ec)) return dir;
  }
  return makeError(ErrorKind::kNotFound,
                   "cannot find the Gust SDK headers (gust/gust.hpp); install gust, or set GUST_SDK_INCLUDE to the "
                   "folder that holds gust/gust.hpp");
}

Result<BuildOutcome> buildApp(const fs::path& app_dir, const BuildOptions& options) {
  auto started = std::chrono::steady_clock::now();
  auto manifest = loadManifest(app_dir);
  if (!manifest) return manifest.error();
  BuildOutcome outcome;
  outcome.module = app_dir / manifest->module;
  std::error_code ec;

  if (fs::is_regular_file(app_dir / "meson.build", ec)) {
    fs::path build_dir = app_dir / "build";
    if (!fs::is_regular_file(build_dir / "build.ninja", ec)) {
      // The app's meson.build may ask pkg-config for gust-sdk; where the SDK is not installed,
      // its headers reach the compiler through CXXFLAGS, which meson reads at setup.
      if (auto sdk = findSdkInclude(options.executable)) {
        std::string flags = std::getenv("CXXFLAGS") ? std::getenv("CXXFLAGS") : "";
        setenv("CXXFLAGS", (flags + " -I" + *sdk).c_str(), 1);
      }
      auto setup = runCommand({"meson", "setup", build_dir.string(), app_dir.string()});
      if (!setup) return setup.error();
      if (*setup != 0) return makeError(ErrorKind::kBadInput, "meson setup failed for " + app_dir.string());
    }
    auto compile = runCommand({"meson", "compile", "-C", build_dir.string()});
    if (!compile) return compile.error();
    if (*compile != 0) return makeError(ErrorKind::kBadInput, "the build failed (see the compiler output above)");
    if (!fs::is_regular_file(outcome.module, ec)) {
      return makeError(ErrorKind::kNotFound, "the app's meson build did not produce " + outcome.module.string() +
                                                 " (build a shared_module named after the app, or set \"module\" "
                                                 "in gust.json)");
    }
    outcome.rebuilt = true;
  } else {
    std::vector<fs::path> sources;
    for (const fs::path& sub : {app_dir, app_dir / "src"}) {
      if (!fs::is_directory(sub, ec)) continue;
      for (const auto& e : fs::directory_iterator(sub, ec)) {
        if (e.is_regular_file(ec) && isSource(e.path())) sources.push_back(e.path());
      }
    }
    std::sort(sources.begin(), sources.end());
    if (sources.empty()) {
      return makeError(ErrorKind::kNotFound, "no C++ sources (*.cpp, *.cc) in " + app_dir.string() +
                                                 "; write one, or start from `gust init`");
    }
    bool fresh = fs::is_regular_file(outcome.module, ec) &&
                 fs::last_write_time(outcome.module, ec) >= newestInput(app_dir);
    if (!fresh || options.force) {
      auto sdk = findSdkInclude(options.executable);
      if (!sdk) return sdk.error();
      fs::create_directories(outcome.module.parent_path(), ec);
      // Write beside the target and rename, so a running host never loads half a file.
      fs::path tmp = outcome.module;
      tmp += ".tmp";
      const char* cxx = std::getenv("CXX");
      const std::string compiler = cxx && *cxx ? cxx : "c++";
      const std::vector<std::string> flags = {"-std=c++20", "-O2",     "-g",    "-fPIC",
                                              "-fvisibility=hidden", "-Wall", "-Wextra", "-I" + *sdk};
      std::vector<std::string> argv = {compiler};
      argv.insert(argv.end(), flags.begin(), flags.end());
      if (auto pch = precompiledSdk(compiler, flags, *sdk, sources)) {
        for (const std::string& arg : {std::string("-include"), pch->string(), std::string("-Winvalid-pch")}) {
          argv.push_back(arg);
        }
      }
      argv.push_back("-shared");
      for (const fs::path& sub : {app_dir / "include", app_dir / "src"}) {
        if (fs::is_directory(sub, ec)) argv.push_back("-I" + sub.string());
      }
      for (const auto& s : sources) argv.push_back(s.string());
      argv.push_back("-o");
      argv.push_back(tmp.string());
      Result<int> rc = 0;
      {
        // One compiler process does all the sources, so the line names them rather than
        // the one being compiled.
        std::string what = sources.size() == 1 ? sources[0].filename().string()
                                               : std::to_string(sources.size()) + " sources";
        cli::ProgressLine progress([&](std::chrono::seconds elapsed) {
          return "building " + outcome.module.filename().string() + " (compiling " + what + ", " +
                 std::to_string(elapsed.count()) + " s)…";
        });
        rc = runCommand(argv);
      }
      if (!rc) return rc.error();
      if (*rc != 0) {
        fs::remove(tmp, ec);
        return makeError(ErrorKind::kBadInput, "the build failed (see the compiler output above)");
      }
      fs::rename(tmp, outcome.module, ec);
      if (ec) return makeError(ErrorKind::kIo, "cannot write " + outcome.module.string() + ": " + ec.message());
      outcome.rebuilt = true;
    }
  }
  outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

}  // namespace gust
