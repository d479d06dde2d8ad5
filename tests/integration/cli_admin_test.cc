// The CLI against a running `gust serve` over its admin API (docs/admin-api.md): deploy,
// ls, describe, logs, rollback, rm, queue and invocations, through the real binary, with
// an app made by `gust init`.
#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"

using namespace gust::test;
using nlohmann::json;

namespace {

// The host needs an app of its own to start; this one stays out of the way under /fx.
constexpr const char* kPlaceholderManifest = R"({"name": "fixtures", "functions": {"echo": {"routes": ["/fx/echo"]}}})";

struct Cluster {
  TempDir tmp;
  fs::path placeholder = makeApp(tmp.path(), "fixtures", kPlaceholderManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host{{placeholder}, tmp.path()};

  // Runs `gust ARGS... --admin URL --data-dir DIR` (the flags go after a `--` free list).
  CommandResult gust(std::vector<std::string> args) {
    args.push_back("--admin");
    args.push_back(host.adminUrl());
    args.push_back("--data-dir");
    args.push_back(host.dataDir().string());
    return runGust(args, tmp.path());
  }

  fs::path init(const std::string& name, const std::string& kind = "http") {
    fs::path dir = tmp.path() / name;
    auto r = runGust({"init", name, "--template", kind, "--dir", dir.string()}, tmp.path());
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return dir;
  }

  std::string get(const std::string& path, int* status = nullptr) {
    auto r = localClient(host.port(), std::chrono::seconds(30)).Get(path.c_str());
    if (status) *status = r ? r->status : -1;
    return r ? r->body : "<no answer>";
  }
};

void replaceInFile(const fs::path& file, const std::string& from, const std::string& to) {
  std::string text = readFile(file);
  auto at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from << " is not in " << file);
  text.replace(at, from.size(), to);
  writeFile(file, text);
}

}  // namespace

TEST_CASE("deploy builds, uploads, prints the version and route URL; the route answers; ls, describe, logs show it") {
  Cluster c;
  fs::path dir = c.init("greeter");
  auto deployed = c.gust({"deploy", dir.string()});
  REQUIRE_MESSAGE(deployed.status == 0, deployed.err);
  CHECK(deployed.out.find("deployed greeter ") != std::string::npos);
  CHECK_MESSAGE(deployed.out.find("/greeter/hello/{who}") != std::string::npos, deployed.out);
  CHECK(c.get("/greeter/hello/world") == "hello, world\n");

  auto ls = c.gust({"ls"});
  CHECK(ls.status == 0);
  CHECK(ls.out.find("greeter") != std::string::npos);
  auto ls_json = c.gust({"ls", "--json"});
  auto apps = json::parse(ls_json.out, nullptr, false);
  REQUIRE(apps.is_object());
  bool listed = false;
  for (const auto& a : apps["apps"]) listed = listed || a.value("name", "") == "greeter";
  CHECK(listed);

  auto describe = c.gust({"describe", "greeter", "--json"});
  REQUIRE_MESSAGE(describe.status == 0, describe.err);
  auto d = json::parse(describe.out, nullptr, false);
  REQUIRE(d.is_object());
  CHECK(d["versions"].size() == 1);
  auto text = c.gust({"describe", "greeter"});
  CHECK(text.out.find("/greeter/hello/{who}") != std::string::npos);

  // The function logs "greeting world"; the line carries its function and invocation id.
  waitFor(
      "`gust logs greeter` to show the hello function's \"greeting world\"",
      [&] {
        auto logs = c.gust({"logs", "greeter"});
        return logs.out.find(" hello ") != std::string::npos && logs.out.find("greeting world") != std::string::npos;
      },
      std::chrono::seconds(10), c.host);

  auto missing = c.gust({"describe", "nope"});
  CHECK(missing.status == 1);
}

TEST_CASE("logs --follow prints new lines as they come and ends cleanly on Ctrl-C") {
  Cluster c;
  fs::path dir = c.init("tail");
  REQUIRE(c.gust({"deploy", dir.string()}).status == 0);
  Process follow({env("GUST_BIN"), "logs", "tail", "--follow", "--admin", c.host.adminUrl(),
                  "--data-dir", c.host.dataDir().string()},
                 c.tmp.path() / "follow.stderr");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(c.get("/tail/hello/later") == "hello, later\n");
  follow.waitForLine("greeting later", std::chrono::seconds(10));
  follow.signal(SIGINT);
  Exited e = follow.wait(std::chrono::seconds(5));
  CHECK(e.exited);
  CHECK(e.status == 0);
}

TEST_CASE("a version that cannot start is refused with the worker's error; rollback and rm") {
  Cluster c;
  fs::path dir = c.init("shop");
  REQUIRE(c.gust({"deploy", dir.string()}).status == 0);
  replaceInFile(dir / "main.cpp", "hello, ", "v2, ");
  auto v2 = c.gust({"deploy", dir.string()});
  REQUIRE_MESSAGE(v2.status == 0, v2.err);
  CHECK(c.get("/shop/hello/x") == "v2, x\n");

  // The manifest names a function the module does not export: its workers cannot start.
  replaceInFile(dir / "gust.json", "\"hello\": {", "\"ghost\": { \"routes\": [\"/shop/ghost\"] }, \"hello\": {");
  auto broken = c.gust({"deploy", dir.string()});
  CHECK(broken.status == 1);
  // The upload's ELF check finds it before any worker starts.
  CHECK_MESSAGE(broken.err.find("gust_fn_ghost") != std::string::npos, broken.err);
  CHECK(c.get("/shop/hello/x") == "v2, x\n");

  auto back = c.gust({"rollback", "shop"});
  REQUIRE_MESSAGE(back.status == 0, back.err);
  CHECK(back.out.find("shop is at ") != std::string::npos);
  CHECK(c.get("/shop/hello/x") == "hello, x\n");

  auto removed = c.gust({"rm", "shop"});
  REQUIRE_MESSAGE(removed.status == 0, removed.err);
  CHECK(removed.out.find("removed shop") != std::string::npos);
  CHECK(removed.out.find("/shop/hello/{who}") != std::string::npos);
  int status = 0;
  c.get("/shop/hello/x", &status);
  CHECK(status == 404);
  CHECK(c.gust({"describe", "shop"}).status == 1);
}

