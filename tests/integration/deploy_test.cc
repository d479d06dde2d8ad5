// Deploys through the admin API: auth on every route, uploads checked before anything
// loads them, versions that survive a restart, a version that fails to start never taking
// traffic, and swaps and rollbacks under a steady stream of requests with zero failures.
// Real host, real worker processes, real files.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;

namespace {

const char* kManifest = R"({"name": "shop", "functions": {
  "echo": { "routes": [{"path": "/echo", "methods": ["GET", "POST"]}] }
}})";

httplib::Client admin(const Host& host, const std::string& token) {
  httplib::Client c = host.adminClient(std::chrono::seconds(30));
  if (!token.empty()) c.set_bearer_token_auth(token);
  return c;
}

httplib::Result deploy(const Host& host, const std::string& app, const std::string& manifest,
                       const std::string& module) {
  httplib::MultipartFormDataItems items = {
      {"manifest", manifest, "gust.json", "application/json"},
      {"module", module, app + ".so", "application/octet-stream"},
  };
  return admin(host, host.adminToken()).Post("/v1/apps/" + app + "/versions", items);
}

std::string detail(const httplib::Result& r) {
  if (!r) return "(no answer)";
  auto body = json::parse(r->body, nullptr, false);
  return body.is_object() && body.contains("detail") ? body["detail"].get<std::string>() : r->body;
}

}  // namespace

TEST_CASE("every admin route but the health checks needs the right token") {
  TempDir tmp;
  Host host({}, tmp.path());
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/apps"},          {"GET", "/v1/apps/shop"},         {"POST", "/v1/apps/shop/versions"},
      {"POST", "/v1/apps/shop/rollback"}, {"DELETE", "/v1/apps/shop"}, {"POST", "/v1/timers/shop/tick/run"},
  };
  for (const auto& route : routes) {
    const std::string& method = route.first;  // not a structured binding: CAPTURE's lambda
    const std::string& path = route.second;   // cannot capture one under clang
    CAPTURE(method);
    CAPTURE(path);
    for (const std::string& token : {std::string(), std::string("wrong-token")}) {
      httplib::Request req;
      req.method = method;
      req.path = path;
      auto r = admin(host, token).send(req);
      REQUIRE(r);
      CHECK(r->status == 401);
      CHECK(r->get_header_value("WWW-Authenticate") == "Bearer");
    }
    httplib::Request req;
    req.method = method;
    req.path = path;
    auto r = admin(host, host.adminToken()).send(req);
    REQUIRE(r);
    CHECK(r->status != 401);
    CHECK(r->status != 403);
  }
  CHECK(admin(host, "").Get("/healthz")->status == 200);
  CHECK(admin(host, "").Get("/readyz")->status == 200);
}

TEST_CASE("a deployed version serves at once, and again after the host restarts") {
  TempDir tmp;
  std::string module = readFile(env("GUST_FIXTURE_MISBEHAVE"));
  {
    Host host({}, tmp.path());
    auto r = deploy(host, "shop", kManifest, module);
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
    json body = json::parse(r->body);
    CHECK(body["version"] == "v1");
    CHECK(body["routes"][0]["path"] == "/echo");
    CHECK(body["routes"][0]["url"] == "http://127.0.0.1:" + std::to_string(host.port()) + "/echo");
    auto served = localClient(host.port()).Get("/echo");
    REQUIRE(served);
    CHECK(served->status == 200);
    CHECK(fs::exists(host.dataDir() / "apps" / "shop" / "v1" / "gust.json"));
    host.process().signal(SIGTERM);
    CHECK(host.process().wait().status == 0);
  }
  Host again({}, tmp.path());
  auto served = localClient(again.port()).Get("/echo");
  REQUIRE(served);
  CHECK(served->status == 200);
  auto described = admin(again, again.adminToken()).Get("/v1/apps/shop");
  REQUIRE(described);
  json app = json::parse(described->body);
  CHECK(app["version"] == "v1");
  CHECK(app["versions"].size() == 1);
  CHECK(app["versions"][0]["active"] == true);
}

