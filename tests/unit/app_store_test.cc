#include "functions/app_store.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/temp_dir.h"

using namespace gust;
namespace fs = std::filesystem;
using gust::test::TempDir;

namespace {

class FakeClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() const override { return std::chrono::steady_clock::time_point(wall_.time_since_epoch()); }
  std::chrono::system_clock::time_point wallNow() const override { return wall_; }
  void advance(std::chrono::milliseconds d) { wall_ += d; }

 private:
  std::chrono::system_clock::time_point wall_{std::chrono::milliseconds(1'700'000'000'000)};
};

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in, path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeFile(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// A real module exporting gust_abi_version and gust_fn_echo.
const std::string& echoModule() {
  static const std::string bytes = [] {
    const char* path = std::getenv("GUST_FIXTURE_ABI_MISMATCH");
    REQUIRE_MESSAGE(path != nullptr, "GUST_FIXTURE_ABI_MISMATCH is not set; run the tests with meson test");
    return readFile(path);
  }();
  return bytes;
}

std::string manifestFor(const std::string& app, const std::string& module = "build/echo.so") {
  return R"({"name": ")" + app + R"(", "module": ")" + module + R"(", "functions": {"echo": {"routes": ["/echo"]}}})";
}

std::unique_ptr<AppStore> openStore(const fs::path& data, const Clock& clock, AppStoreOptions options = {}) {
  auto store = AppStore::open(data, options, clock);
  REQUIRE_MESSAGE(store, store.error().message);
  return std::move(*store);
}

VersionInfo deployed(AppStore& store, const std::string& app) {
  auto v = store.deploy(app, manifestFor(app), echoModule());
  REQUIRE_MESSAGE(v, v.error().message);
  return *v;
}

std::vector<std::string> versionNames(AppStore& store, const std::string& app) {
  auto all = store.versions(app);
  REQUIRE_MESSAGE(all, all.error().message);
  std::vector<std::string> names;
  for (const auto& v : *all) names.push_back(v.version + (v.active ? "*" : ""));
  return names;
}

#define CHECK_HAS(haystack, needle) CHECK_MESSAGE((haystack).find(needle) != std::string::npos, haystack)

}  // namespace

TEST_CASE("a deploy stores the manifest and module as an immutable version folder, not yet active") {
  TempDir data;
  FakeClock clock;
  auto store = openStore(data.path(), clock);
  auto v1 = deployed(*store, "echo");
  CHECK(v1.app == "echo");
  CHECK(v1.version == "v1");
  CHECK(v1.number == 1);
  CHECK(v1.dir == data.path() / "apps" / "echo" / "v1");
  CHECK(v1.module_path == v1.dir / "build" / "echo.so");
  CHECK(v1.module_bytes == echoModule().size());
  CHECK(v1.created == clock.wallNow());
  CHECK_FALSE(v1.active);

  CHECK(readFile(v1.dir / "gust.json") == manifestFor("echo"));
  CHECK(readFile(v1.module_path) == echoModule());
  // The version folder is an app folder like any other.
  auto manifest = loadManifest(v1.dir);
  REQUIRE(manifest);
  CHECK(checkArtifactFile(v1.dir / manifest->module, *manifest));

  auto active = store->active("echo");
  REQUIRE_FALSE(active);
  CHECK(active.error().kind == ErrorKind::kNotFound);
  CHECK(active.error().message == "app echo has no active version; activate one of its versions");
  CHECK(*store->list() == std::vector<std::string>{"echo"});

  clock.advance(std::chrono::seconds(5));
  auto v2 = deployed(*store, "echo");
  CHECK(v2.version == "v2");
  CHECK(v2.created == clock.wallNow());
  CHECK(versionNames(*store, "echo") == std::vector<std::string>{"v1", "v2"});
}

TEST_CASE("activate points the app at a version, and rollback steps back through older ones") {
  TempDir data;
  FakeClock clock;
  auto store = openStore(data.path(), clock);
  for (int i = 0; i < 3; ++i) deployed(*store, "echo");

  auto a = store->activate("echo", "v3");
  REQUIRE_MESSAGE(a, a.error().message);
  CHECK(a->active);
  CHECK(readFile(data.path() / "apps" / "echo" / "active") == "v3\n");
  CHECK(store->active("echo")->version == "v3");
  CHECK(versionNames(*store, "echo") == std::vector<std::string>{"v1", "v2", "v3*"});
  CHECK(store->activate("echo", "v3"));  // already active: no-op

  CHECK(store->rollback("echo")->version == "v2");
  CHECK(store->rollback("echo")->version == "v1");
  auto none = store->rollback("echo");
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "app echo: the active version v1 is the oldest kept; there is nothing older to roll back to");
  CHECK(store->rollback("echo", "v3")->version == "v3");
  CHECK(store->version("echo", "v3")->active);
  CHECK_FALSE(store->version("echo", "v2")->active);

  auto missing = store->activate("echo", "v9");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::kNotFound);
  CHECK(missing.error().message == "app echo has no version v9; its versions are v1, v2, v3");
  CHECK(store->activate("nope", "v1").error().message == "no app named nope; deploy it first");
  CHECK_HAS(store->activate("echo", "latest").error().message, "\"latest\" is not a valid version");
  CHECK(store->active("echo")->version == "v3");  // failed calls changed nothing

  TempDir other;
  auto fresh = openStore(other.path(), clock);
  deployed(*fresh, "echo");
  CHECK(fresh->rollback("echo").error().message ==
        "app echo has no active version; activate one of its versions; nothing to roll back from");
}

