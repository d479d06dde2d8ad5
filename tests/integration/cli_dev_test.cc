// `gust dev` through the real binary: it serves an init'ed project, reloads on a saved
// change without failing a single request, keeps the last good version when a build
// fails, and takes its host down with it on Ctrl-C.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

// Saves the way editors do: a temp file beside the original, renamed over it.
void save(const fs::path& file, const std::string& text) {
  fs::path tmp = file.parent_path() / ("." + file.filename().string() + ".swp");
  writeFile(tmp, text);
  fs::rename(tmp, file);
}

int portOf(const std::string& line) {
  size_t at = line.find("http://127.0.0.1:");
  REQUIRE_MESSAGE(at != std::string::npos, line);
  return std::stoi(line.substr(at + 17));
}

}  // namespace

TEST_CASE("gust dev serves, reloads without dropping requests, survives a broken build, and stops on Ctrl-C") {
  TempDir tmp;
  fs::path dir = tmp.path() / "live";
  REQUIRE(runGust({"init", "live", "--dir", dir.string()}, tmp.path()).status == 0);
  Process dev({env("GUST_BIN"), "dev", dir.string(), "--port", "0"}, tmp.path() / "dev.stderr");
  int port = portOf(dev.waitForLine("serving live", std::chrono::seconds(120)));
  dev.waitForLine("/live/hello/{who}");
  dev.waitForLine("watching");

  httplib::Client client = localClient(port);
  auto first = client.Get("/live/hello/world");
  REQUIRE(first);
  CHECK(first->body == "hello, world\n");

  // Requests keep coming through the reload; every one must get one version's answer. A
  // jthread, so that a failed wait below stops and joins it rather than aborting the test.
  std::atomic<int> ok{0}, failed{0};
  std::string failure;
  std::jthread load([&](std::stop_token stop) {
    httplib::Client c = localClient(port, std::chrono::seconds(30));
    while (!stop.stop_requested()) {
      auto r = c.Get("/live/hello/world");
      if (r && r->status == 200 && (r->body == "hello, world\n" || r->body == "howdy, world\n")) {
        ++ok;
      } else {
        if (failed++ == 0) failure = r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error());
      }
    }
  });
  std::string source = readFile(dir / "main.cpp");
  std::string edited = source;
  edited.replace(edited.find("\"hello, \""), 9, "\"howdy, \"");
  save(dir / "main.cpp", edited);
  dev.waitForLine("reloaded in ", std::chrono::seconds(120));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  load.request_stop();
  load.join();
  CHECK_MESSAGE(failed.load() == 0, "first failure: " << failure);
  CHECK(ok.load() > 10);
  auto second = client.Get("/live/hello/world");
  REQUIRE(second);
  CHECK(second->body == "howdy, world\n");

  // A broken save: the compiler's error is shown, the last good version keeps answering.
  save(dir / "main.cpp", edited + "\nthis is not C++;\n");
  CHECK(dev.waitForLine("build failed", std::chrono::seconds(120)).find("still serving live") != std::string::npos);
  CHECK(dev.stderrText().find("error") != std::string::npos);
  auto still = client.Get("/live/hello/world");
  REQUIRE(still);
  CHECK(still->body == "howdy, world\n");

  // Ctrl-C: gust dev stops its host and exits 0; nothing listens on the port afterwards.
  dev.signal(SIGINT);
  Exited e = dev.wait(std::chrono::seconds(30));
  CHECK(e.exited);
  CHECK(e.status == 0);
  httplib::Client after = localClient(port);
  after.set_connection_timeout(1, 0);
  CHECK_FALSE(after.Get("/live/hello/world"));
}

TEST_CASE("gust dev refuses a folder that is not an app") {
  TempDir tmp;
  auto r = runGust({"dev", tmp.path().string(), "--port", "0"}, tmp.path());
  CHECK(r.status == 1);
  CHECK(r.err.find("gust.json") != std::string::npos);
}