TEST_CASE("uploads are checked before anything loads them, and each refusal says why") {
  TempDir tmp;
  Host host({}, tmp.path());
  std::string module = readFile(env("GUST_FIXTURE_MISBEHAVE"));

  auto not_elf = deploy(host, "shop", kManifest, "#!/bin/sh\necho hi\n");
  REQUIRE(not_elf);
  CHECK(not_elf->status == 400);
  CHECK(detail(not_elf).find("ELF") != std::string::npos);

  auto truncated = deploy(host, "shop", kManifest, module.substr(0, module.size() / 3));
  REQUIRE(truncated);
  CHECK(truncated->status == 400);

  std::string other_arch = module;
  other_arch[18] = static_cast<char>(0xb7);  // e_machine = EM_AARCH64
  other_arch[19] = 0x00;
  auto arch = deploy(host, "shop", kManifest, other_arch);
  REQUIRE(arch);
  CHECK(arch->status == 400);
  CHECK(detail(arch).find("machine") != std::string::npos);

  auto missing_fn = deploy(host, "shop", R"({"name": "shop", "functions": {"nosuch": {"routes": ["/x"]}}})", module);
  REQUIRE(missing_fn);
  CHECK(missing_fn->status == 400);
  CHECK(detail(missing_fn).find("gust_fn_nosuch") != std::string::npos);

  auto bad_manifest = deploy(host, "shop", R"({"name": "shop", "functoins": {}})", module);
  REQUIRE(bad_manifest);
  CHECK(bad_manifest->status == 400);
  CHECK(detail(bad_manifest).find("did you mean \"functions\"") != std::string::npos);

  auto wrong_name = deploy(host, "other", kManifest, module);
  REQUIRE(wrong_name);
  CHECK(wrong_name->status == 400);

  auto dotdot = admin(host, host.adminToken()).Post("/v1/apps/..%2Fetc/versions", "", "text/plain");
  REQUIRE(dotdot);
  CHECK(dotdot->status == 400);

  auto no_module = admin(host, host.adminToken())
                       .Post("/v1/apps/shop/versions",
                             httplib::MultipartFormDataItems{{"manifest", kManifest, "gust.json", "application/json"}});
  REQUIRE(no_module);
  CHECK(no_module->status == 400);
  CHECK(detail(no_module).find("\"module\"") != std::string::npos);

  auto not_multipart = admin(host, host.adminToken()).Post("/v1/apps/shop/versions", module, "application/octet-stream");
  REQUIRE(not_multipart);
  CHECK(not_multipart->status == 400);
  CHECK(detail(not_multipart).find("curl -F manifest=@gust.json") != std::string::npos);

  // Nothing of the refused uploads was kept or served.
  CHECK_FALSE(fs::exists(host.dataDir() / "apps" / "shop"));
  CHECK(localClient(host.port()).Get("/echo")->status == 404);
}

TEST_CASE("a module over the size limit is refused with 413") {
  TempDir tmp;
  Host host({}, tmp.path(), {"--max-module-bytes", "4096"});
  auto r = deploy(host, "shop", kManifest, readFile(env("GUST_FIXTURE_MISBEHAVE")));
  REQUIRE(r);
  CHECK(r->status == 413);
}

TEST_CASE("a version whose workers cannot start never takes traffic; the active one keeps serving") {
  TempDir tmp;
  Host host({}, tmp.path());
  REQUIRE(deploy(host, "shop", kManifest, readFile(env("GUST_FIXTURE_MISBEHAVE")))->status == 201);
  auto broken = deploy(host, "shop", R"({"name": "shop", "functions": {"echo": {"routes": ["/echo"]}}})",
                       readFile(env("GUST_FIXTURE_ABI_MISMATCH")));
  REQUIRE(broken);
  INFO(broken->body);
  // The ABI mismatch is found by the worker (the ELF check only sees symbols).
  CHECK(broken->status == 422);
  CHECK(detail(broken).find("ABI") != std::string::npos);
  auto served = localClient(host.port()).Get("/echo");
  REQUIRE(served);
  CHECK(served->status == 200);
  json app = json::parse(admin(host, host.adminToken()).Get("/v1/apps/shop")->body);
  CHECK(app["version"] == "v1");
}

TEST_CASE("deploys and rollbacks under a steady stream of requests fail none of them") {
  TempDir tmp;
  Host host({}, tmp.path());
  std::string module = readFile(env("GUST_FIXTURE_MISBEHAVE"));
  REQUIRE(deploy(host, "shop", kManifest, module)->status == 201);

  // jthreads: a failed REQUIRE below stops and joins them rather than aborting the test.
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::jthread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&](std::stop_token stop) {
      httplib::Client c = localClient(host.port(), std::chrono::seconds(20));
      while (!stop.stop_requested()) {
        auto r = c.Get("/echo");
        if (r && r->status == 200) ++ok;
        else ++failed;
      }
    });
  }
  std::set<std::string> pids;
  auto pidNow = [&] { return localClient(host.port()).Get("/echo")->get_header_value("X-Pid"); };
  pids.insert(pidNow());
  for (int round = 0; round < 3; ++round) {
    auto r = deploy(host, "shop", kManifest, module);
    REQUIRE(r);
    REQUIRE(r->status == 201);
    pids.insert(pidNow());
  }
  auto back = admin(host, host.adminToken()).Post("/v1/apps/shop/rollback", "", "application/json");
  REQUIRE(back);
  INFO(back->body);
  CHECK(back->status == 200);
  CHECK(json::parse(back->body)["version"] == "v3");
  auto to_v1 = admin(host, host.adminToken()).Post("/v1/apps/shop/rollback", R"({"version": "v1"})", "application/json");
  REQUIRE(to_v1);
  CHECK(json::parse(to_v1->body)["version"] == "v1");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto& t : clients) t.request_stop();
  for (auto& t : clients) t.join();
  MESSAGE(ok.load() << " requests through 3 deploys and 2 rollbacks");
  CHECK(failed == 0);
  CHECK(ok > 100);
  // Each swap moved traffic to a new version's worker.
  CHECK(pids.size() == 4);
  // Old versions drained and stopped: one worker left (plus the fork server).
  json app = json::parse(admin(host, host.adminToken()).Get("/v1/apps/shop")->body);
  CHECK(app["version"] == "v1");
  CHECK(app["versions"].size() == 4);
}

