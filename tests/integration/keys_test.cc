// Function keys and private async results end to end (docs/security.md, "Function keys"):
// a real host with the misbehave fixture, keys made, listed and revoked through the real
// CLI, and requests over real sockets with and without them.
#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// "echo" and "say" need a key (the app's auth); "sleepy" overrides it and stays public.
const char* kManifest = R"({
  "name": "keyed",
  "auth": "key",
  "functions": {
    "echo":   { "routes": [{ "path": "/echo/{id}", "methods": ["GET", "POST"] }] },
    "say":    { "routes": [{ "path": "/say/{word}", "methods": ["POST"] }] },
    "sleepy": { "routes": [{ "path": "/sleep/{ms}", "methods": ["POST"] }], "auth": "public" }
  }
})";

struct Fixture {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "keyed", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host{{app}, tmp.path()};

  httplib::Client client() { return localClient(host.port()); }

  CommandResult gust(std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()});
    return runGust(args, tmp.path());
  }

  std::string createKey(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"keys", "create", "keyed"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult r = gust(args);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    std::string key = r.out;
    while (!key.empty() && key.back() == '\n') key.pop_back();
    REQUIRE(key.starts_with("gk_"));
    REQUIRE(key.find('\n') == std::string::npos);  // the key alone on stdout
    return key;
  }

  // Invocations of the app's function `function` the host has counted (gust_invocations_total).
  long invocations(const std::string& function) {
    auto r = host.adminClient().Get("/metrics", {{"Authorization", "Bearer " + host.adminToken()}});
    REQUIRE(r);
    REQUIRE(r->status == 200);
    long total = 0;
    std::istringstream lines(r->body);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("gust_invocations_total{") && line.find("app=\"keyed\"") != std::string::npos &&
          line.find("function=\"" + function + "\"") != std::string::npos) {
        total += std::stol(line.substr(line.rfind(' ') + 1));
      }
    }
    return total;
  }
};

httplib::Headers bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

}  // namespace

TEST_CASE("a keyed function answers 401 without a valid key and is not invoked") {
  Fixture f;
  auto none = f.client().Get("/echo/1");
  REQUIRE(none);
  CHECK(none->status == 401);
  CHECK(none->get_header_value("WWW-Authenticate") == R"(Bearer realm="gust")");
  CHECK(none->get_header_value("Content-Type") == "application/problem+json");
  json problem = json::parse(none->body);
  CHECK(problem["status"] == 401);
  CHECK(problem["detail"].get<std::string>().find("Authorization: Bearer KEY") != std::string::npos);

  auto wrong = f.client().Get("/echo/1", bearer("gk_" + std::string(43, 'A')));
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(wrong->get_header_value("WWW-Authenticate") == R"(Bearer realm="gust", error="invalid_token")");
  auto junk = f.client().Get("/echo/1", {{"x-gust-key", "not a key"}});
  REQUIRE(junk);
  CHECK(junk->status == 401);
  // Async requests are refused the same way, before anything is stored.
  auto async = f.client().Post("/echo/1", {{"Prefer", "respond-async"}}, "x", "text/plain");
  REQUIRE(async);
  CHECK(async->status == 401);

  auto say = f.client().Post("/say/x", "", "text/plain");
  REQUIRE(say);
  CHECK(say->status == 401);  // "say" takes the app's auth
  CHECK(f.invocations("echo") == 0);
  CHECK(f.invocations("say") == 0);

  // A valid key, and the counter moves: it would have moved for the refused requests too,
  // which all came before this one.
  std::string key = f.createKey();
  auto ok = f.client().Get("/echo/1", bearer(key));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  waitFor("the host to count the invocation", [&] { return f.invocations("echo") >= 1; }, 10s, f.host);
  CHECK(f.invocations("echo") == 1);
  // The function that overrides the app's auth is public.
  auto open = f.client().Post("/sleep/1", "", "text/plain");
  REQUIRE(open);
  CHECK(open->status == 200);
}

TEST_CASE("both key headers are accepted, and neither reaches the function") {
  Fixture f;
  std::string key = f.createKey({"--name", "ci"});
  auto by_bearer = f.client().Get("/echo/1", {{"Authorization", "Bearer " + key}, {"x-test", "t"}});
  REQUIRE(by_bearer);
  CHECK(by_bearer->status == 200);
  CHECK(by_bearer->get_header_value("X-Saw-Key") == "|");
  auto by_field = f.client().Get("/echo/2", {{"x-gust-key", key}});
  REQUIRE(by_field);
  CHECK(by_field->status == 200);
  CHECK(by_field->get_header_value("X-Saw-Key") == "|");
  // The scheme is case-insensitive (RFC 9110 section 11.1).
  auto lower = f.client().Get("/echo/3", {{"Authorization", "bearer " + key}});
  REQUIRE(lower);
  CHECK(lower->status == 200);
}

TEST_CASE("a public function never sees a function key, but keeps an Authorization of its own") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "open", R"({"name": "open", "functions": {
      "echo": {"routes": [{"path": "/echo/{id}", "methods": ["GET"]}]}}})", env("GUST_FIXTURE_MISBEHAVE"));
  Host host{{app}, tmp.path()};
  std::string key = "gk_" + std::string(43, 'C');
  auto with_key = localClient(host.port()).Get("/echo/1", {{"Authorization", "Bearer " + key}, {"x-gust-key", key}});
  REQUIRE(with_key);
  CHECK(with_key->status == 200);
  CHECK(with_key->get_header_value("X-Saw-Key") == "|");
  auto own = localClient(host.port()).Get("/echo/2", {{"Authorization", "Basic dXNlcjpwdw=="}});
  REQUIRE(own);
  CHECK(own->status == 200);
  CHECK(own->get_header_value("X-Saw-Key") == "|Basic dXNlcjpwdw==");
}

