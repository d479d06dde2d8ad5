// The deploy upload against a real HTTP server (cpp-httplib's, standing in for the host's
// admin API): the multipart body it parses, the token, the progress, and each answer.
#include "runtime/cli/deploy_client.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include "functions/manifest.h"
#include "tests/support/http_client.h"
#include "tests/support/server_thread.h"
#include "tests/unit/cli_test_support.h"

using namespace gust;
using namespace gust::cli;
using gust::test::TempDir;
using gust::test::writeFile;

namespace {

// An admin API stand-in on 127.0.0.1:<free port>, answering from `handler` on its own thread.
class FakeAdmin {
 public:
  explicit FakeAdmin(httplib::Server::Handler handler) {
    http_.server().Post(R"(/v1/apps/([^/]+)/versions)", std::move(handler));
    http_.start();
  }
  std::string url() const { return http_.url(); }

 private:
  gust::test::ServerThread http_;
};

constexpr const char* kManifest = R"({"name": "shop", "functions": {"hello": {"routes": [{"path": "/shop/hi"}]}}})";

// A module with bytes a careless encoder would break: NULs, CRLF, and a boundary look-alike.
std::string awkwardModule() {
  std::string bytes("\x7f" "ELF\0\0\r\n--gust-\r\n\r\n", 16);
  for (int i = 0; i < 300000; ++i) bytes += static_cast<char>(i * 7);
  return bytes;
}

AdminTarget targetFor(const FakeAdmin& admin, const TempDir& tmp) {
  unsetenv("GUST_ADMIN_TOKEN");
  writeFile(tmp.path() / "data" / "admin.token", "s3cret\n");
  return AdminTarget{admin.url(), tmp.path() / "data", "", std::nullopt};
}

DeployUpload shopUpload() {
  DeployUpload upload;
  upload.app = "shop";
  upload.manifest = kManifest;
  upload.module = awkwardModule();
  upload.module_name = "shop.so";
  return upload;
}

}  // namespace

TEST_CASE("a multipart body parses back into its parts byte for byte") {
  std::vector<FormPart> items = {{"manifest", kManifest, "gust.json", "application/json"},
                                           {"module", awkwardModule(), "shop.so", "application/octet-stream"}};
  std::string boundary = chooseBoundary(items);
  CHECK(boundary.size() >= 20);
  MultipartBody body = encodeMultipart(items, boundary);
  CHECK(body.content_type == "multipart/form-data; boundary=" + boundary);

  httplib::MultipartFormDataItems seen;
  gust::test::ServerThread server;
  server.server().Post("/up", [&seen](const httplib::Request& req, httplib::Response& res) {
    for (const auto& [name, file] : req.files) seen.push_back(file);
    res.status = 204;
  });
  server.start();
  auto res = gust::test::localClient(server.port()).Post("/up", body.body, body.content_type.c_str());
  server.stop();
  REQUIRE(res);
  CHECK(res->status == 204);
  REQUIRE(seen.size() == 2);
  for (const auto& item : items) {
    auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.name == item.name; });
    REQUIRE(it != seen.end());
    CHECK(it->filename == item.filename);
    CHECK(it->content_type == item.content_type);
    CHECK(it->content == item.content);
  }
}

TEST_CASE("the boundary never occurs in the content") {
  std::vector<FormPart> items = {{"a", "--gust-0000", "", ""}};
  for (int i = 0; i < 50; ++i) CHECK(items[0].content.find(chooseBoundary(items)) == std::string::npos);
}

TEST_CASE("an upload reads the app's manifest and its built module") {
  TempDir tmp;
  writeFile(tmp.path() / "gust.json", kManifest);
  auto missing = readDeployUpload(tmp.path());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("gust build") != std::string::npos);

  writeFile(tmp.path() / "build" / "shop.so", awkwardModule());
  auto upload = readDeployUpload(tmp.path());
  REQUIRE(upload.ok());
  CHECK(upload->app == "shop");
  CHECK(upload->manifest == kManifest);
  CHECK(upload->module == awkwardModule());
  CHECK(upload->module_name == "shop.so");

  writeFile(tmp.path() / "gust.json", R"({"name": "shop", "functions": {"hello": {"rutes": []}}})");
  auto typo = readDeployUpload(tmp.path());
  REQUIRE_FALSE(typo.ok());
  CHECK(typo.error().message.find("rutes") != std::string::npos);
}