TEST_CASE("versions and the active pointer survive a restart") {
  TempDir data;
  FakeClock clock;
  {
    auto store = openStore(data.path(), clock);
    deployed(*store, "echo");
    deployed(*store, "echo");
    deployed(*store, "other");
    REQUIRE(store->activate("echo", "v2"));
    REQUIRE(store->activate("other", "v1"));
    deployed(*store, "idle");  // deployed, never activated
  }
  auto store = openStore(data.path(), clock);
  CHECK(*store->list() == std::vector<std::string>{"echo", "idle", "other"});
  CHECK(versionNames(*store, "echo") == std::vector<std::string>{"v1", "v2*"});
  auto startup = store->activeApps();
  REQUIRE(startup.versions.size() == 2);
  CHECK(startup.versions[0].app == "echo");
  CHECK(startup.versions[0].version == "v2");
  CHECK(startup.versions[0].created == clock.wallNow());
  CHECK(startup.versions[1].app == "other");
  REQUIRE(startup.problems.size() == 1);
  CHECK(startup.problems[0] == "app idle has no active version; activate one of its versions");
  CHECK(deployed(*store, "echo").version == "v3");
}

TEST_CASE("bad names, manifests and modules are refused before anything is written") {
  TempDir data;
  FakeClock clock;
  auto store = openStore(data.path(), clock);
  auto errorOf = [&](std::string_view app, const std::string& manifest, std::string_view module) {
    auto r = store->deploy(app, manifest, module);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::kBadInput);
    return r.error().message;
  };
  CHECK_HAS(errorOf("../etc", manifestFor("etc"), echoModule()), "\"../etc\" is not a valid app name: it contains a path separator");
  CHECK_HAS(errorOf("", manifestFor("x"), echoModule()), "the app name is empty");
  CHECK(errorOf("echo", manifestFor("other"), echoModule()) ==
        "gust.json: name: the manifest names the app \"other\" but it is being deployed as \"echo\"; deploy it under "
        "its own name or change the manifest");
  CHECK_HAS(errorOf("echo", "{not json", echoModule()), "gust.json:1:3: not valid JSON");
  CHECK_HAS(errorOf("echo", manifestFor("echo", "build//echo.so"), echoModule()), "has an empty path part");
  CHECK_HAS(errorOf("echo", manifestFor("echo", "gust.json"), echoModule()), "would overwrite the version's own gust.json");
  CHECK_HAS(errorOf("echo", manifestFor("echo", "./echo.so"), echoModule()), "has a \".\" part");
  CHECK_HAS(errorOf("echo", manifestFor("echo", "a b.so"), echoModule()), "holds a character other than");
  CHECK_HAS(errorOf("echo", manifestFor("echo"), "not an elf"), "module build/echo.so: is not an ELF file");
  CHECK_HAS(errorOf("echo",
                    R"({"name": "echo", "module": "e.so", "functions": {"echo": {"routes": ["/e"]}, "resize": {"routes": ["/r"]}}})",
                    echoModule()),
            "module e.so: does not export gust_fn_resize");
  CHECK(fs::is_empty(data.path() / "apps"));
  CHECK(store->list()->empty());
}

TEST_CASE("sizes and counts are bounded") {
  TempDir data;
  FakeClock clock;
  AppStoreOptions options;
  options.artifact.max_bytes = echoModule().size() - 1;
  options.max_apps = 1;
  auto store = openStore(data.path(), clock, options);
  CHECK_HAS(store->deploy("echo", manifestFor("echo"), echoModule()).error().message, "more than the limit of");

  options.artifact.max_bytes = echoModule().size();
  store = openStore(data.path(), clock, options);
  deployed(*store, "echo");
  deployed(*store, "echo");  // a new version of an existing app is not a new app
  CHECK(store->deploy("two", manifestFor("two"), echoModule()).error().message ==
        "the host already holds 1 apps, its limit; remove one before deploying a new app");
  CHECK_FALSE(fs::exists(data.path() / "apps" / "two"));

  options.max_versions = 1;
  auto refused = AppStore::open(data.path(), options, clock);
  REQUIRE_FALSE(refused);
  CHECK_HAS(refused.error().message, "at least 2 versions per app");
}