TEST_CASE("deleting an app stops its routes and removes its versions") {
  TempDir tmp;
  Host host({}, tmp.path());
  REQUIRE(deploy(host, "shop", kManifest, readFile(env("GUST_FIXTURE_MISBEHAVE")))->status == 201);
  auto removed = admin(host, host.adminToken()).Delete("/v1/apps/shop");
  REQUIRE(removed);
  CHECK(removed->status == 200);
  CHECK(localClient(host.port()).Get("/echo")->status == 404);
  CHECK_FALSE(fs::exists(host.dataDir() / "apps" / "shop"));
  auto again = admin(host, host.adminToken()).Delete("/v1/apps/shop");
  REQUIRE(again);
  CHECK(again->status == 404);
}

TEST_CASE("the host's default_* settings fill in what a deployed app's manifest leaves out, and the manifest wins") {
  TempDir tmp;
  Host host({}, tmp.path(), {"--default-timeout", "1500ms", "--default-memory-mb", "96"});
  std::string module = readFile(env("GUST_FIXTURE_MISBEHAVE"));
  REQUIRE(deploy(host, "shop", kManifest, module)->status == 201);
  json app = json::parse(admin(host, host.adminToken()).Get("/v1/apps/shop")->body);
  CHECK(app["functions"][0]["timeout_ms"] == 1500);
  CHECK(app["limits"]["worker_memory_mb"] == 96);
  // The app's own values beat the host's, after a restart too (the store path).
  REQUIRE(deploy(host, "own", R"({"name": "own", "memory_mb": 128, "functions": {
    "echo": { "routes": ["/own"], "timeout": "3s" }}})", module)->status == 201);
  host.process().signal(SIGTERM);
  REQUIRE(host.process().wait().status == 0);
  Host again({}, tmp.path(), {"--default-timeout", "1500ms", "--default-memory-mb", "96"});
  json own = json::parse(admin(again, again.adminToken()).Get("/v1/apps/own")->body);
  CHECK(own["functions"][0]["timeout_ms"] == 3000);
  CHECK(own["limits"]["worker_memory_mb"] == 128);
  json shop = json::parse(admin(again, again.adminToken()).Get("/v1/apps/shop")->body);
  CHECK(shop["functions"][0]["timeout_ms"] == 1500);
}

TEST_CASE("gust deploy of a module over 1 MiB reports its upload as one plain line when stderr is not a terminal") {
  TempDir tmp;
  fs::path placeholder = makeApp(tmp.path(), "fixtures", R"({"name": "fixtures", "functions": {"echo": {"routes": ["/fx"]}}})",
                                 env("GUST_FIXTURE_MISBEHAVE"));
  Host host({placeholder}, tmp.path());
  // Built already: a source, and the fixture module padded past 1 MiB (bytes after the ELF
  // file's sections, which neither the checks nor the loader read), newer than the source.
  writeFile(tmp.path() / "shop" / "shop.cc", "// built already\n");
  fs::path app = makeApp(tmp.path(), "shop", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  fs::path module = app / "build" / "shop.so";
  writeFile(module, readFile(module) + std::string(3u << 19, '\0'));
  fs::last_write_time(module, fs::file_time_type::clock::now() + std::chrono::hours(1));

  auto deployed = runGust({"deploy", app.string(), "--admin", host.adminUrl(), "--data-dir", host.dataDir().string()},
                          tmp.path());
  REQUIRE_MESSAGE(deployed.status == 0, deployed.err);
  CHECK(deployed.out.find("deployed shop") != std::string::npos);
  // Its size is the fixture's (larger in a sanitized build) and 1.5 MiB of padding.
  CHECK_MESSAGE(std::regex_search(deployed.err, std::regex("(^|\n)uploaded [1-9][0-9]*\\.[0-9] MiB\n")), deployed.err);
  CHECK(deployed.err.find('\r') == std::string::npos);
  CHECK(deployed.err.find('\033') == std::string::npos);
  CHECK(deployed.err.find("uploading") == std::string::npos);
}
