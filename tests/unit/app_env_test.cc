// An app's own variables: the names and values allowed, the limits, the required_env
// manifest field, and the store's file (its mode, its atomic replacement, a missing file).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "functions/app_env.h"
#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

using namespace gust;
using gust::test::TempDir;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

mode_t modeOf(const std::filesystem::path& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("names: identifiers are allowed; the host's own, the linker's, PATH and HOME are refused, saying why") {
  for (const char* ok : {"API_KEY", "_x", "a1", "lower_case", "LANG", "TZ"}) {
    CAPTURE(ok);
    CHECK(validateEnvKey(ok));
  }
  struct Refused {
    std::string key, says;
  };
  for (const auto& r : std::vector<Refused>{{"", "needs a name"},
                                            {"1ABC", "not starting with a digit"},
                                            {"A-B", "letters, digits and _"},
                                            {"A=B", "letters, digits and _"},
                                            {"GUST_ADMIN_TOKEN", "GUST_"},
                                            {"LD_PRELOAD", "LD_"},
                                            {"PATH", "PATH and HOME"},
                                            {"HOME", "PATH and HOME"},
                                            {std::string(129, 'A'), "at most 128"}}) {
    CAPTURE(r.key);
    auto v = validateEnvKey(r.key);
    REQUIRE_FALSE(v);
    CHECK(v.error().kind == ErrorKind::kBadInput);
    CHECK(contains(v.error().message, r.says));
  }
  CHECK(validateEnvKey(std::string(128, 'A')));
}

TEST_CASE("values: UTF-8 up to 32 KiB without NUL") {
  CHECK(validateEnvValue("K", ""));
  CHECK(validateEnvValue("K", std::string(32 * 1024, 'v')));
  CHECK(validateEnvValue("K", "caf\xc3\xa9"));
  auto big = validateEnvValue("K", std::string(32 * 1024 + 1, 'v'));
  REQUIRE_FALSE(big);
  CHECK(contains(big.error().message, "32 KiB"));
  auto nul = validateEnvValue("K", std::string("a\0b", 3));
  REQUIRE_FALSE(nul);
  CHECK(contains(nul.error().message, "NUL"));
  auto binary = validateEnvValue("K", "\xff\xfe");
  REQUIRE_FALSE(binary);
  CHECK(contains(binary.error().message, "base64"));
}

TEST_CASE("an app has at most 256 variables and 256 KiB of them") {
  AppEnv env;
  for (int i = 0; i < 256; ++i) env["K" + std::to_string(i)] = "v";
  CHECK(validateEnv(env));
  env["ONE_MORE"] = "v";
  auto many = validateEnv(env);
  REQUIRE_FALSE(many);
  CHECK(contains(many.error().message, "at most 256 variables"));

  AppEnv large;
  for (int i = 0; i < 8; ++i) large["K" + std::to_string(i)] = std::string(32 * 1024, 'v');
  auto too_large = validateEnv(large);
  REQUIRE_FALSE(too_large);
  CHECK(contains(too_large.error().message, "256 KiB"));
}

TEST_CASE("required_env: a manifest lists names it needs; every missing one is named with the command that sets it") {
  auto m = parseManifest(R"({"name": "shop", "required_env": ["API_KEY", "DB_URL"],
                             "functions": {"f": {"routes": ["/f"]}}})");
  REQUIRE(m);
  CHECK(m->required_env == std::vector<std::string>{"API_KEY", "DB_URL"});
  CHECK(checkRequiredEnv(*m, {{"API_KEY", "x"}, {"DB_URL", "y"}}));
  auto missing = checkRequiredEnv(*m, {{"DB_URL", "y"}});
  REQUIRE_FALSE(missing);
  CHECK(contains(missing.error().message, "not set: API_KEY;"));
  auto none = checkRequiredEnv(*m, {});
  REQUIRE_FALSE(none);
  CHECK(contains(none.error().message, "API_KEY, DB_URL"));
  CHECK(contains(none.error().message, "`gust env set shop API_KEY=... DB_URL=...`"));

  for (const char* bad : {R"("API_KEY")", R"([1])", R"(["LD_PRELOAD"])", R"(["A", "A"])"}) {
    CAPTURE(bad);
    auto r = parseManifest(std::string(R"({"name": "shop", "functions": {"f": {"routes": ["/f"]}}, "required_env": )") +
                           bad + "}");
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, "required_env"));
  }
}

TEST_CASE("the store keeps each app's variables in its own 0600 file in a 0700 folder, replaced whole") {
  TempDir tmp;
  AppEnvStore store(tmp.path() / "env");
  auto empty = store.load("shop");
  REQUIRE(empty);
  CHECK(empty->empty());  // no file yet: an app may have none

  auto first = store.changed("shop", {{"API_KEY", "secret"}, {"MODE", "a"}}, {});
  REQUIRE(first);
  REQUIRE(store.store("shop", *first));
  CHECK(modeOf(tmp.path() / "env") == 0700);
  CHECK(modeOf(tmp.path() / "env" / "shop.json") == 0600);
  CHECK((*store.load("shop")) == AppEnv{{"API_KEY", "secret"}, {"MODE", "a"}});
  CHECK(store.load("other")->empty());

  auto second = store.changed("shop", {{"MODE", "b"}}, {"API_KEY"});
  REQUIRE(second);
  REQUIRE(store.store("shop", *second));
  CHECK((*store.load("shop")) == AppEnv{{"MODE", "b"}});
  // Only the file itself is left: the temp file was renamed over it.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(tmp.path() / "env")) ++entries;
  CHECK(entries == 1);

  auto unknown = store.changed("shop", {}, {"NOPE"});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().kind == ErrorKind::kNotFound);
  CHECK(contains(unknown.error().message, "gust env ls shop"));

  REQUIRE(store.store("shop", {}));
  CHECK_FALSE(std::filesystem::exists(tmp.path() / "env" / "shop.json"));
}

TEST_CASE("a damaged file is refused with its path, not read as empty") {
  TempDir tmp;
  gust::test::writeFile(tmp.path() / "env" / "shop.json", R"({"K": 1})");
  AppEnvStore store(tmp.path() / "env");
  auto r = store.load("shop");
  REQUIRE_FALSE(r);
  CHECK(contains(r.error().message, "shop.json"));
  gust::test::writeFile(tmp.path() / "env" / "shop.json", R"({"LD_PRELOAD": "/x.so"})");
  auto refused = store.load("shop");
  REQUIRE_FALSE(refused);
  CHECK(contains(refused.error().message, "LD_"));
}

TEST_CASE("a function's verify secret is required like required_env") {
  auto m = parseManifest(R"({"name": "shop", "functions": {"hook": {"routes": ["/hook"],
      "verify": {"scheme": "github", "secret": "env:HOOK_SECRET"}}}})");
  REQUIRE(m);
  auto missing = checkRequiredEnv(*m, AppEnv{});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message ==
        "app shop requires environment variables that are not set: HOOK_SECRET; set them with `gust env set shop "
        "HOOK_SECRET=...`");
  CHECK(checkRequiredEnv(*m, AppEnv{{"HOOK_SECRET", "s"}}).ok());
}
