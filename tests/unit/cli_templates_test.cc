#include "runtime/cli/app_templates.h"

#include <doctest/doctest.h>

#include "functions/manifest.h"
#include "tests/unit/cli_test_support.h"

using namespace gust;
using namespace gust::cli;
using gust::test::TempDir;

namespace {

std::string fileText(const std::vector<ProjectFile>& files, const std::string& path) {
  for (const auto& f : files) {
    if (f.path == path) return f.text;
  }
  FAIL("the template has no " << path);
  return "";
}

}  // namespace

TEST_CASE("every template renders a manifest the manifest parser accepts, named after the app") {
  for (const auto& kind : templateNames()) {
    CAPTURE(kind);
    auto files = renderTemplate(kind, "shop-api");
    REQUIRE(files.ok());
    auto manifest = parseManifest(fileText(*files, "gust.json"));
    REQUIRE_MESSAGE(manifest.ok(), manifest.error().message);
    CHECK(manifest->name == "shop-api");
    CHECK(manifest->module == "build/shop-api.so");
    for (const auto& f : *files) {
      for (const char* placeholder : {"{{name}}", "{{queue}}", "{{template}}"}) {
        CHECK_MESSAGE(f.text.find(placeholder) == std::string::npos, f.path << " still has " << placeholder);
      }
    }
  }
}

TEST_CASE("every function a template's manifest names is exported by its source") {
  for (const auto& kind : templateNames()) {
    CAPTURE(kind);
    auto files = renderTemplate(kind, "demo");
    REQUIRE(files.ok());
    auto manifest = parseManifest(fileText(*files, "gust.json"));
    REQUIRE(manifest.ok());
    std::string source = fileText(*files, "main.cpp");
    // A source that uses the SDK's JSON helpers includes <gust/json.hpp>, which they need.
    bool uses_json = source.find("json()") != std::string::npos || source.find("Response::json") != std::string::npos;
    CHECK(source.find(uses_json ? "#include <gust/json.hpp>" : "#include <gust/gust.hpp>") != std::string::npos);
    for (const auto& f : manifest->functions) {
      bool exported = source.find("GUST_FUNCTION(" + f.name + ")") != std::string::npos ||
                      source.find("GUST_QUEUE_FUNCTION(" + f.name + ")") != std::string::npos;
      CHECK_MESSAGE(exported, "function " << f.name << " is not exported by main.cpp");
    }
  }
}

TEST_CASE("the templates wire their triggers: a route, a schedule, a queue fed by a route") {
  auto http = parseManifest(fileText(*renderTemplate("http", "web"), "gust.json"));
  REQUIRE(http.ok());
  REQUIRE(http->functions.size() == 1);
  REQUIRE(http->functions[0].routes.size() == 1);
  CHECK(http->functions[0].routes[0].path == "/web/hello/{who}");

  auto timer = parseManifest(fileText(*renderTemplate("timer", "nightly"), "gust.json"));
  REQUIRE(timer.ok());
  REQUIRE(timer->functions[0].timer.has_value());
  CHECK(timer->functions[0].timer->schedule == "@every 1m");

  auto files = renderTemplate("queue", "jobs-app");
  auto queue = parseManifest(fileText(*files, "gust.json"));
  REQUIRE(queue.ok());
  const FunctionSpec* consumer = nullptr;
  for (const auto& f : queue->functions) {
    if (f.queue) consumer = &f;
  }
  REQUIRE(consumer != nullptr);
  CHECK(consumer->queue->queue == "jobs-app-jobs");
  // The route publishes to the very queue the consumer reads, and each message is acked.
  std::string source = fileText(*files, "main.cpp");
  CHECK(source.find("ctx.publish(\"jobs-app-jobs\"") != std::string::npos);
  CHECK(source.find("msg.ack()") != std::string::npos);
}

TEST_CASE("the project ignores its build output and the dev host's state") {
  auto files = renderTemplate("http", "web");
  std::string ignore = fileText(*files, ".gitignore");
  CHECK(ignore.find("build/") != std::string::npos);
  CHECK(ignore.find(".gust/") != std::string::npos);
  CHECK(fileText(*files, "README.md").find("gust dev") != std::string::npos);
}

TEST_CASE("a bad app name is refused with the rule it broke") {
  for (const char* bad : {"", "Shop", "1app", "my app", "a/b", "../x"}) {
    CAPTURE(bad);
    auto files = renderTemplate("http", bad);
    REQUIRE_FALSE(files.ok());
    CHECK(files.error().message.find("lower-case letters") != std::string::npos);
  }
  CHECK_FALSE(renderTemplate("http", std::string(64, 'a')).ok());
  CHECK(renderTemplate("http", std::string(63, 'a')).ok());
}

TEST_CASE("an unknown template is refused with the closest one and the list") {
  auto files = renderTemplate("qeue", "app");
  REQUIRE_FALSE(files.ok());
  CHECK(files.error().message.find("did you mean \"queue\"") != std::string::npos);
  CHECK(files.error().message.find("http, timer and queue") != std::string::npos);
  auto far = renderTemplate("graphql", "app");
  REQUIRE_FALSE(far.ok());
  CHECK(far.error().message.find("did you mean") == std::string::npos);
}

TEST_CASE("a project is written into a new or empty folder, and never over existing files") {
  TempDir tmp;
  auto files = renderTemplate("http", "web");
  REQUIRE(files.ok());

  auto fresh = tmp.path() / "new" / "web";
  REQUIRE(writeProject(fresh, *files).ok());
  CHECK(gust::test::readFile(fresh / "gust.json") == fileText(*files, "gust.json"));
  CHECK(std::filesystem::is_regular_file(fresh / ".gitignore"));

  auto empty = tmp.path() / "empty";
  std::filesystem::create_directories(empty);
  CHECK(writeProject(empty, *files).ok());

  auto taken = tmp.path() / "taken";
  gust::test::writeFile(taken / "notes.txt", "mine");
  auto refused = writeProject(taken, *files);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("not empty") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(taken / "gust.json"));

  auto file = tmp.path() / "a-file";
  gust::test::writeFile(file, "x");
  CHECK_FALSE(writeProject(file, *files).ok());
}

TEST_CASE("every template says its routes are public and tells how to require a key") {
  for (const auto& kind : templateNames()) {
    auto files = renderTemplate(kind, "app");
    REQUIRE(files.ok());
    CHECK(fileText(*files, "gust.json").find("\"auth\": \"public\"") != std::string::npos);
    CHECK(fileText(*files, "README.md").find("gust keys create app") != std::string::npos);
  }
}