TEST_CASE("an upload carries the GraphQL schema file's text inside the manifest") {
  TempDir tmp;
  writeFile(tmp.path() / "gust.json", R"({"name": "shop", "functions": {"hello": {"routes": ["/hello"]}},
    "graphql": {"schema": "schema.graphql"}})");
  writeFile(tmp.path() / "build" / "shop.so", awkwardModule());
  auto unreadable = readDeployUpload(tmp.path());
  REQUIRE_FALSE(unreadable.ok());
  CHECK(unreadable.error().message.find("schema.graphql") != std::string::npos);

  const std::string sdl = "type Query { ok: Boolean }\ntype Subscription { tick: Int @topic(name: \"ticks\") }\n";
  writeFile(tmp.path() / "schema.graphql", sdl);
  auto upload = readDeployUpload(tmp.path());
  REQUIRE_MESSAGE(upload.ok(), upload.error().message);
  // What the host stores is whole without the file.
  auto stored = parseManifest(upload->manifest);
  REQUIRE_MESSAGE(stored.ok(), stored.error().message);
  REQUIRE(stored->graphql);
  CHECK(stored->graphql->sdl == sdl);
  REQUIRE(stored->graphql->schema);
  CHECK(stored->graphql->bindings.at("tick").topic == "ticks");
}

TEST_CASE("a deploy posts both parts with the token and reads the version and routes") {
  TempDir tmp;
  std::string auth, app, manifest, module;
  FakeAdmin admin([&](const httplib::Request& req, httplib::Response& res) {
    auth = req.get_header_value("Authorization");
    app = req.matches[1];
    manifest = req.get_file_value("manifest").content;
    module = req.get_file_value("module").content;
    res.status = 201;
    res.set_content(R"({"app":"shop","version":"v2","http_url":"http://127.0.0.1:8080",
                        "routes":[{"methods":["GET","HEAD"],"path":"/shop/hi","function":"hello"}],
                        "timers":[{"function":"tick","schedule":"@every 1m"}],"queues":[],"took_ms":41.5})",
                    "application/json");
  });
  size_t uploading = 0, sent = 0;
  int starting = 0;
  DeployProgress progress{[&uploading](size_t bytes) { uploading = bytes; }, [&starting] { ++starting; },
                          [&sent](size_t bytes) { sent = bytes; }};
  auto deployed = deployUpload(targetFor(admin, tmp), shopUpload(), progress);
  REQUIRE_MESSAGE(deployed.ok(), deployed.error().message);
  CHECK(auth == "Bearer s3cret");
  CHECK(app == "shop");
  CHECK(manifest == kManifest);
  CHECK(module == awkwardModule());
  CHECK(uploading > awkwardModule().size());
  CHECK(starting == 1);
  CHECK(sent == uploading);
  CHECK(deployed->version == "v2");
  CHECK(deployed->took_ms == 41.5);
  REQUIRE(deployed->routes.size() == 1);
  CHECK(deployed->routes[0].methods == std::vector<std::string>{"GET", "HEAD"});
  auto lines = routeLines(deployed->routes, deployed->http_url);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == "GET,HEAD http://127.0.0.1:8080/shop/hi  -> hello");
  CHECK(deployed->triggers == std::vector<std::string>{"timer  tick  @every 1m"});
}

TEST_CASE("a version whose workers fail to start comes back with the worker's own error") {
  TempDir tmp;
  FakeAdmin admin([](const httplib::Request&, httplib::Response& res) {
    res.status = 422;
    res.set_content(R"({"type":"about:blank","title":"Unprocessable Entity","status":422,
                        "detail":"init failed: cannot open /etc/shop.conf"})",
                    "application/problem+json");
  });
  auto deployed = deployUpload(targetFor(admin, tmp), shopUpload(), {});
  REQUIRE_FALSE(deployed.ok());
  CHECK(deployed.error().message.find("init failed: cannot open /etc/shop.conf") != std::string::npos);
  CHECK(deployed.error().message.find("keeps serving") != std::string::npos);
}

TEST_CASE("a refused token and an unreachable host say what to do") {
  TempDir tmp;
  {
    FakeAdmin admin([](const httplib::Request&, httplib::Response& res) { res.status = 401; });
    auto refused = deployUpload(targetFor(admin, tmp), shopUpload(), {});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("GUST_ADMIN_TOKEN") != std::string::npos);
  }
  std::string url;
  {
    FakeAdmin closed([](const httplib::Request&, httplib::Response&) {});
    url = closed.url();
  }
  writeFile(tmp.path() / "data" / "admin.token", "s3cret\n");
  auto unreachable = deployUpload(AdminTarget{url, tmp.path() / "data", "", std::nullopt}, shopUpload(), {});
  REQUIRE_FALSE(unreachable.ok());
  CHECK(unreachable.error().message.find("gust serve") != std::string::npos);
}

TEST_CASE("route lines show bare paths when the host's address is unknown") {
  auto routes = routesFrom(nlohmann::json::parse(R"([{"methods":["POST"],"path":"/a/jobs","function":"submit"}, 7])"));
  REQUIRE(routes.size() == 1);
  CHECK(routeLines(routes, "")[0] == "POST    /a/jobs  -> submit");
}