TEST_CASE("queue send, ls, peek, redrive and purge, with the queue template's consumer") {
  Cluster c;
  fs::path dir = c.init("jobs", "queue");
  auto deployed = c.gust({"deploy", dir.string()});
  REQUIRE_MESSAGE(deployed.status == 0, deployed.err);

  auto sent = c.gust({"queue", "send", "jobs-jobs", "--data", R"({"task": 1})", "--id", "job-1"});
  REQUIRE_MESSAGE(sent.status == 0, sent.err);
  CHECK(sent.out.find("queued message") != std::string::npos);
  auto again = c.gust({"queue", "send", "jobs-jobs", "--data", R"({"task": 1})", "--id", "job-1"});
  CHECK(again.out.find("already queued") != std::string::npos);
  // The consumer acks it and logs it.
  waitFor("`gust logs jobs` to show the consumed message",
          [&] { return c.gust({"logs", "jobs"}).out.find("\"task\":1") != std::string::npos; },
          std::chrono::seconds(15), c.host);

  // Not JSON: the consumer dead-letters it.
  REQUIRE(c.gust({"queue", "send", "jobs-jobs", "--data", "not json"}).status == 0);
  auto deadCount = [&] {
    auto ls = json::parse(c.gust({"queue", "ls", "--json"}).out, nullptr, false);
    for (const auto& q : ls.value("queues", json::array())) {
      if (q.value("name", "") == "jobs-jobs") return q.value("dead", 0);
    }
    return -1;
  };
  waitFor("one dead letter on jobs-jobs", [&] { return deadCount() == 1; }, std::chrono::seconds(15), c.host);
  auto table = c.gust({"queue", "ls"});
  CHECK(table.out.find("jobs-jobs") != std::string::npos);
  auto peek = c.gust({"queue", "peek", "jobs-jobs.dead"});
  CHECK_MESSAGE(peek.out.find("not json") != std::string::npos, peek.out);
  CHECK(peek.out.find("the job is not JSON") != std::string::npos);

  // Delayed messages wait in the queue, where peek sees them (a binary body by its exact
  // size) and purge removes them.
  REQUIRE(c.gust({"queue", "send", "jobs-jobs", "--data", R"({"later": true})", "--delay", "1h"}).status == 0);
  REQUIRE(c.gust({"queue", "send", "jobs-jobs", "--data", "\xff\xfe\x01\x02", "--delay", "1h"}).status == 0);
  auto waiting = c.gust({"queue", "peek", "jobs-jobs", "--json"});
  CHECK(json::parse(waiting.out, nullptr, false)["messages"].size() == 2);
  auto shown = c.gust({"queue", "peek", "jobs-jobs"});
  CHECK_MESSAGE(shown.out.find("(binary, 4 bytes)") != std::string::npos, shown.out);
  auto purged = c.gust({"queue", "purge", "jobs-jobs"});
  CHECK(purged.out.find("purged 2 ") != std::string::npos);

  auto redriven = c.gust({"queue", "redrive", "jobs-jobs.dead"});
  REQUIRE_MESSAGE(redriven.status == 0, redriven.err);
  CHECK(redriven.out.find("moved 1 messages from jobs-jobs.dead back to jobs-jobs") != std::string::npos);
}

TEST_CASE("invocations lists recent records and shows one with its logs") {
  Cluster c;
  fs::path dir = c.init("rec");
  REQUIRE(c.gust({"deploy", dir.string()}).status == 0);
  CHECK(c.get("/rec/hello/one") == "hello, one\n");
  // Records are written in batches, a moment after the answer.
  json records;
  waitFor(
      "`gust invocations rec` to list a record",
      [&] {
        auto list = c.gust({"invocations", "rec", "--json"});
        json body = json::parse(list.out, nullptr, false);
        if (list.status != 0 || !body.is_object()) return false;
        records = body["invocations"];
        return records.is_array() && !records.empty();
      },
      std::chrono::seconds(5), c.host);
  std::string id = records[0].value("id", "");
  CHECK(records[0].value("function", "") == "hello");
  auto table = c.gust({"invocations", "rec"});
  CHECK(table.out.find(id) != std::string::npos);
  auto shown = c.gust({"invocations", "show", id});
  REQUIRE_MESSAGE(shown.status == 0, shown.err);
  CHECK(shown.out.find("rec/hello") != std::string::npos);
  CHECK(shown.out.find("greeting one") != std::string::npos);
  auto failed = c.gust({"invocations", "rec", "--failed", "--json"});
  CHECK(json::parse(failed.out, nullptr, false)["invocations"].empty());
}
