#include "runtime/cli/sdk_pch.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "runtime/base/digest.h"
#include "runtime/cli/progress_notice.h"
#include "runtime/cli/subprocess.h"

namespace gust {
namespace fs = std::filesystem;

namespace {

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "size mtime-ns" of a file, or "" when it is gone.
std::string stampOf(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return "";
  auto time = fs::last_write_time(path, ec);
  if (ec) return "";
  return std::to_string(size) + " " + std::to_string(time.time_since_epoch().count());
}

// The prerequisites of a make rule as GCC's -MD writes it ("target: a b \<newline> c",
// spaces in names escaped with a backslash).
std::vector<std::string> dependenciesOf(const std::string& rule) {
  std::vector<std::string> files;
  size_t colon = rule.find(": ");
  if (colon == std::string::npos) return files;
  std::string current;
  for (size_t i = colon + 2; i < rule.size(); ++i) {
    char c = rule[i];
    if (c == '\\' && i + 1 < rule.size() && rule[i + 1] == ' ') {
      current += ' ';
      ++i;
    } else if (c == '\\' && i + 1 < rule.size() && rule[i + 1] == '\n') {
      ++i;
    } else if (c == ' ' || c == '\n' || c == '\t') {
      if (!current.empty()) files.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) files.push_back(std::move(current));
  return files;
}

// True when every file the entry was made from is as it was then.
bool inputsUnchanged(const fs::path& inputs) {
  std::ifstream in(inputs);
  if (!in) return false;
  std::string line;
  size_t count = 0;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) return false;
    if (stampOf(line.substr(tab + 1)) != line.substr(0, tab)) return false;
    ++count;
  }
  return count > 0;
}

// Keeps the most recently used entries; an entry is touched on every use.
void pruneEntries(const fs::path& dir, const fs::path& keep) {
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, fs::path>> entries;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_directory(ec) && e.path() != keep) entries.emplace_back(e.last_write_time(ec), e.path());
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t i = kSdkPchEntriesKept - 1; i < entries.size(); ++i) fs::remove_all(entries[i].second, ec);
}

}  // namespace

std::optional<fs::path> sdkPchCacheRoot() {
  if (const char* off = std::getenv("GUST_PCH"); off && std::string(off) == "0") return std::nullopt;
  if (const char* dir = std::getenv("GUST_CACHE_DIR"); dir && *dir) return fs::absolute(dir);
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir && *dir) return fs::path(dir) / "gust";
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache" / "gust";
  return std::nullopt;
}

Result<fs::path> precompiledSdkHeader(const PrecompileRequest& request) {
  auto version = captureCommand({request.compiler, "--version"});
  if (!version) return version.error();
  // Clang reads a .gch of its own making only, and differently; it builds without one.
  if (version->find("Free Software Foundation") == std::string::npos || version->find("clang") != std::string::npos) {
    return makeError(ErrorKind::kUnavailable, request.compiler + " is not GCC; building without a precompiled header");
  }
  std::string identity = "gust sdk pch 1\n" + request.compiler + "\n" + *version + request.sdk_include.string() +
                         "\n" + request.header + "\n";
  for (const auto& flag : request.flags) identity += flag + "\n";
  const fs::path dir = request.cache_root / "sdk-pch";
  const fs::path entry = dir / toHex(sha256(identity)).substr(0, 24);
  const fs::path wrapper = entry / "sdk.hpp";
  std::error_code ec;
  if (fs::is_regular_file(entry / "sdk.hpp.gch", ec) && inputsUnchanged(entry / "inputs")) {
    fs::last_write_time(entry, fs::file_time_type::clock::now(), ec);
    return wrapper;
  }

  // Made in a folder of its own and renamed into place, so that a build running beside this
  // one sees a whole entry or none.
  fs::path tmp = dir / (entry.filename().string() + ".tmp-" + std::to_string(getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return makeError(ErrorKind::kIo, "cannot create " + tmp.string() + ": " + ec.message());
  {
    std::ofstream out(tmp / "sdk.hpp");
    out << "// The SDK header that `gust build` precompiles (runtime/cli/sdk_pch.h).\n#include <" << request.header
        << ">\n";
  }
  std::vector<std::string> argv = {request.compiler};
  argv.insert(argv.end(), request.flags.begin(), request.flags.end());
  for (const char* arg : {"-x", "c++-header"}) argv.push_back(arg);
  argv.push_back((tmp / "sdk.hpp").string());
  for (const std::string& arg : {std::string("-o"), (tmp / "sdk.hpp.gch").string(), std::string("-MD"),
                                 std::string("-MF"), (tmp / "deps.d").string()}) {
    argv.push_back(arg);
  }
  Result<int> rc = 0;
  {
    // A few seconds, once per SDK, compiler and flags.
    cli::ProgressNotice notice("precompiling the SDK header " + request.header + " (once per SDK and compiler)…");
    rc = runCommand(argv);
  }
  if (!rc || *rc != 0) {
    fs::remove_all(tmp, ec);
    return rc ? makeError(ErrorKind::kBadInput, "the SDK header did not precompile (see above)") : rc.error();
  }
  std::ofstream inputs(tmp / "inputs");
  for (const auto& file : dependenciesOf(readText(tmp / "deps.d"))) {
    if (fs::path(file).parent_path() == tmp) continue;  // the wrapper, moved with the entry
    inputs << stampOf(file) << '\t' << file << '\n';
  }
  inputs.close();
  fs::remove(tmp / "deps.d", ec);
  fs::remove_all(entry, ec);
  fs::rename(tmp, entry, ec);
  if (ec) {
    fs::remove_all(tmp, ec);
    return makeError(ErrorKind::kIo, "cannot put the precompiled SDK header in " + entry.string());
  }
  pruneEntries(dir, entry);
  return wrapper;
}

}  // namespace gust