TEST_CASE("old versions past the limit are pruned, never the active one or the newest") {
  TempDir data;
  FakeClock clock;
  AppStoreOptions options;
  options.max_versions = 3;
  auto store = openStore(data.path(), clock, options);
  deployed(*store, "echo");
  deployed(*store, "echo");
  REQUIRE(store->activate("echo", "v2"));
  deployed(*store, "echo");
  CHECK(versionNames(*store, "echo") == std::vector<std::string>{"v1", "v2*", "v3"});
  deployed(*store, "echo");
  CHECK(versionNames(*store, "echo") == std::vector<std::string>{"v2*", "v3", "v4"});
  deployed(*store, "echo");
  CHECK(versionNames(*store, "echo") == std::vector<std::string>{"v2*", "v4", "v5"});
  CHECK_FALSE(fs::exists(data.path() / "apps" / "echo" / "v1"));
  CHECK_FALSE(fs::exists(data.path() / "apps" / "echo" / "v3"));
  // Numbers keep rising after pruning, so a version name never means two different uploads.
  CHECK(deployed(*store, "echo").version == "v6");
  // No pruning leftovers.
  for (const auto& entry : fs::directory_iterator(data.path() / "apps" / "echo")) {
    CHECK_MESSAGE(entry.path().filename().string()[0] != '.', entry.path().string());
  }
}

TEST_CASE("what a crash leaves behind is ignored, then cleaned on the next open") {
  TempDir data;
  FakeClock clock;
  auto running = openStore(data.path(), clock);
  deployed(*running, "echo");
  REQUIRE(running->activate("echo", "v1"));
  fs::path apps = data.path() / "apps";
  // A deploy cut short before its rename, an active pointer never renamed, a removal cut
  // short after its rename, and a first deploy of an app that never got a version.
  writeFile(apps / "echo" / ".tmp-0123456789abcdef" / "gust.json", manifestFor("echo"));
  writeFile(apps / "echo" / ".tmp-0123456789abcdef" / "build" / "echo.so", "half a modu");
  writeFile(apps / "echo" / ".tmp-active-feedfacecafebeef", "v9\n");
  writeFile(apps / ".removed-gone-0011223344556677" / "v1" / "gust.json", manifestFor("gone"));
  fs::create_directories(apps / "half");

  // Until the next open, the debris is invisible.
  CHECK(*running->list() == std::vector<std::string>{"echo"});
  CHECK(versionNames(*running, "echo") == std::vector<std::string>{"v1*"});
  CHECK(running->activeApps().problems.empty());
  running.reset();

  auto store = openStore(data.path(), clock);
  CHECK_FALSE(fs::exists(apps / "echo" / ".tmp-0123456789abcdef"));
  CHECK_FALSE(fs::exists(apps / "echo" / ".tmp-active-feedfacecafebeef"));
  CHECK_FALSE(fs::exists(apps / ".removed-gone-0011223344556677"));
  CHECK_FALSE(fs::exists(apps / "half"));
  CHECK(*store->list() == std::vector<std::string>{"echo"});
  CHECK(versionNames(*store, "echo") == std::vector<std::string>{"v1*"});
  CHECK(deployed(*store, "echo").version == "v2");
}

TEST_CASE("a damaged active pointer is reported and repaired by activating") {
  TempDir data;
  FakeClock clock;
  auto store = openStore(data.path(), clock);
  deployed(*store, "echo");
  fs::path pointer = data.path() / "apps" / "echo" / "active";
  writeFile(pointer, "v1/../../etc\n");
  auto bad = store->active("echo");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::kIo);
  CHECK_HAS(bad.error().message, "holds \"v1/../../etc\", not a version; activate a version of echo to rewrite it");
  CHECK(store->activeApps().problems.size() == 1);

  fs::remove(pointer);
  writeFile(pointer, "v7\n");
  CHECK(store->active("echo").error().message ==
        "app echo points at v7 as active, but that version is gone; activate another version");

  REQUIRE(store->activate("echo", "v1"));
  CHECK(store->active("echo")->version == "v1");
}

TEST_CASE("remove deletes the whole app, and a new deploy starts over") {
  TempDir data;
  FakeClock clock;
  auto store = openStore(data.path(), clock);
  deployed(*store, "echo");
  deployed(*store, "echo");
  REQUIRE(store->activate("echo", "v2"));
  deployed(*store, "keep");

  REQUIRE(store->remove("echo"));
  CHECK(*store->list() == std::vector<std::string>{"keep"});
  CHECK_FALSE(fs::exists(data.path() / "apps" / "echo"));
  CHECK(store->active("echo").error().kind == ErrorKind::kNotFound);
  CHECK(store->versions("echo").error().message == "no app named echo; deploy it first");
  CHECK(store->remove("echo").error().message == "no app named echo to remove");
  CHECK_HAS(store->remove("..").error().message, "is not a valid app name");
  CHECK(deployed(*store, "echo").version == "v1");
  CHECK(fs::exists(data.path() / "apps" / "keep" / "v1" / "gust.json"));
}