TEST_CASE("a key scoped to one function opens that function only") {
  Fixture f;
  std::string echo_only = f.createKey({"--function", "echo", "--name", "echo-only"});
  auto echo = f.client().Get("/echo/1", bearer(echo_only));
  REQUIRE(echo);
  CHECK(echo->status == 200);
  auto say = f.client().Post("/say/hi", bearer(echo_only), "", "text/plain");
  REQUIRE(say);
  CHECK(say->status == 401);
  CHECK(say->get_header_value("WWW-Authenticate").find("invalid_token") != std::string::npos);
  CHECK(f.invocations("say") == 0);
  // A scope naming a function the app lacks is refused when the key is made.
  CommandResult typo = f.gust({"keys", "create", "keyed", "--function", "ecoh"});
  CHECK(typo.status != 0);
  CHECK(typo.err.find("did you mean \"echo\"") != std::string::npos);
}

TEST_CASE("ls shows names and scopes but never a key, and revoke takes effect on the next request") {
  Fixture f;
  std::string all = f.createKey({"--name", "all"});
  std::string scoped = f.createKey({"--function", "echo", "--name", "scoped"});
  CommandResult ls = f.gust({"keys", "ls", "keyed"});
  REQUIRE_MESSAGE(ls.status == 0, ls.err);
  CHECK(ls.out.find("NAME") != std::string::npos);
  CHECK(ls.out.find("all") != std::string::npos);
  CHECK(ls.out.find("scoped") != std::string::npos);
  CHECK(ls.out.find("echo") != std::string::npos);
  CHECK(ls.out.find("gk_") == std::string::npos);
  auto api = f.host.adminClient().Get("/v1/apps/keyed/keys", {{"Authorization", "Bearer " + f.host.adminToken()}});
  REQUIRE(api);
  CHECK(api->body.find(all.substr(3)) == std::string::npos);
  CHECK(api->body.find(scoped.substr(3)) == std::string::npos);

  REQUIRE(f.client().Get("/echo/1", bearer(all))->status == 200);
  CommandResult revoked = f.gust({"keys", "revoke", "keyed", "all"});
  REQUIRE_MESSAGE(revoked.status == 0, revoked.err);
  auto after = f.client().Get("/echo/1", bearer(all));
  REQUIRE(after);
  CHECK(after->status == 401);
  CHECK(f.client().Get("/echo/1", bearer(scoped))->status == 200);
  CommandResult again = f.gust({"keys", "revoke", "keyed", "all"});
  CHECK(again.status != 0);
  CHECK(again.err.find("no key named all") != std::string::npos);

  // `gust rm` takes the app's keys with it.
  CommandResult rm = f.gust({"rm", "keyed"});
  REQUIRE_MESSAGE(rm.status == 0, rm.err);
  CHECK(rm.out.find("1 revoked") != std::string::npos);
  CommandResult none = f.gust({"keys", "ls", "keyed"});
  CHECK(none.out.find("has no keys") != std::string::npos);
}

TEST_CASE("an async result is private to the key that started it") {
  Fixture f;
  std::string mine = f.createKey({"--name", "mine"});
  std::string theirs = f.createKey({"--name", "theirs"});
  httplib::Headers start = bearer(mine);
  start.emplace("Prefer", "respond-async");
  auto accepted = f.client().Post("/echo/7", start, "payload", "text/plain");
  REQUIRE(accepted);
  REQUIRE(accepted->status == 202);
  std::string location = accepted->get_header_value("Location");
  std::string id = location.substr(location.rfind('/') + 1);
  CHECK(id.size() == 32);

  json state;
  waitFor("the async echo to finish", [&] {
    auto r = f.client().Get(location, bearer(mine));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    state = json::parse(r->body);
    return state["status"] == "succeeded";
  }, 20s, f.host);
  CHECK(state["caller"] == "key:mine");
  // The stored request carried no key to the function either.
  bool saw_nothing = false;
  for (const auto& h : state["response"]["headers"]) {
    if (h[0] == "X-Saw-Key" || h[0] == "x-saw-key") saw_nothing = h[1] == "|";
  }
  CHECK(saw_nothing);

  for (const httplib::Headers& other : {bearer(theirs), httplib::Headers{}, bearer("gk_" + std::string(43, 'B'))}) {
    auto r = f.client().Get(location, other);
    REQUIRE(r);
    CHECK(r->status == 404);
  }
}

TEST_CASE("an idempotency key is the caller's own, and reusing it for another request is 422") {
  Fixture f;
  std::string mine = f.createKey({"--name", "mine"});
  std::string theirs = f.createKey({"--name", "theirs"});
  auto send = [&](const std::string& key, const std::string& body) {
    httplib::Headers h = bearer(key);
    h.emplace("Prefer", "respond-async");
    h.emplace("Idempotency-Key", "order-1");
    auto r = f.client().Post("/echo/1", h, body, "text/plain");
    REQUIRE(r);
    return r;
  };
  auto first = send(mine, "a");
  REQUIRE(first->status == 202);
  std::string id = first->get_header_value("X-Gust-Invocation-Id");
  auto same = send(mine, "a");
  CHECK((same->status == 202 || same->status == 200));
  CHECK(same->get_header_value("X-Gust-Invocation-Id") == id);
  auto changed = send(mine, "b");
  CHECK(changed->status == 422);
  CHECK(changed->get_header_value("Content-Type") == "application/problem+json");
  CHECK(changed->body.find(id) == std::string::npos);
  // Another caller with the same key gets an invocation of its own.
  auto other = send(theirs, "a");
  CHECK(other->status == 202);
  CHECK(other->get_header_value("X-Gust-Invocation-Id") != id);
}
