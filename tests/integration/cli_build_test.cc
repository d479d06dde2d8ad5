// `gust build` through the real binary: it precompiles the SDK's header into its cache and
// compiles apps with it, precompiles again for an SDK that changed, and keeps its progress
// lines free of control characters when stderr is not a terminal.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

constexpr const char* kManifest = R"({"name": "pchapp", "auth": "public",
  "functions": {"hello": {"routes": ["/pchapp/hello"]}}})";

// The SDK of this tree copied to `to`, for a test that edits it.
fs::path copySdk(const fs::path& to) {
  fs::path source = fs::path(env("GUST_SOURCE_ROOT")) / "sdk" / "include";
  fs::create_directories(to);
  fs::copy(source, to, fs::copy_options::recursive);
  return to;
}

// The entries of the precompiled-header cache (runtime/cli/sdk_pch.h).
std::vector<fs::path> cacheEntries(const fs::path& cache) {
  std::vector<fs::path> entries;
  if (!fs::is_directory(cache / "sdk-pch")) return entries;
  for (const auto& e : fs::directory_iterator(cache / "sdk-pch")) entries.push_back(e.path());
  return entries;
}

// Sets an environment variable of this process (and so of the gust it starts) for a scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("gust build compiles with the SDK header it precompiled, and precompiles again for a changed SDK") {
  TempDir tmp;
  fs::path sdk = copySdk(tmp.path() / "sdk");
  fs::path cache = tmp.path() / "cache";
  ScopedEnv sdk_env("GUST_SDK_INCLUDE", sdk.string());
  ScopedEnv cache_env("GUST_CACHE_DIR", cache.string());
  fs::path app = tmp.path() / "pchapp";
  writeFile(app / "gust.json", kManifest);
  writeFile(app / "main.cpp", R"(#include <gust/gust.hpp>
gust::Response hello(const gust::Request&, gust::Context&) { return gust::Response::text("hi\n"); }
GUST_FUNCTION(hello)
)");

  auto first = runGust({"build", app.string()}, tmp.path());
  REQUIRE_MESSAGE(first.status == 0, first.err);
  auto entries = cacheEntries(cache);
  REQUIRE(entries.size() == 1);
  fs::path entry = entries[0];
  REQUIRE(fs::is_regular_file(entry / "sdk.hpp.gch"));

  // The compile reads the .gch, not the text it was made from: with that text broken, the
  // build still succeeds, and nothing is precompiled again.
  writeFile(entry / "sdk.hpp", "#error the precompiled SDK header was not used\n");
  auto cached = runGust({"build", "--force", app.string()}, tmp.path());
  CHECK_MESSAGE(cached.status == 0, cached.err);
  CHECK(cached.err.find("precompiled SDK header was not used") == std::string::npos);
  CHECK(readFile(entry / "sdk.hpp").find("#error") != std::string::npos);

  // Another SDK version: an app that uses what only the new one has builds, so the old
  // header was not used, and the entry is made again from the new SDK.
  std::string header = readFile(sdk / "gust" / "gust.hpp");
  writeFile(sdk / "gust" / "gust.hpp", header + "\nnamespace gust { inline const char* newInThisSdk() { return \"new\\n\"; } }\n");
  writeFile(app / "main.cpp", R"(#include <gust/gust.hpp>
gust::Response hello(const gust::Request&, gust::Context&) { return gust::Response::text(gust::newInThisSdk()); }
GUST_FUNCTION(hello)
)");
  auto rebuilt = runGust({"build", app.string()}, tmp.path());
  CHECK_MESSAGE(rebuilt.status == 0, rebuilt.err);
  CHECK(rebuilt.err.find("precompiling the SDK header") != std::string::npos);
  REQUIRE(cacheEntries(cache).size() == 1);
  CHECK(readFile(entry / "sdk.hpp").find("#error") == std::string::npos);
  CHECK(fs::is_regular_file(entry / "sdk.hpp.gch"));
}

TEST_CASE("gust build precompiles gust/json.hpp for an app that includes it, and builds without a cache when told") {
  TempDir tmp;
  fs::path cache = tmp.path() / "cache";
  ScopedEnv cache_env("GUST_CACHE_DIR", cache.string());
  fs::path app = tmp.path() / "pchapp";
  writeFile(app / "gust.json", kManifest);
  writeFile(app / "main.cpp", R"(#include <gust/json.hpp>
gust::Response hello(const gust::Request&, gust::Context&) { return gust::Response::json({{"hi", true}}); }
GUST_FUNCTION(hello)
)");
  {
    ScopedEnv off("GUST_PCH", "0");
    auto plain = runGust({"build", app.string()}, tmp.path());
    REQUIRE_MESSAGE(plain.status == 0, plain.err);
    CHECK(cacheEntries(cache).empty());
  }
  auto built = runGust({"build", "--force", app.string()}, tmp.path());
  REQUIRE_MESSAGE(built.status == 0, built.err);
  auto entries = cacheEntries(cache);
  REQUIRE(entries.size() == 1);
  CHECK(readFile(entries[0] / "sdk.hpp").find("#include <gust/json.hpp>") != std::string::npos);
}

TEST_CASE("gust build shows a long compile's progress as plain lines when stderr is not a terminal") {
  TempDir tmp;
  ScopedEnv cache_env("GUST_CACHE_DIR", (tmp.path() / "cache").string());
  // The compile reads a header from a FIFO, so it lasts until the test has seen what it
  // waits for, however fast the machine.
  fs::path held = tmp.path() / "held.h";
  REQUIRE(mkfifo(held.c_str(), 0600) == 0);
  fs::path app = tmp.path() / "pchapp";
  writeFile(app / "gust.json", kManifest);
  writeFile(app / "main.cpp", "#include <gust/gust.hpp>\n#include \"" + held.string() + R"("
gust::Response hello(const gust::Request&, gust::Context&) { return gust::Response::text(kHeld); }
GUST_FUNCTION(hello)
)");
  Process build({env("GUST_BIN"), "build", app.string()}, tmp.path() / "build.stderr");
  const std::string line = "building pchapp.so (compiling main.cpp, ";
  // A line after 2 s, and a new line (not the first one rewritten) 10 s later.
  waitFor("two progress lines", [&] { return occurrences(build.stderrText(), line) >= 2; }, std::chrono::seconds(120),
          [&] { return build.stderrText(); });
  std::ofstream(held) << "constexpr const char* kHeld = \"held\\n\";\n";
  CommandResult done = build.finish(std::chrono::seconds(120));
  REQUIRE_MESSAGE(done.status == 0, done.err);
  std::string err = build.stderrText();
  CHECK(err.find('\r') == std::string::npos);
  CHECK(err.find('\033') == std::string::npos);
  size_t first = err.find(line);
  REQUIRE(first != std::string::npos);
  CHECK(err.find(" s)\u2026\n", first) != std::string::npos);
  CHECK(done.out.find("built ") != std::string::npos);
}
